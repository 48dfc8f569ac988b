"""The data commands as a script uses them: import, download and scenario, in process.

Bad input exits with status 2, one line on stderr and no traceback, and leaves the database
(or the lack of one) as it was.
"""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path

import duckdb
import pytest

from recsys.algorithms import REGISTRY
from recsys.cli.main import main
from recsys.data.scenario_library import BUILTIN, CLAIMS
from recsys.engine import Engine
from tests.datafiles import write_lab, write_movielens

SMALL = {"n_items": 300, "n_users": 120, "sessions_per_user": 20}


def run(*args, db: Path | None = None, capsys) -> tuple[int, str, str]:
    code = main([*(["--db", str(db)] if db else []), *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str) -> None:
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def lab_contents(db: Path) -> dict:
    """Row counts of every table, the meta and the aliases: what a command may write."""
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        contents = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in tables}
        contents["meta"] = con.execute("SELECT * FROM meta ORDER BY ALL").fetchall()
        contents["aliases"] = con.execute("SELECT * FROM aliases ORDER BY ALL").fetchall()
    return contents


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def meta(db: Path) -> dict[str, str]:
    return dict(query(db, "SELECT key, value FROM meta"))


@pytest.fixture
def lab_files(tmp_path) -> Path:
    return write_lab(tmp_path / "data")


def break_it(folder: Path) -> None:
    """Two bad rows at the end of interactions.csv (lines 816 and 817)."""
    with (folder / "interactions.csv").open("a", encoding="utf-8") as handle:
        handle.write("ann,999,like,,1600000000\nann,1,poke,,1600000000\n")


# -- import -------------------------------------------------------------------------------


def test_dry_run_prints_the_report_and_creates_no_database(tmp_path, lab_files, capsys):
    db = tmp_path / "new.duckdb"
    code, out, err = run("import", "--format", "lab", lab_files, "--dry-run", db=db, capsys=capsys)
    assert code == 0 and err == ""
    assert out.startswith("OK: 60 items, 40 users, 814 interactions")
    assert "rows read: items.csv 60, interactions.csv 814" in out
    assert "Dry run: nothing changed." in out

    code, out, _ = run(
        "import", "--format", "lab", lab_files, "--dry-run", "--json", db=db, capsys=capsys
    )
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["n_problems"] == 0
    assert report["summary"]["interactions"] == 814 and report["summary"]["users"] == 40
    assert not db.exists()


def test_a_malformed_file_is_reported_and_changes_nothing(db_path, tmp_path, lab_files, capsys):
    break_it(lab_files)
    before = lab_contents(db_path)
    code, out, err = run("import", "--format", "lab", lab_files, db=db_path, capsys=capsys)
    one_line_error(code, err)
    assert "2 problems in the lab files; nothing was imported" in err
    assert out.startswith("Rejected: 2 problems")
    assert "interactions.csv line 816: unknown item '999'" in out
    assert "interactions.csv line 817:" in out and "poke" in out
    assert lab_contents(db_path) == before

    code, out, err = run(
        "import", "--format", "lab", lab_files, "--json", db=db_path, capsys=capsys
    )
    one_line_error(code, err)
    report = json.loads(out)
    assert (report["ok"], report["n_problems"], report["summary"]) == (False, 2, {})
    assert [(p["file"], p["line"]) for p in report["problems"]] == [
        ("interactions.csv", 816),
        ("interactions.csv", 817),
    ]
    assert lab_contents(db_path) == before

    missing = tmp_path / "never.duckdb"
    code, _, err = run("import", "--format", "lab", lab_files, db=missing, capsys=capsys)
    one_line_error(code, err)
    assert not missing.exists()


def test_import_into_a_new_database_seeds_it_with_the_dataset(tmp_path, lab_files, capsys):
    db = tmp_path / "new.duckdb"
    code, out, err = run("import", "--format", "lab", lab_files, "--json", db=db, capsys=capsys)
    assert code == 0, err
    info = json.loads(out)
    assert (info["items"], info["users"]) == (60, 40)
    assert info["events"] + info["held_out"] == 814 and info["report"]["ok"]
    stored = meta(db)
    assert (stored["world"], stored["dataset_format"]) == ("dataset", "lab")
    assert stored["dataset_path"] == str(lab_files.resolve())
    assert query(db, "SELECT count(*), count(external_id) FROM items") == [(60, 60)]
    assert query(db, "SELECT DISTINCT kind FROM users") == [("imported",)]
    # Seeded directly: the only versions are the dataset's seed versions, numbered from 1,
    # so no generated world was trained first and then thrown away.
    versions = query(db, "SELECT version_id, algorithm, trigger FROM model_versions ORDER BY 1")
    assert [v[0] for v in versions] == list(range(1, len(REGISTRY) + 1))
    assert {v[1] for v in versions} == set(REGISTRY) and {v[2] for v in versions} == {"seed"}


def test_import_into_an_existing_lab_replaces_it(db_path, tmp_path, capsys):
    folder = write_movielens(tmp_path / "ml")
    assert meta(db_path)["world"] == "movies"
    code, out, err = run("import", "--format", "movielens", folder, db=db_path, capsys=capsys)
    assert code == 0, err
    assert out.startswith("Imported ml: 60 items, 40 users,") and (
        "held out; mf trained on it, the other algorithms when first used." in out
    )
    assert meta(db_path)["world"] == "dataset"
    assert query(db_path, "SELECT count(*) FROM items") == [(60,)]
    assert query(db_path, "SELECT count(*) FROM users WHERE user_id = 'alice'") == [(0,)]
    code, out, _ = run("recommend", "--user", "7", "--json", db=db_path, capsys=capsys)
    assert code == 0 and len(json.loads(out)["items"]) == 10


def test_map_reads_a_file_with_other_headers(tmp_path, lab_files, capsys):
    plain = tmp_path / "plain.duckdb"
    assert run("import", "--format", "lab", lab_files, db=plain, capsys=capsys)[0] == 0
    interactions = lab_files / "interactions.csv"
    lines = interactions.read_text(encoding="utf-8").split("\n")
    lines[0] = "customer,product,action,score,when"
    interactions.write_text("\n".join(lines), encoding="utf-8")

    mapped = tmp_path / "mapped.duckdb"
    code, out, err = run("import", "--format", "lab", lab_files, db=mapped, capsys=capsys)
    one_line_error(code, err)
    # The timestamp is optional (issue 16, kind 6): only the ids are missing.
    assert "missing columns user_id, item_id; the header has" in out and not mapped.exists()

    pairs = {"user_id": "customer", "item_id": "product", "kind": "action", "value": "score"}
    pairs["timestamp"] = "when"
    flags = [f"--map=interactions.csv:{ours}={theirs}" for ours, theirs in pairs.items()]
    code, out, err = run("import", "--format", "lab", lab_files, *flags, db=mapped, capsys=capsys)
    assert code == 0, err
    assert json.loads(meta(mapped)["dataset_mapping"]) == {"interactions.csv": pairs}
    log = "SELECT seq, ts, user_id, item_id, kind, value FROM events ORDER BY seq"
    assert query(mapped, log) == query(plain, log)


BAD_IMPORTS = [
    ("--map", "interactions.csv=user_id"),
    ("--map", "interactions.csv:user_id"),
    ("--map", ":user_id=customer"),
    ("--format", "csvish"),
    ("--path", "nowhere"),
]


@pytest.mark.parametrize("bad", BAD_IMPORTS, ids=lambda b: " ".join(b))
def test_bad_import_arguments_exit_2_with_one_line(db_path, tmp_path, lab_files, bad, capsys):
    fmt, path, extra = "lab", lab_files, []
    if bad[0] == "--format":
        fmt = bad[1]
    elif bad[0] == "--path":
        path = tmp_path / bad[1]
    else:
        extra = list(bad)
    before = lab_contents(db_path)
    code, out, err = run("import", "--format", fmt, path, *extra, db=db_path, capsys=capsys)
    one_line_error(code, err)
    assert out == "" and lab_contents(db_path) == before
    new = tmp_path / "new.duckdb"
    code, _, err = run("import", "--format", fmt, path, *extra, db=new, capsys=capsys)
    one_line_error(code, err)
    assert not new.exists()


# -- download -----------------------------------------------------------------------------


@pytest.fixture
def offline(monkeypatch):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    monkeypatch.setenv("RECSYS_DOWNLOAD_URL", f"http://127.0.0.1:{port}/ml-latest-small.zip")


def test_download_offline_says_so_on_one_line(offline, db_path, tmp_path, capsys):
    db = tmp_path / "never.duckdb"
    target = tmp_path / "downloads"
    code, out, err = run("download", "movielens-small", "--dir", target, db=db, capsys=capsys)
    one_line_error(code, err)
    assert "looks offline" in err and "python -m recsys import --format movielens" in err
    assert out == "" and not db.exists()
    assert not target.exists() or not [p for p in target.rglob("*") if p.is_file()]

    before = lab_contents(db_path)
    code, out, err = run(
        "download", "movielens-small", "--dir", target, "--import", db=db_path, capsys=capsys
    )
    one_line_error(code, err)
    assert "looks offline" in err and lab_contents(db_path) == before


def test_download_of_an_unknown_dataset_exits_2(offline, tmp_path, capsys):
    db = tmp_path / "never.duckdb"
    code, out, err = run("download", "movielens-huge", "--dir", tmp_path, db=db, capsys=capsys)
    one_line_error(code, err)
    assert "unknown dataset 'movielens-huge'; choose one of movielens-small" in err
    assert out == "" and not db.exists()


# -- scenario -----------------------------------------------------------------------------


def small_scenario(name: str = "small-bias") -> dict:
    """popularity-bias with a small world and a short A/B test."""
    setup = copy.deepcopy(BUILTIN["popularity-bias"]) | {"name": name}
    setup["world"] = setup["world"] | {"sizes": SMALL}
    setup["experiments"][0].update(users=40, sessions=3)
    return setup


def test_scenario_list_and_show(db_path, tmp_path, capsys):
    code, out, _ = run("scenario", "list", db=db_path, capsys=capsys)
    lines = out.splitlines()
    assert code == 0 and len(lines) == len(BUILTIN)
    for line, (name, builtin) in zip(lines, BUILTIN.items(), strict=True):
        assert line.split()[:2] == [name, "built-in"] and builtin["title"] in line
        assert not line.startswith("*")

    code, out, _ = run("scenario", "show", "taste-drift", db=db_path, capsys=capsys)
    shown = json.loads(out)
    assert code == 0 and shown["name"] == "taste-drift"
    assert shown["policy"] == BUILTIN["taste-drift"]["policy"]
    assert shown["policy"]["drift_detector"] == "page_hinkley"

    # A file is shown without opening (or creating) any database.
    file = tmp_path / "small.json"
    file.write_text(json.dumps(small_scenario()), encoding="utf-8")
    db = tmp_path / "never.duckdb"
    code, out, err = run("scenario", "show", file, "--json", db=db, capsys=capsys)
    assert code == 0, err
    assert json.loads(out)["world"]["sizes"] == SMALL and not db.exists()


def test_scenario_load_save_then_load_the_saved_file_elsewhere(db_path, tmp_path, capsys):
    file = tmp_path / "small.json"
    file.write_text(json.dumps(small_scenario()), encoding="utf-8")
    code, out, err = run("scenario", "load", file, db=db_path, capsys=capsys)
    assert code == 0, err
    assert out.startswith("Loaded scenario small-bias (Popularity bias): Movies, 300 items")
    assert "experiment popularity vs mf: " in out
    assert meta(db_path)["scenario"] == "small-bias"

    saved = tmp_path / "saved.json"
    code, out, err = run(
        "scenario", "save", "small-bias", "--title", "Small", "--output", saved,
        db=db_path, capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    assert out.strip() == f"saved scenario small-bias in the lab and {saved}"
    setup = json.loads(saved.read_text(encoding="utf-8"))
    assert setup["title"] == "Small" and setup["experiments"][0]["users"] == 40

    code, out, _ = run("scenario", "list", db=db_path, capsys=capsys)
    starred = [line for line in out.splitlines() if line.startswith("*")]
    assert [line.split()[1:3] for line in starred] == [["small-bias", "saved"]]

    other = tmp_path / "other.duckdb"
    Engine.create(other, "movies", 1, n_items=50, n_users=10, sessions_per_user=2).close()
    code, _, err = run("scenario", "load", saved, db=other, capsys=capsys)
    assert code == 0, err
    for user in ("alice", "sim-0003"):
        lists = [
            json.loads(run("recommend", "--user", user, "--json", db=db, capsys=capsys)[1])
            for db in (db_path, other)
        ]
        assert [i["item"] for i in lists[0]["items"]] == [i["item"] for i in lists[1]["items"]]
    numbers = (
        "SELECT arm, count(*), sum(clicked::INT), sum(true_click) FROM impressions "
        "GROUP BY arm ORDER BY arm"
    )
    assert query(other, numbers) == query(db_path, numbers)

    code, out, _ = run("scenario", "delete", "small-bias", db=db_path, capsys=capsys)
    assert code == 0 and out.strip() == "deleted scenario small-bias"
    code, out, _ = run("scenario", "list", db=db_path, capsys=capsys)
    assert "small-bias" not in out


BAD_SCENARIO_COMMANDS = [
    ("load", "no-such-scenario"),
    ("load", "{broken}.json"),
    ("load", "{unknown-field}.json"),
    ("load", "{missing}.json"),
    ("show", "no-such-scenario"),
    ("save", "Bad Name"),
    ("save", "cold-start"),
    ("delete", "cold-start"),
    ("delete", "no-such-scenario"),
    ("load",),
    ("frobnicate",),
    ("check", "no-such-scenario"),
    ("check", "{no-claims}.json"),
    ("check",),  # the lab holds no scenario
]


@pytest.mark.parametrize("args", BAD_SCENARIO_COMMANDS, ids=lambda a: " ".join(a))
def test_bad_scenario_commands_exit_2_and_change_nothing(db_path, tmp_path, args, capsys):
    files = {
        "{broken}.json": "{not json",
        "{unknown-field}.json": json.dumps(small_scenario() | {"colour": "red"}),
        "{no-claims}.json": json.dumps(small_scenario()),  # a saved scenario claims nothing
    }
    args = list(args)
    if args[-1] in files:
        path = tmp_path / "bad.json"
        path.write_text(files[args[-1]], encoding="utf-8")
        args[-1] = str(path)
    elif args[-1] == "{missing}.json":
        args[-1] = str(tmp_path / "missing.json")
    before = lab_contents(db_path)
    code, out, err = run("scenario", *args, db=db_path, capsys=capsys)
    one_line_error(code, err)
    assert out == "" and lab_contents(db_path) == before


def test_scenario_drift_still_runs(db_path, capsys):
    events = query(db_path, "SELECT count(*) FROM events")[0][0]
    code, out, err = run(
        "scenario", "drift", "--before", "3", "--after", "3", "--json", db=db_path, capsys=capsys
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["start_seq"] == events < report["shift_seq"] <= report["end_seq"]
    assert len(report["shifts"]) == 2


def builtin_file(folder: Path, name: str, **changes) -> Path:
    """A built-in under its own name (so with its claims) on a small world, as a file."""
    setup = copy.deepcopy(BUILTIN[name]) | {"name": name, **changes}
    setup["world"] = setup["world"] | {"sizes": SMALL}
    for run in setup.get("run", []):
        if "autopilot" in run:
            run["autopilot"]["steps"] = 10
    path = folder / f"{name}.json"
    path.write_text(json.dumps(setup), encoding="utf-8")
    return path


def test_scenario_check_exits_0_when_the_claims_hold_and_1_when_one_does_not(
    db_path, tmp_path, capsys
):
    # Popularity bias, its experiment shrunk: all three claims hold on the small world (the
    # filter bubble's fan runs out of Sci-Fi films there).
    experiments = [
        e | {"users": 60, "sessions": 5} for e in BUILTIN["popularity-bias"]["experiments"]
    ]
    bias = builtin_file(tmp_path, "popularity-bias", experiments=experiments)
    code, out, err = run("scenario", "check", bias, "--json", db=db_path, capsys=capsys)
    assert code == 0, err
    results = json.loads(out)
    assert [r["claim"] for r in results] == [c.text for c in CLAIMS["popularity-bias"]]
    for result, claim in zip(results, CLAIMS["popularity-bias"], strict=True):
        assert result["passed"] is True and result["threshold"] == claim.threshold
        assert isinstance(result["measured"], float)
    assert meta(db_path)["scenario"] == "popularity-bias"  # checking loads it

    # Without a name: the lab's scenario, measured as it is now.
    code, out, err = run("scenario", "check", db=db_path, capsys=capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Scenario popularity-bias, on the lab as it is: 3 of 3 claims hold."
    assert all(line.startswith("holds: ") for line in lines[1:]) and len(lines) == 4

    # Loading reports the claims too.
    code, out, err = run("scenario", "load", bias, db=db_path, capsys=capsys)
    assert code == 0, err
    assert "\n3 of 3 claims hold\nholds: Popularity's top 10s" in out

    # A taste drift with no drift in it: its claims cannot hold.
    no_drift = builtin_file(tmp_path, "taste-drift", run=[])
    with pytest.raises(SystemExit) as stop:
        run("scenario", "check", no_drift, db=db_path, capsys=capsys)
    assert stop.value.code == 1
    out, err = capsys.readouterr()
    assert err == "" and out.startswith("Scenario taste-drift, loaded anew: 0 of 4 claims hold.")
    assert "\nFAILS: It raises an alarm after the shift: not measured, needs ≥ 1 (" in out
    with pytest.raises(SystemExit) as stop:
        run("scenario", "check", "--json", db=db_path, capsys=capsys)
    assert stop.value.code == 1
    results = json.loads(capsys.readouterr().out)
    assert [r["passed"] for r in results] == [False] * 4
    assert all(r["measured"] is None and "no taste shift" in r["note"] for r in results)
