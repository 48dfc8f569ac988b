"""CLI parity (issue 18): what the pages do, a script does with `--json`: the score breakdown,
the parameter sweep, a visit's context and the canary, with the same numbers as the pages."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager

import duckdb
import pytest

from recsys.cli.main import main
from recsys.engine import Engine
from recsys.lifecycle.policies import canary_bucket


def run(capsys, db, *args):
    code = main(["--db", str(db), *args])
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys, db, *args):
    code, out, err = run(capsys, db, *args)
    assert code == 0, err
    return json.loads(out) if "--json" in args else out


def refused(capsys, db, *args) -> str:
    """The one line a refused command prints; asserts it wrote no event."""
    before = events(db)
    code, out, err = run(capsys, db, *args)
    assert (code, out) == (2, ""), err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert events(db) == before
    return err


@contextmanager
def lab(db):
    """The lab's engine, closed after (the CLI opens the file again afterwards)."""
    engine = Engine.open(db)
    try:
        yield engine
    finally:
        engine.close()


def events(db) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM events").fetchall()[0][0]


def query(db, sql: str, params=None) -> list:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.mark.parametrize("algorithm", ["mf", "item_knn", "linucb"])
def test_explain_is_the_engines_breakdown_and_its_parts_add_up(db_path, capsys, algorithm):
    ok(capsys, db_path, "interact", "--user", "ada", "--item", "3", "--kind", "like")
    info = ok(capsys, db_path, "explain", "--user", "ada", "--item", "7", "--algorithm", algorithm,
              "--json")  # fmt: skip
    with lab(db_path) as engine:
        expected = engine.explain("ada", 7, algorithm)
        title = engine.item_title(7)
    assert (info["item"], info["title"], info["algorithm"]) == ("7", title, algorithm)
    assert info["score"] == pytest.approx(expected.score, abs=1e-12)
    assert [(p["name"], p["value"]) for p in info["parts"]] == list(expected.parts.items())
    assert sum(p["value"] for p in info["parts"]) == pytest.approx(info["score"], abs=1e-9)
    leads = [p["name"] for p in info["parts"] if p["lead"]]
    assert leads == ([expected.lead] if expected.lead else [])  # none when nothing is positive
    assert info["reason"] == expected.reason
    assert [r["item"] for r in info["related"]] == [str(i) for i, _ in expected.related]
    text = ok(capsys, db_path, "explain", "--user", "ada", "--item", "7", "--algorithm", algorithm)
    assert text.startswith(f"Why {title} [7] scores {expected.score:+.3f} for ada ({algorithm}")
    assert expected.reason in text
    assert [
        line[2:].rsplit("  ", 1)[0].strip() for line in text.splitlines() if line[:2] == "* "
    ] == leads


def test_explain_refuses_an_unknown_item_or_user_id_with_one_line(db_path, capsys):
    assert "unknown item '300'" in refused(
        capsys, db_path, "explain", "--user", "ada", "--item", "300"
    )
    assert "user" in refused(capsys, db_path, "explain", "--user", "a\tb", "--item", "3")


def test_the_cli_explains_and_sweeps_with_the_pages_numbers(db_path, lab_app, capsys):
    """The same lab, first through the CLI, then through the pages (the app then holds the
    file): the Simulator's "Explain the score of" #1 and the Evaluation page's sweep."""
    top = ok(capsys, db_path, "recommend", "--user", "alice", "--k", "1", "--json")["items"][0]
    explained = ok(capsys, db_path, "explain", "--user", "alice", "--item", top["item"], "--json")
    swept = ok(capsys, db_path, "sweep", "--algorithm", "item_knn", "--param", "neighbours",
               "--values", "2,20", "--json")  # fmt: skip
    app = lab_app.run()
    assert not app.exception
    panel = next(m.value for m in app.markdown if m.value.startswith("**Why #1 is"))
    assert f"Score {explained['score']:+.3f}," in panel
    shown = re.findall(r"\| ([+-]\d+\.\d{3}) \|", panel)
    assert shown == [f"{p['value']:+.3f}" for p in explained["parts"]]

    app.switch_page("views/evaluation.py").run()
    app.selectbox(key="sweep_algorithm").set_value("item_knn").run()
    app.selectbox(key="sweep_parameter").set_value("neighbours").run()
    app.text_input(key="sweep_values").set_value("2, 20")
    app.button(key="sweep_run").click().run()
    assert not app.exception
    _, _, page = app.session_state["sweep_result"]
    assert swept["split"] == "random 20%" and len(swept["points"]) == len(page) == 2
    for point, row in zip(swept["points"], page.to_dict("records"), strict=True):
        assert point["seconds"] >= point["fit seconds"] > 0  # each point's time, measured
        for name, value in row.items():
            if name not in ("seconds", "fit seconds"):  # timings differ run to run
                assert point[name] == (None if value is None else pytest.approx(value)), name


def test_sweep_prints_each_point_and_refuses_bad_values(db_path, capsys):
    text = ok(capsys, db_path, "sweep", "--algorithm", "mf", "--param", "factors", "--values",
              "4,8", "--split", "temporal")  # fmt: skip
    lines = text.splitlines()
    assert "leave last 1" in lines[0] and "factors" in lines[1] and "seconds" in lines[1]
    assert [line.split()[0] for line in lines[2:]] == ["4", "8"]
    for args, says in [
        (("--param", "factors", "--values", "4,x"), "give int values"),
        (("--param", "nope", "--values", "4"), "no parameter 'nope'; choose one of factors"),
        (("--param", "factors", "--values", "4,100000"), "factors must be between"),
        (("--param", "factors", "--values", ","), "at least one value"),
        (("--param", "factors", "--values", "4", "--k", "0"), "k must be"),
    ]:
        assert says in refused(capsys, db_path, "sweep", "--algorithm", "mf", *args)


def test_a_visits_context_reaches_linucb_and_the_log(db_path, capsys):
    def scores(*context):
        args = ("recommend", "--user", "ada", "--algorithm", "linucb", "--json")
        ranking = ok(capsys, db_path, *args, *(("--context", *context) if context else ()))
        return [(r["item"], r["score"]) for r in ranking["items"]]

    mobile = scores("device=mobile", "time_of_day=night")
    with lab(db_path) as engine:
        expected = engine.recommend(
            "ada", 10, "linucb", {"device": "mobile", "time_of_day": "night"}
        )
    assert mobile == [(str(r.item), r.score) for r in expected.items]
    assert scores("device=tv", "time_of_day=morning") != mobile  # the context changes scores
    ok(capsys, db_path, "interact", "--user", "ada", "--item", "5", "--kind", "like",
       "--algorithm", "linucb", "--context", "device=mobile")  # fmt: skip
    stored = query(db_path, "SELECT context FROM events ORDER BY seq DESC LIMIT 1")[0][0]
    assert json.loads(stored) == {"device": "mobile"}  # as the Simulator stores it
    for context, says in [
        ("device=phone", "choose one of desktop, mobile, tv"),
        ("devce=mobile", "the lab's context has device, time_of_day, day_type"),
        ("mobile", "write KEY=VALUE"),
    ]:
        assert says in refused(capsys, db_path, "recommend", "--user", "ada", "--context", context)
    # repeated --context flags add up, as a script writes them
    flags = ("--context", "device=mobile", "--context", "time_of_day=night", "--json")
    two_flags = ok(capsys, db_path, "recommend", "--user", "ada", "--algorithm", "linucb", *flags)
    assert [(r["item"], r["score"]) for r in two_flags["items"]] == scores(*flags[1::2])
    # a repeated key would keep only its last value, silently
    assert "--context device is given twice" in refused(
        capsys, db_path, "interact", "--user", "ada", "--item", "5", "--kind", "like",
        "--context", "device=mobile", "device=tv",
    )  # fmt: skip
    assert "--context device is given twice" in refused(
        capsys, db_path, "recommend", "--user", "ada", "--context", "device=mobile",
        "--context", "device=tv",
    )  # fmt: skip


def test_explain_says_when_the_user_has_no_history(db_path, capsys):
    """A user with no events gets the score any new visitor gets, and explain says so."""
    text = ok(capsys, db_path, "explain", "--user", "newcomer", "--item", "7")
    assert text.endswith(
        "newcomer has no events in this lab yet: any new visitor gets this score.\n"
    )
    assert (
        ok(capsys, db_path, "explain", "--user", "newcomer", "--item", "7", "--json")["has_history"]
        is False
    )
    ok(capsys, db_path, "interact", "--user", "newcomer", "--item", "3", "--kind", "like")
    info = ok(capsys, db_path, "explain", "--user", "newcomer", "--item", "7", "--json")
    assert info["has_history"] is True
    assert "no events" not in ok(capsys, db_path, "explain", "--user", "newcomer", "--item", "7")


def test_json_may_come_before_the_command(db_path, capsys):
    after = ok(capsys, db_path, "recommend", "--user", "ada", "--k", "3", "--json")
    code = main(["--db", str(db_path), "--json", "recommend", "--user", "ada", "--k", "3"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "") and json.loads(out) == after


def test_canary_set_serves_the_share_and_clear_stops_it_with_an_audit_trail(db_path, capsys):
    trained = ok(capsys, db_path, "versions", "train", "--algorithm", "popularity", "--json")
    number, key = trained["version"], trained["version_id"]  # popularity's v2, and its key
    if trained["promoted"]:  # the gate let it serve: the canary needs another version
        listed = ok(capsys, db_path, "versions", "list", "--algorithm", "popularity", "--json")
        other = next(v for v in listed if v["version_id"] != key)
        number, key = other["version"], other["version_id"]
    status = ok(capsys, db_path, "canary", "set", "--algorithm", "popularity", "--version",
                f"v{number}", "--share", "40", "--json")  # fmt: skip
    assert (status["candidate"], status["share"], status["serving"]) == (number, 40.0, True)
    assert ok(capsys, db_path, "policy", "--json")["canary_share"] == 40.0
    inside = next(u for u in (f"u{i}" for i in range(100)) if canary_bucket(u) < 40)
    outside = next(u for u in (f"u{i}" for i in range(100)) if canary_bucket(u) >= 40)
    for user in (inside, outside):
        ok(capsys, db_path, "interact", "--user", user, "--item", "4", "--kind", "like",
           "--algorithm", "popularity")  # fmt: skip
    served = dict(query(db_path, "SELECT user_id, served_by FROM events ORDER BY seq DESC LIMIT 2"))
    assert served[inside] == f"popularity:candidate:{key}"
    assert served[outside].startswith("popularity:production:")
    live = ok(capsys, db_path, "canary", "show", "--algorithm", "popularity", "--json")["live"]
    assert {r["arm"] for r in live} == {"candidate", "production"}

    cleared = ok(capsys, db_path, "canary", "clear", "--algorithm", "popularity", "--json")
    assert (cleared["candidate"], cleared["share"], cleared["serving"]) == (None, 0.0, False)
    assert ok(capsys, db_path, "policy", "--json")["canary_share"] == 0.0
    moves = query(
        db_path,
        "SELECT from_version, to_version, actor, reason FROM alias_history "
        "WHERE algorithm = 'popularity' AND alias = 'candidate' ORDER BY move_id",
    )
    assert moves[-1][:3] == (key, None, "user")  # the candidate alias let go, by the user
    canary = query(
        db_path,
        "SELECT from_version, to_version FROM alias_history "
        "WHERE algorithm = 'popularity' AND alias = 'canary' ORDER BY move_id",
    )
    assert canary[0] == (None, key) and canary[-1] == (key, None)  # set, then cleared


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("set", "--version", "v1", "--share", "30"), "v1 is mf's production already"),
        (("set", "--version", "item_knn@v1", "--share", "30"), "not a version of --algorithm mf"),
        (("set", "--version", "99", "--share", "30"), "mf has no version v99"),
        (("set", "--version", "x", "--share", "30"), "a version such as 3, v3 or mf@v3"),
        (("set", "--version", "vv1", "--share", "30"), "a version such as 3, v3 or mf@v3"),
        (("set", "--version", "2", "--share", "0"), "above 0 and at most 100"),
        (("set", "--version", "2", "--share", "nan"), "above 0 and at most 100"),
        (("set", "--share", "30"), "canary set needs --version V and --share"),
        (("clear", "--share", "30"), "canary clear takes no --version or --share"),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, tuple) else "",
)
def test_bad_canary_input_is_one_line_and_changes_nothing(db_path, capsys, args, says):
    before = query(db_path, "SELECT count(*) FROM alias_history")
    assert says in refused(capsys, db_path, "canary", *args)
    assert query(db_path, "SELECT count(*) FROM alias_history") == before


def test_recommend_log_and_interact_request_id_credit_the_impression(db_path, capsys):
    """As the Simulator does in a live experiment: the arm's list is logged as impressions
    under a request id, and an event on it, given that id, is credited to its impression."""
    assert "no live experiment runs" in refused(
        capsys, db_path, "recommend", "--user", "ada", "--log"
    )
    ok(
        capsys,
        db_path,
        "experiment",
        "create",
        "live1",
        "--arms",
        "mf,popularity",
        "--mode",
        "live",
    )
    # the experiment fixes the list's length; a different --k is refused before anything is logged
    assert "leave out --k or give --k 10" in refused(
        capsys, db_path, "recommend", "--user", "ada", "--log", "--k", "5"
    )
    assert query(db_path, "SELECT count(*) FROM impressions") == [(0,)]
    shown = ok(capsys, db_path, "recommend", "--user", "ada", "--log", "--k", "10", "--json")
    exposure, items = shown["exposure"], [r["item"] for r in shown["items"]]
    request = exposure["request_id"]
    assert exposure["experiment"] == "live1" and shown["algorithm"] == exposure["algorithm"]
    logged = query(
        db_path,
        "SELECT user_id, CAST(item_id AS VARCHAR), arm FROM impressions WHERE request_id = ? "
        "ORDER BY position",
        [request],
    )
    assert logged == [("ada", item, exposure["arm"]) for item in items]
    other = "popularity" if exposure["algorithm"] == "mf" else "mf"
    like = ("--kind", "like", "--request-id")
    absent = next(str(i) for i in range(300) if str(i) not in items)
    for args, says in [
        (("--user", "ada", "--item", items[1], *like, str(request + 1000)), "unknown request id"),
        (("--user", "bob", "--item", items[1], *like, str(request)), "shown to another user"),
        (("--user", "ada", "--item", absent, *like, str(request)), f"item '{absent}' was not in"),
        (("--user", "ada", "--item", items[1], *like, "x"), "invalid int value: 'x'"),
        (
            ("--user", "ada", "--item", items[1], *like, str(request), "--algorithm", other),
            f"leave out --algorithm or give {exposure['algorithm']}",
        ),
    ]:
        assert says in refused(capsys, db_path, "interact", *args)
    step = ok(
        capsys,
        db_path,
        "interact",
        "--user",
        "ada",
        "--item",
        items[1],
        *like,
        str(request),
        "--json",
    )
    assert step["event"]["item"] == items[1] and step["after"]["algorithm"] == exposure["algorithm"]
    credited = query(
        db_path,
        "SELECT CAST(item_id AS VARCHAR) FROM impressions WHERE request_id = ? AND liked",
        [request],
    )
    assert credited == [(items[1],)]
    ok(capsys, db_path, "experiment", "stop", "live1")
    assert "not a running live experiment" in refused(
        capsys, db_path, "interact", "--user", "ada", "--item", items[2], *like, str(request)
    )


def test_a_db_that_held_no_lab_is_said_once_on_stderr(tmp_path, capsys):
    """A mistyped --db would otherwise answer from a freshly seeded lab without a word."""
    path = tmp_path / "typo.duckdb"
    code, out, err = run(capsys, path, "history", "--limit", "1")
    assert code == 0 and out
    assert err == (
        f"note: {path} held no lab, so a new one was seeded with the default world "
        "(check --db if you meant another file)\n"
    )
    assert run(capsys, path, "history", "--limit", "1")[2] == ""  # the lab exists now
