"""Training on Spark, round trip (issue 20, docs/spark.md): the small world exported as Parquet,
Spark MLlib's ALS trained on it by `spark-train` in local[2] (real PySpark, a subprocess), the
factors imported as an mf version that reproduces Spark's predictions, serves recommendations
and wins or loses a simulated A/B test against the lab's own mf.

PySpark and Java are optional: without them the round trip skips with the reason (in CI, where
`.ci/run` installs both, it fails instead). One Spark session for the module: about a minute on
two busy cores, most of it the JVM's start. The checks of `spark-train`'s own input need no Spark.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from recsys.cli.main import main
from tests.badinput import assert_bad_input, case
from tests.conftest import ROOT
from tests.datafiles import write_factors


def _missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install -r requirements-spark.txt)"
    home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (home and os.path.exists(f"{home}/bin/java")):
        return "no Java (apt-get install openjdk-17-jre-headless)"
    return None


def recsys(*args: str) -> dict:
    """`python -m recsys ARGS --json` in a fresh process: its JSON (status 0 asserted)."""
    done = subprocess.run(
        [sys.executable, "-m", "recsys", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def parquet_vectors(path) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    key = table.column_names[0] if table.column_names[0] != "factors" else table.column_names[1]
    ids, vectors = table.column(key).to_pylist(), table.column("factors").to_pylist()
    return {
        i: np.array(v, dtype=np.float32).astype(np.float64)
        for i, v in zip(ids, vectors, strict=True)
    }


@pytest.fixture(scope="module")
def round_trip(small_world_file, tmp_path_factory):
    """The small world, exported, trained on Spark and imported (v2 of mf), plus a version of
    random vectors with the same ids (the baseline any trained model must beat)."""
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI installs PySpark and Java (.ci/run), but: {missing}")
        pytest.skip(missing)
    tmp = tmp_path_factory.mktemp("spark")
    lab = tmp / "lab.duckdb"
    shutil.copy(small_world_file, lab)
    recsys("--db", str(lab), "export", str(tmp / "export"))
    trained = recsys("spark-train", str(tmp / "export"), "--factors", "8", "--iterations", "8")
    factors = tmp / "export" / "spark-factors"
    spark = recsys("--db", str(lab), "versions", "import-factors", str(factors))
    users = parquet_vectors(factors / "users.parquet")
    items = parquet_vectors(factors / "items.parquet")
    rng = np.random.default_rng(0)
    random = write_factors(
        tmp / "random",
        {u: rng.normal(0, 1, 8).tolist() for u in users},
        {i: rng.normal(0, 1, 8).tolist() for i in items},
        {"rank": 8, "trained_through_seq": trained["trained_through_seq"]},
    )
    baseline = recsys("--db", str(lab), "versions", "import-factors", str(random))
    return {
        "lab": lab,
        "manifest": trained,
        "spark": spark,
        "random": baseline,
        "users": users,
        "items": items,
    }


def test_spark_train_writes_the_documented_schema_and_manifest(round_trip):
    manifest = round_trip["manifest"]
    from recsys.engine import Engine

    assert manifest["rank"] == 8 and manifest["maxIter"] == 8 and manifest["implicitPrefs"]
    assert manifest["master"] == "local[2]" and manifest["spark_version"]
    assert manifest["users"] == len(round_trip["users"]) > 50
    assert manifest["items"] == len(round_trip["items"]) > 100
    assert all(len(v) == 8 and np.isfinite(v).all() for v in round_trip["users"].values())
    assert len(manifest["checks"]) == 5
    engine = Engine.open(round_trip["lab"])
    try:  # the export's log, as the lab fingerprints its own (import-factors checks it)
        assert manifest["log"] == engine.store.log_identity(manifest["trained_through_seq"])
        assert manifest["log"]["events"] == manifest["events"] == engine.last_seq
    finally:
        engine.close()


def test_the_spark_version_reproduces_sparks_predictions(round_trip):
    from recsys.engine import Engine

    spark = round_trip["spark"]
    assert spark["trigger"].startswith("trained on Spark (ALS implicit, rank 8, regParam 0.1")
    engine = Engine.open(round_trip["lab"])
    try:
        version = engine.version_store.version(spark["version_id"], params=True)
        model = engine.host.from_version(version)
        for check in round_trip["manifest"]["checks"]:  # Spark's own model.transform
            score = model.score(check["user_id"], [engine.ids.row(check["item_id"])])[0]
            assert score == pytest.approx(check["prediction"], abs=1e-5)
        rows = np.array([engine.ids.row(i) for i in round_trip["items"]])
        y = np.stack(list(round_trip["items"].values()))
        for user, x in list(round_trip["users"].items())[:40]:
            assert np.allclose(model.score(user, rows), y @ x, rtol=0, atol=1e-5)
    finally:
        engine.close()


def test_the_spark_version_serves_and_wins_or_loses_an_ab_test(round_trip):
    lab, spark, random = round_trip["lab"], round_trip["spark"], round_trip["random"]
    own, theirs, noise = "mf@v1", f"mf@v{spark['version']}", f"mf@v{random['version']}"
    ab = recsys("--db", str(lab), "experiment", "simulate", "--arms", f"{own},{theirs}")
    arms = {a["arm"]: a for a in ab["arms"]}
    assert all(isinstance(arms[a]["true_ctr"], float) for a in (own, theirs))
    assert ab["verdict"].startswith(
        (f"{theirs} beats the control", "The control", "No arm differs significantly")
    ), ab["verdict"]
    against_noise = recsys(
        "--db", str(lab), "experiment", "simulate", "--arms", f"{theirs},{noise}"
    )
    # What Spark learned is taste, not noise: on the planted world its lists are truly better
    # than random vectors' (implicit ALS: true CTR 0.094 against 0.078, regret@10 1.7 against
    # 3.7, measured) and the A/B test sees it.
    ctr = {a["arm"]: a["true_ctr"] for a in against_noise["arms"]}
    regret = {a["arm"]: a["regret"] for a in against_noise["arms"]}
    assert ctr[theirs] > 1.05 * ctr[noise] and regret[theirs] < 0.8 * regret[noise], (ctr, regret)
    assert against_noise["oracle_winner"] == theirs
    assert against_noise["verdict"].startswith(f"The control {theirs} is significantly better")

    recsys("--db", str(lab), "versions", "promote", theirs, "--force")
    user = next(iter(round_trip["users"]))
    shown = recsys("--db", str(lab), "recommend", "--user", user, "--k", "5")
    x = round_trip["users"][user]
    for item in shown["items"]:
        assert item["score"] == pytest.approx(
            float(round_trip["items"][item["item"]] @ x), abs=1e-5
        )

    # Served, implicit ALS's version learns online as the lab's mf: a like raises the item.
    from recsys.engine import Engine

    engine = Engine.open(lab)
    try:
        listed = engine.recommend(user, k=50, algorithm="mf")
        assert listed.scale == "preference"
        item = next(r.item for r in listed.items if r.score < 0.5)
        update = engine.interact(user, item, "like", algorithm="mf").update
        assert update.score_after > update.score_before and not update.details["held back"]
    finally:
        engine.close()


BAD = [
    case("no export", ["spark-train", "{tmp}/nowhere"], "does not exist"),
    case("not an export", ["spark-train", "{tmp}"], "has no events.parquet"),
    case("rank 1", ["spark-train", "{tmp}", "--factors", "1"], "--factors 1: give a number"),
    case("no iterations", ["spark-train", "{tmp}", "--iterations", "0"], "--iterations 0"),
    case("NaN reg", ["spark-train", "{tmp}", "--reg", "nan"], "--reg nan"),
    case("bad master", ["spark-train", "{tmp}", "--master", "local[2] x"], "--master"),
]


@pytest.mark.parametrize(("args", "expected"), BAD)
def test_spark_train_refuses_bad_input_before_spark_starts(
    capsys, db_path, small_world_print, args, expected
):
    if _missing() and expected in ("does not exist", "has no events.parquet"):
        pytest.skip("the folders are checked once PySpark and Java are found")
    assert_bad_input(capsys, args, expected, db_path, small_world_print)


def test_without_pyspark_spark_train_says_how_to_install_it(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # what find_spec sees when it is absent
    assert main(["spark-train", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == "error: spark-train needs PySpark, an optional extra: pip install -r " + (
        "requirements-spark.txt\n"
    )


def test_without_java_spark_train_says_how_to_install_it(capsys, monkeypatch, tmp_path):
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("PySpark is checked first")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["spark-train", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: spark-train needs Java 17 or newer: apt-get")
