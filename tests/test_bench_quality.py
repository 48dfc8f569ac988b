"""The ranking-quality comparison (`recsys.bench_quality`) on small planted data, and once on
MovieLens ml-latest-small when it sits in ../shared/datasets."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.bench.quality import IMPLICIT, ranking_comparison, ranking_metrics, split_per_user
from recsys.bench.run import ranking_quality

MOVIELENS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-latest-small"


def write_planted(folder: Path, seed: int = 0) -> Path:
    """Two tastes: 50 users love (4-5 stars) items 1-30, 30 users love items 31-60, each rating
    14 items of their block and 2 of the other (1-2 stars). Block A is more popular, so
    popularity serves block A to everybody, and only personalisation serves block B's users."""
    rng = np.random.default_rng(seed)
    rows, stamp = [], 1_000_000_000
    for user in range(1, 81):
        own, other = (range(1, 31), range(31, 61)) if user <= 50 else (range(31, 61), range(1, 31))
        for movie in rng.choice(own, 14, replace=False):
            stamp += int(rng.integers(1, 100))
            rows.append((user, int(movie), float(rng.choice([4.0, 4.5, 5.0])), stamp))
        for movie in rng.choice(other, 2, replace=False):
            stamp += int(rng.integers(1, 100))
            rows.append((user, int(movie), float(rng.choice([1.0, 2.0])), stamp))
    rows.append((81, 1, 5.0, stamp + 1))  # too few ratings to split: stays in training
    path = folder / "ratings.csv"
    pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"]).to_csv(
        path, index=False
    )
    return path


def test_split_is_per_user_and_about_a_quarter():
    rng = np.random.default_rng(3)
    users = rng.choice([f"u{i}" for i in range(40)] + ["few"] * 3, 2_000)
    users = np.concatenate([users[users != "few"], ["few"] * 3])
    test = split_per_user(users, seed=5)
    for user in np.unique(users):
        n, held = (users == user).sum(), test[users == user].sum()
        assert held == (0 if n < 4 else math.floor(0.25 * n + 0.5)), user
    assert 0.23 < test.mean() < 0.27
    assert np.array_equal(test, split_per_user(users, seed=5))
    assert not np.array_equal(test, split_per_user(users, seed=6))


def test_ndcg_and_precision_by_hand():
    # user 1: one hit at rank 2 of 2 relevant -> (1/log2 3) / (1 + 1/log2 3); user 2: hit at 1
    metrics = ranking_metrics([[7, 3, 9], [1, 2, 4]], [{3, 5}, {1}], k=3)
    first = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert metrics["NDCG@3"] == pytest.approx((first + 1.0) / 2)
    assert metrics["precision@3"] == pytest.approx(1 / 3)
    assert metrics["users"] == 2


def test_planted_blocks_personalisation_beats_popularity(tmp_path):
    path = write_planted(tmp_path)
    result = ranking_comparison(path, seed=0, algorithms=("item_knn", "popularity"))
    frame = pd.read_csv(path)
    assert result["items"] == 60 and result["users"] == 81
    assert result["train ratings"] + result["test ratings"] == len(frame)
    assert 0.23 < result["test ratings"] / len(frame) < 0.27
    rows = result["rows"]
    for name in ("item_knn", "popularity"):
        row = rows[name]
        assert 0 <= row["precision@10"] <= 1 and 0 <= row["NDCG@10"] <= 1
        assert row["users"] == 80 and row["RMSE"] is None and row["fit s"] >= 0
    assert rows["item_knn"]["NDCG@10"] > rows["popularity"]["NDCG@10"] + 0.1


def test_train_and_test_are_disjoint_pairs(tmp_path):
    frame = pd.read_csv(write_planted(tmp_path))
    test = split_per_user(frame["userId"].to_numpy(), seed=0)
    pairs = frame["userId"].astype(str) + ":" + frame["movieId"].astype(str)
    assert not set(pairs[test]) & set(pairs[~test])
    assert (~test[frame["userId"].to_numpy() == 81]).all()


def test_rmse_for_rating_predictors_and_deterministic(tmp_path):
    path = write_planted(tmp_path)
    runs = [ranking_comparison(path, seed=2, algorithms=("mf", "popularity")) for _ in range(2)]
    for run in runs:
        for row in run["rows"].values():
            row.pop("fit s", None)
    assert runs[0] == runs[1]
    assert 0 < runs[0]["rows"]["mf"]["RMSE"] < 4.5


def test_implicit_row_when_installed(tmp_path):
    pytest.importorskip("implicit")
    result = ranking_comparison(write_planted(tmp_path), seed=0, algorithms=("popularity",))
    row = result["rows"][IMPLICIT]
    assert 0 <= row["precision@10"] <= 1 and 0 < row["NDCG@10"] <= 1
    assert row["users"] == 80 and row["RMSE"] is None
    again = ranking_comparison(tmp_path / "ratings.csv", seed=0, algorithms=())["rows"][IMPLICIT]
    assert {k: v for k, v in again.items() if k != "fit s"} == {
        k: v for k, v in row.items() if k != "fit s"
    }


def test_implicit_skipped_cleanly_when_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "implicit.cpu.als", None)  # any import of it now fails
    result = ranking_comparison(write_planted(tmp_path), algorithms=("popularity",))
    assert "skipped" in result["rows"][IMPLICIT]
    text = ranking_quality(tmp_path)["text"]
    assert "relevant = rated 4+" in text and f"{IMPLICIT}" in text and "skipped" in text


def test_bench_section_table(tmp_path):
    write_planted(tmp_path)
    report = ranking_quality(tmp_path)
    assert set(report["ranking quality"]["rows"]) >= {"mf", "item_knn", "popularity", IMPLICIT}
    assert report["text"].startswith(f"MovieLens {tmp_path.name}, per-user 75/25")
    assert "NDCG@10" in report["text"]


@pytest.mark.skipif(not (MOVIELENS / "ratings.csv").exists(), reason="no ml-latest-small")
def test_movielens_small_runs():
    result = ranking_comparison(MOVIELENS / "ratings.csv", algorithms=("mf", "popularity"))
    assert result["users"] == 610 and result["items"] > 9_000
    rows = result["rows"]
    assert 500 < rows["popularity"]["users"] <= 610
    assert 0.1 < rows["popularity"]["NDCG@10"] < 0.3  # about 0.18 at seed 0
    assert 0.5 < rows["mf"]["RMSE"] < 1.2
    for row in rows.values():
        if "skipped" not in row:
            assert 0 <= row["precision@10"] <= 1 and 0 <= row["NDCG@10"] <= 1
