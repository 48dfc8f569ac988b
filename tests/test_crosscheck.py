"""Our own implementations against well-kept libraries on the same data (where installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_similarity

from recsys.algorithms import REGISTRY, Catalog
from recsys.algorithms.item_knn import ItemKNNConfig
from recsys.events import EventFrame

MOVIELENS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-latest-small"


def test_item_knn_similarity_is_cosine_on_binary_interactions():
    rng = np.random.default_rng(4)
    n_users, n_items = 30, 12
    liked = rng.random((n_users, n_items)) < 0.35
    users, items = np.nonzero(liked)
    events = EventFrame(
        np.arange(1, len(users) + 1),
        np.arange(len(users), dtype=float),
        np.array([f"u{u}" for u in users], dtype=object),
        items.astype(np.int64),
        np.full(len(users), "like", dtype=object),
        np.full(len(users), np.nan),
    )
    catalog = Catalog(tuple(f"i{i}" for i in range(n_items)), tuple(("g",) for _ in range(n_items)))
    model = REGISTRY["item_knn"](ItemKNNConfig(neighbours=n_items, shrinkage=0.0), catalog=catalog)
    model.fit(events, catalog)
    expected = cosine_similarity(liked.T.astype(float))
    for item in range(n_items):
        ids, sims = model._similarities(item)
        assert sims == pytest.approx(expected[item, ids])
        missing = np.setdiff1d(np.arange(n_items), [*ids, item])
        assert np.allclose(expected[item, missing], 0.0)


def test_thompson_draw_is_the_beta_quantile():
    from scipy.stats import beta

    model = REGISTRY["thompson"](catalog=Catalog(("a", "b"), (("g",), ("g",))))
    model._pulls[:] = [10, 3]
    model._rewards[:] = [7, 1]
    draws = model._round_draws(model.config.redraw_every)
    alpha = model.config.prior_alpha + model._rewards
    failures = model.config.prior_beta + model._pulls - model._rewards
    expected = beta.ppf(draws, alpha, failures)
    assert model._estimates() + model._bonus() == pytest.approx(expected)


@pytest.mark.skipif(not MOVIELENS.exists(), reason="../shared/datasets/ml-latest-small absent")
def test_mf_rmse_no_worse_than_surprise_svd(tmp_path):
    surprise = pytest.importorskip("surprise", reason="optional: pip install scikit-surprise")
    from recsys.bench.run import movielens_comparison

    ours, theirs = movielens_comparison(MOVIELENS / "ratings.csv", surprise)
    assert ours["RMSE"] <= theirs["RMSE"] + 0.005
