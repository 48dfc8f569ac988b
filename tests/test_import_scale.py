"""Imports at scale: the generated MovieLens files, an import that fails midway writes nothing,
and the size bench runs end to end (on a tiny size: speed is for `bench --sizes`, not tests)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from recsys.bench import bigsize
from recsys.bench.sizes import STEPS, THIS_TREE, run_sizes
from recsys.bench.synthetic_movielens import MIN_PER_USER, write_movielens
from recsys.cli.main import main
from recsys.data import semisynthetic
from recsys.data.importer import read_path


def test_generated_movielens_files_import_cleanly_with_a_long_tail(tmp_path):
    counts = write_movielens(tmp_path, n_users=60, n_ratings=6_000, n_items=3_000, seed=3)
    assert counts == {"users": 60, "items": 3_000, "ratings": 6_000}
    report = read_path("movielens", tmp_path)
    assert report.ok, report.text()
    assert report.summary()["interactions"] == 6_000
    ratings = pd.read_csv(tmp_path / "ratings.csv")
    assert not ratings.duplicated(["userId", "movieId"]).any()
    per_user = ratings.groupby("userId").size()
    per_item = ratings.groupby("movieId").size().sort_values(ascending=False)
    assert per_user.min() >= MIN_PER_USER and per_user.max() > 3 * per_user.median()
    assert per_item.iloc[:300].sum() > 0.3 * len(ratings)  # a tenth of the items: a third of it
    again = tmp_path / "again"
    write_movielens(again, n_users=60, n_ratings=6_000, n_items=3_000, seed=3)
    assert (again / "ratings.csv").read_bytes() == (tmp_path / "ratings.csv").read_bytes()


def test_an_import_that_fails_midway_writes_nothing(tmp_path, monkeypatch, capsys):
    """The world is written in one transaction: a failure after the items and events went in
    (a duplicate user row) leaves a new lab without any of them."""
    folder = tmp_path / "ml"
    write_movielens(folder, n_users=30, n_ratings=1_500, n_items=200, seed=1)
    real = semisynthetic.dataset_world

    def broken(dataset, seed=42, holdout_share=None):
        world = real(dataset, seed, holdout_share)
        world.users = pd.concat([world.users, world.users.iloc[[0]]], ignore_index=True)
        return world

    monkeypatch.setattr(semisynthetic, "dataset_world", broken)
    db = tmp_path / "lab.duckdb"
    with pytest.raises(duckdb.ConstraintException):
        main(["--db", str(db), "import", "--format", "movielens", str(folder)])
    with duckdb.connect(str(db), read_only=True) as connection:
        for table in ("items", "events", "users", "model_versions"):
            assert connection.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_size_bench_measures_every_step_in_fresh_processes():
    report = run_sizes(
        {"tiny": {"n_items": 400, "n_users": 25, "n_ratings": 1_000}}, {"here": THIS_TREE}
    )
    (row,) = report["rows"]
    assert (row["size"], row["tree"], row["n_ratings"]) == ("tiny", "here", 1_000)
    for step in STEPS:
        assert row[f"{step} seconds"] > 0
        assert row[f"{step} peak_mb"] > 20  # a Python process with numpy and DuckDB loaded
    assert row["load start"] >= 0 and row["load end"] >= 0
    assert "tiny" in report["text"] and "import s" in report["text"]


def test_the_big_size_bench_reports_every_figure_beside_its_target(tmp_path):
    """`bench --size` on a tiny shape: generated once into the cache folder, every figure
    measured in a fresh process, each beside its target."""
    shape = {"n_ratings": 1_200, "n_users": 30, "n_items": 300}
    report = bigsize.run_size("tiny", root=tmp_path, shape=shape, interactions=10)
    (row,) = report["rows"]
    assert report["files"] == str(bigsize.cache_folder("tiny", 0, tmp_path))
    for key in bigsize.TARGETS:
        assert row[key] > 0, key
    assert row["interact p50 ms"] <= row["interact p99 ms"]
    assert row["db MB"] > 0 and row["retrain MB"] > 20
    lines = report["text"].splitlines()
    assert lines[0] == "tiny: 1,200 ratings, 30 users, 300 items"
    assert any(line.startswith("interact p99") and line.endswith("<= 30 ms") for line in lines)
    assert any(line.startswith("MF retrain ") and line.endswith("<= 300 s") for line in lines)
    # Cached: the same files again, not generated a second time.
    assert bigsize.generated("tiny", 0, tmp_path, shape) == (Path(report["files"]), 0.0)
