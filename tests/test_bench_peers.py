"""The peer comparison (`recsys.bench.peers`) on a small synthetic ratings frame built here:
its structure, and that ours learns (progressive RMSE below a running mean's)."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.bench.peers import batch_comparison, online_comparison, peers
from recsys.data.ratings import Ratings


def planted_ratings(seed: int = 0) -> Ratings:
    """60 users, 40 items: stars = 3 + user bias + item bias + a two-group taste, in time order
    with users interleaved."""
    rng = np.random.default_rng(seed)
    user_bias, item_bias = rng.normal(0, 0.5, 60), rng.normal(0, 0.7, 40)
    group, kind = np.arange(60) % 2, np.arange(40) % 2
    rows = []
    for user in range(60):
        for item in rng.choice(40, 25, replace=False):
            taste = 0.8 if group[user] == kind[item] else -0.8
            stars = 3.0 + user_bias[user] + item_bias[item] + taste + rng.normal(0, 0.3)
            rows.append((f"u{user}", f"i{item}", float(np.clip(np.round(stars * 2) / 2, 0.5, 5))))
    order = rng.permutation(len(rows))
    users, items, stars = zip(*[rows[i] for i in order], strict=True)
    return Ratings(list(users), list(items), np.array(stars), np.arange(len(rows), dtype=float))


def test_online_comparison_against_river_and_ours_learns():
    pytest.importorskip("river")
    import river.optim
    import river.reco  # online_comparison reads river.reco and river.optim

    result = online_comparison(planted_ratings(), river, repeats=1)
    rows = result["rows"]
    assert result["events"] == 1500
    assert set(rows) == {
        "mf (ours)",
        "River BiasedMF (defaults)",
        "River BiasedMF (docs example)",
        "running mean",
    }
    for name, row in rows.items():
        assert set(row) == {"events/s", "events/CPU s", "progressive RMSE"}
        assert (
            (row["events/s"] is None) == (row["events/CPU s"] is None) == (name == "running mean")
        )
    assert rows["mf (ours)"]["progressive RMSE"] < rows["running mean"]["progressive RMSE"]
    assert "mf (ours)" in result["text"] and "progressive RMSE" in result["text"]


def test_batch_comparison_against_surprise():
    surprise = pytest.importorskip("surprise")
    result = batch_comparison(planted_ratings(), surprise, repeats=1)
    assert set(result["rows"]) == {"mf (ours)", "Surprise SVD"}
    for row in result["rows"].values():
        assert row["fit s"] > 0 and row["fit CPU s"] > 0 and 0 < row["RMSE"] < 2


def test_a_missing_dataset_is_skipped_with_a_line(tmp_path):
    report = peers(tmp_path, repeats=1)
    assert "peers skipped" in report["text"] and "online" not in report
    assert len(report["load at start"]) == 3 and len(report["load at end"]) == 3
