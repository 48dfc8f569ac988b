"""Factors trained outside the lab become an mf version (issue 20, docs/spark.md), without Spark:
the folder is written with pyarrow as `spark-train` writes it. The imported version scores
exactly Spark's dot product, falls back for users and items without vectors, and serves,
compares and promotes like any version; a bad folder is one line, exit 2, the lab unchanged.
(tests/test_spark.py runs the real round trip through PySpark.)"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from recsys.cli.main import main
from recsys.data.export import export_lab
from recsys.data.spark_train import export_identity
from recsys.engine import Engine
from recsys.lifecycle.policies import canary_bucket
from tests.badinput import assert_bad_input, case
from tests.datafiles import write_factors

RANK = 4


@pytest.fixture(scope="module")
def lab_facts(small_world_file, tmp_path_factory):
    """The small world's users (in log order), item ids and last seq."""
    path = tmp_path_factory.mktemp("facts") / "lab.duckdb"
    shutil.copy(small_world_file, path)
    engine = Engine.open(path)
    try:
        users = engine.store.events().user
        acted = list(dict.fromkeys(users.tolist()))
        export_lab(engine, path.parent / "export")
        log = export_identity(path.parent / "export" / "events.parquet", engine.last_seq)
        facts = {"users": acted, "items": list(engine.ids.keys), "seq": engine.last_seq}
        return facts | {"log": log}
    finally:
        engine.close()


def factors(lab_facts, seed: int = 3) -> tuple[dict, dict, dict]:
    """Vectors for 30 of the users who acted and the first 200 items; the rest have none."""
    rng = np.random.default_rng(seed)
    users = {u: rng.normal(0, 0.5, RANK).tolist() for u in lab_facts["users"][:30]}
    items = {i: rng.normal(0, 0.5, RANK).tolist() for i in lab_facts["items"][:200]}
    manifest = {
        "rank": RANK,
        "trained_through_seq": lab_facts["seq"],
        "implicitPrefs": True,
        "regParam": 0.1,
        "maxIter": 5,
        "spark_version": "4.3.0",
        "log": dict(lab_facts["log"]),  # as spark-train computes it on the export (DuckDB)
    }
    return users, items, manifest


def cli(capsys, db, *args) -> dict:
    """`python -m recsys --db DB ARGS --json`, in this process: its JSON."""
    assert main(["--db", str(db), *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_imported_factors_score_sparks_dot_product_and_fall_back_without_one(
    capsys, db_path, lab_facts, tmp_path
):
    users, items, manifest = factors(lab_facts)
    folder = write_factors(tmp_path / "factors", users, items, manifest)
    info = cli(capsys, db_path, "versions", "import-factors", str(folder))
    assert info["trigger"] == (
        "trained on Spark (ALS implicit, rank 4, regParam 0.1, 5 iterations, Spark 4.3.0)"
    )
    listed = {
        r["version"]: r for r in cli(capsys, db_path, "versions", "list", "--algorithm", "mf")
    }
    assert listed[info["version"]]["trigger"] == info["trigger"]
    assert listed[info["version"]]["parent"] == 1  # the production it was imported beside
    assert listed[info["version"]]["trained_through_seq"] == lab_facts["seq"]

    engine = Engine.open(db_path)
    try:
        version = engine.version_store.version(info["version_id"], params=True)
        model = engine.host.from_version(version)
        rows = np.array([engine.ids.row(i) for i in items])
        y = np.array(list(items.values()), dtype=np.float32).astype(np.float64)
        for user, x in users.items():
            want = y @ np.array(x, dtype=np.float32).astype(np.float64)
            assert np.allclose(model.score(user, rows), want, rtol=0, atol=1e-5)
        seen = set(engine.store.events(user=lab_facts["users"][0]).item.tolist())
        others = np.setdiff1d(np.arange(engine.catalog.n), rows)
        assert np.all(model.score(lab_facts["users"][0], others) == 0.0)  # no vector: 0
        # Users without a vector (one who acted, and a stranger) start from the average
        # person: half the mean of the imported user vectors, mf's newcomer rule.
        mean = 0.5 * np.array(list(users.values()), dtype=np.float32).astype(np.float64).mean(0)
        for user in (lab_facts["users"][40], "someone new"):
            assert np.allclose(model.score(user, rows), y @ mean, rtol=0, atol=1e-9)
    finally:
        engine.close()

    # It compares, serves and recommends like any version.
    compared = cli(capsys, db_path, "versions", "compare", "mf@v1", f"mf@v{info['version']}")
    assert compared["config"]["factors"] == {"a": 32, "b": RANK}
    canary = cli(
        capsys, db_path, "canary", "set", "--version", f"mf@v{info['version']}", "--share", "20"
    )
    assert canary["candidate"] == info["version"]
    # explain speaks for the model that serves the user: in the canary's share, the candidate
    inside = next(u for u in lab_facts["users"][:30] if canary_bucket(u) < 20)
    listed = cli(capsys, db_path, "recommend", "--user", inside, "--k", "1")["items"][0]
    why = cli(capsys, db_path, "explain", "--user", inside, "--item", listed["item"])
    assert why["score"] == pytest.approx(listed["score"], abs=1e-9)
    cli(capsys, db_path, "versions", "promote", f"mf@v{info['version']}", "--force")
    user = lab_facts["users"][0]
    shown = cli(capsys, db_path, "recommend", "--user", user, "--k", "5")
    x = np.array(users[user], dtype=np.float32).astype(np.float64)
    score = {i: float(y[n] @ x) for n, i in enumerate(items) if engine.ids.row(i) not in seen}
    best = sorted(score, key=lambda i: -score[i])[:5]
    assert [s["item"] for s in shown["items"]] == best
    assert [s["score"] for s in shown["items"]] == pytest.approx([score[i] for i in best], abs=1e-5)
    newcomer = cli(capsys, db_path, "recommend", "--user", "someone new", "--k", "5")
    assert len(newcomer["items"]) == 5


def _bad(edit):
    """A case's args: a good folder with `edit(users, items, manifest, folder)` applied to
    what is written (or, if the edit writes the folder itself, as it wrote it)."""

    def args(tmp):
        users, items, manifest = factors(_bad.facts)
        folder = tmp / "factors"
        edit(users, items, manifest, folder)  # an edit that writes the folder writes it all
        if not folder.exists():
            write_factors(folder, users, items, manifest)
        return ["versions", "import-factors", str(folder)]

    return args


def _write_with(**columns):
    """Write users.parquet with `columns` instead of the usual two (items as usual)."""

    def edit(users, items, manifest, folder):
        import pyarrow as pa
        import pyarrow.parquet as pq

        write_factors(folder, users, items, manifest)
        pq.write_table(pa.table(columns), folder / "users.parquet")

    return _bad(edit)


def _set(side, key, value):
    def edit(users, items, manifest, folder):
        {"users": users, "items": items}[side][key] = value

    return _bad(edit)


def _first_user(value):
    def edit(users, items, manifest, folder):
        users[next(iter(users))] = value

    return _bad(edit)


def _check(user, item, prediction) -> dict:
    return {"user_id": user, "item_id": item, "prediction": prediction}


BAD = [
    case("empty folder", _bad(lambda u, i, m, f: f.mkdir()), "has no users.parquet"),
    case("no folder", ["versions", "import-factors", "{tmp}/nowhere"], "does not exist"),
    case(
        "missing column",
        _write_with(user_id=["alice"], vectors=[[0.1] * RANK]),
        "has no factors column",
    ),
    case("ids not text", _write_with(user_id=[1], factors=[[0.1] * RANK]), "must be STRING"),
    case("wrong dimension", _first_user([0.1] * (RANK - 1)), "has 3 factors; the manifest's rank"),
    case(
        "rows short of the manifest's count",
        _bad(lambda u, i, m, f: m.update(users=len(u) + 5)),
        "has 30 rows, the manifest says 35",
    ),
    case("NaN", _first_user([0.1, float("nan"), 0.2, 0.3]), "not finite"),
    case("infinity", _first_user([0.1, float("inf"), 0.2, 0.3]), "not finite"),
    case("null vector", _first_user(None), "has no factors"),
    case("unknown item", _set("items", "no such film", [0.1] * RANK), "'no such film' is not in"),
    case("unknown user", _set("users", "mallory", [0.1] * RANK), "'mallory' is not in this lab"),
    case(
        "duplicate id",
        _write_with(user_id=["alice", "alice"], factors=[[0.1] * RANK] * 2),
        "'alice' appears twice",
    ),
    case(
        "rank out of range",
        _bad(lambda u, i, m, f: m.update(rank=1)),
        "rank must be a whole number from 2 to 256",
    ),
    case(
        "no seq",
        _bad(lambda u, i, m, f: m.pop("trained_through_seq")),
        "trained_through_seq must be",
    ),
    case(
        "from a longer log",
        _bad(lambda u, i, m, f: m.update(trained_through_seq=10**9)),
        "they come from another lab's export",
    ),
    case(
        "Spark predicted otherwise",
        _bad(
            lambda u, i, m, f: m.update(
                checks=[{"user_id": next(iter(u)), "item_id": next(iter(i)), "prediction": 9.0}]
            )
        ),
        "the factors do not match the lab's ids",
    ),
    case(
        "check of an unknown user",
        _bad(lambda u, i, m, f: m.update(checks=[_check("mallory", next(iter(i)), 4.0)])),
        "a check names user_id 'mallory', who has no vector in users.parquet",
    ),
    case(
        "check of an unknown item",
        _bad(lambda u, i, m, f: m.update(checks=[_check(next(iter(u)), "no such film", 4.0)])),
        "a check names item_id 'no such film', not in this lab",
    ),
    case(
        "prediction not a number",
        _bad(lambda u, i, m, f: m.update(checks=[_check(next(iter(u)), next(iter(i)), "4.5")])),
        "a check's prediction must be a number, got '4.5'",
    ),
    case(
        "check without a prediction",
        _bad(lambda u, i, m, f: m.update(checks=[{"user_id": next(iter(u))}])),
        "a check holds user_id, item_id and prediction",
    ),
    case(
        "another lab's log",
        _bad(lambda u, i, m, f: m["log"].update(fingerprint="0123456789abcdef")),
        "trained on another lab's log (7,380 events up to seq 7,380, fingerprint differs): "
        "import them into the lab they were exported from",
    ),
    case(
        "a log of another length",
        _bad(lambda u, i, m, f: m.update(log=m["log"] | {"events": 7000})),
        "(7,000 events up to seq 7,380, this lab has 7,380)",
    ),
    case(
        "log not spark-train's",
        _bad(lambda u, i, m, f: m.update(log={"events": 3})),
        "log must be spark-train's {events, fingerprint} of the export",
    ),
    case("not mf", ["versions", "import-factors", "{tmp}", "--algorithm", "ucb1"], "mf only"),
]


@pytest.mark.parametrize(("args", "expected"), BAD)
def test_a_bad_factors_folder_is_one_line_and_changes_nothing(
    capsys, db_path, small_world_print, lab_facts, args, expected
):
    _bad.facts = lab_facts
    assert_bad_input(capsys, args, expected, db_path, small_world_print)


def test_a_manifest_that_is_not_json_is_one_line(capsys, db_path, small_world_print, lab_facts):
    def args(tmp):
        users, items, manifest = factors(lab_facts)
        folder = write_factors(tmp / "factors", users, items, manifest)
        (folder / "manifest.json").write_text("{rank: 4", encoding="utf-8")
        return ["versions", "import-factors", str(folder)]

    assert_bad_input(capsys, args, "is not readable JSON", db_path, small_world_print)


def test_factors_from_a_lab_whose_log_went_another_way_are_refused(
    capsys, db_path, lab_facts, tmp_path
):
    """Two copies of one lab, each with its own next event: the same ids, the same length of
    log, but factors trained on one's export do not import into the other."""
    other = tmp_path / "other.duckdb"
    shutil.copy(db_path, other)
    user, item = lab_facts["users"][0], lab_facts["items"][250]
    for path, kind in ((db_path, "like"), (other, "dislike")):
        engine = Engine.open(path)
        try:
            engine.interact(user, item, kind, algorithm="mf")
            if path == other:
                export_lab(engine, tmp_path / "export")
        finally:
            engine.close()
    users, items, manifest = factors(lab_facts)
    seq = lab_facts["seq"] + 1
    manifest |= {
        "trained_through_seq": seq,
        "log": export_identity(tmp_path / "export" / "events.parquet", seq),
    }
    folder = write_factors(tmp_path / "factors", users, items, manifest)
    assert main(["--db", str(db_path), "versions", "import-factors", str(folder)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: these factors were trained on another lab's log ({seq:,} events up to seq "
        f"{seq:,}, fingerprint differs): import them into the lab they were exported from"
    )
    assert cli(capsys, other, "versions", "import-factors", str(folder))["version"] == 2


def test_the_versions_page_shows_the_spark_lineage(capsys, db_path, lab_facts, tmp_path, lab_app):
    users, items, manifest = factors(lab_facts)
    folder = write_factors(tmp_path / "factors", users, items, manifest | {"implicitPrefs": False})
    info = cli(capsys, db_path, "versions", "import-factors", str(folder))
    lab_app.run()
    lab_app.switch_page("views/versions.py")
    lab_app.session_state["versions_tab"] = "Versions"
    lab_app.run()
    assert not lab_app.exception
    table = lab_app.dataframe[0].value
    row = table[table["version"] == info["version"]].iloc[0]
    assert row["trigger"] == (
        "trained on Spark (ALS explicit, rank 4, regParam 0.1, 5 iterations, Spark 4.3.0)"
    )


def star_factors(lab_facts, seed: int = 5) -> tuple[dict, dict, dict]:
    """Vectors as explicit ALS leaves them: dot products about 4 to 5 stars."""
    rng = np.random.default_rng(seed)
    users = {u: (1.1 + rng.normal(0, 0.1, RANK)).tolist() for u in lab_facts["users"][:30]}
    items = {i: (1.0 + rng.normal(0, 0.1, RANK)).tolist() for i in lab_facts["items"][:200]}
    _, _, manifest = factors(lab_facts)
    return users, items, manifest | {"implicitPrefs": False}


def test_an_explicit_import_keeps_its_star_scale_vectors_and_says_why(
    capsys, db_path, lab_facts, tmp_path
):
    from recsys.algorithms.mf_explain import EXPLICIT
    from recsys.store.history import timeline

    stars = star_factors(lab_facts)
    folder = write_factors(tmp_path / "stars", *stars)
    info = cli(capsys, db_path, "versions", "import-factors", str(folder))
    cli(capsys, db_path, "versions", "promote", f"mf@v{info['version']}", "--force")
    user = lab_facts["users"][0]
    engine = Engine.open(db_path)
    try:
        before = engine.recommend(user, k=10, algorithm="mf")
        assert before.scale == "stars" and before.items[0].score > 4.0
        liked, disliked = before.items[0], before.items[1]
        step = engine.interact(user, liked.item, "like", algorithm="mf")
        assert step.update.score_before == step.update.score_after == pytest.approx(liked.score)
        assert step.update.details["held back because"] == EXPLICIT
        assert f"it kept its vectors ({EXPLICIT})" in step.message
        step = engine.interact(user, disliked.item, "dislike", algorithm="mf")
        after = engine.recommend(user, k=8, algorithm="mf")
        # The two items acted on have left; the rest keep their star scores and order.
        assert [r.item for r in after.items] == [r.item for r in before.items[2:]]
        assert [r.score for r in after.items] == pytest.approx([r.score for r in before.items[2:]])
        # Its explanation is Spark's stars, one part: no event moved the vectors, so no
        # history item may claim a share (they did: "(you turned it down) -0.142").
        explained = engine.explain(user, after.items[0].item, "mf")
        assert explained.parts == {"predicted stars": pytest.approx(after.items[0].score)}
        assert explained.reason.startswith(f"predicted stars {after.items[0].score:.2f}")
        assert after.items[0].reason == explained.reason
        # A newcomer starts from the whole average person (half of it predicted half the stars).
        mean = np.mean(list(stars[0].values()), axis=0)
        newcomer = engine.recommend("someone new", k=1, algorithm="mf").items[0]
        y = np.array(stars[1][engine.ids.key(newcomer.item)])
        assert newcomer.score == pytest.approx(float(y @ mean), abs=1e-4) and newcomer.score > 4.0
        assert "the average person" in newcomer.reason
        rows = timeline(engine.store, user=user, kinds=["online update"])
        assert rows["what"].str.endswith(f": held back, {EXPLICIT}").sum() >= 2
        # The stored state keeps it (no pickle: a flag array); a retrain fits a normal mf.
        version = engine.version_store.version(info["version_id"], params=True)
        model = engine.host.from_version(version)
        assert model.scale == "stars" and model.state()["model.explicit_import"]
        model.fit(engine.store.events(), engine.catalog)
        assert model.scale == "preference" and "model.explicit_import" not in model.state()
    finally:
        engine.close()


def test_an_implicit_import_learns_online(capsys, db_path, lab_facts, tmp_path):
    users, items, manifest = factors(lab_facts)
    small = {u: [0.4 * v for v in x] for u, x in users.items()}  # preferences within -1 .. 1
    folder = write_factors(tmp_path / "factors", small, items, manifest)
    info = cli(capsys, db_path, "versions", "import-factors", str(folder))
    cli(capsys, db_path, "versions", "promote", f"mf@v{info['version']}", "--force")
    user = lab_facts["users"][0]
    engine = Engine.open(db_path)
    try:
        before = engine.recommend(user, k=100, algorithm="mf")
        assert before.scale == "preference"
        # Random vectors are no solve of this user's history: a like re-solves the vector,
        # which raises an item Spark's vector scored low (one near the top may drop).
        step = engine.interact(user, before.items[-1].item, "like", algorithm="mf")
        assert step.update.score_after > step.update.score_before
        assert step.update.user_change > 0 and "held back because" not in step.update.details
    finally:
        engine.close()


def test_spark_trains_the_ranks_mf_accepts():
    from dataclasses import fields

    from recsys.algorithms.mf import MFConfig
    from recsys.data.factors import RANK_RANGE

    bounds = next(f.metadata for f in fields(MFConfig) if f.name == "factors")
    assert (bounds["low"], bounds["high"]) == RANK_RANGE
