"""Faster fits and state round trips that give the same numbers: item-kNN's co-occurrence rows,
content's vectors, the per-user histories of a saved state."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.algorithms import Catalog, ModelSpec, build_model
from recsys.events import EventFrame


def test_item_knn_counts_every_pair_of_positive_items_in_sorted_rows(monkeypatch):
    """The co-occurrence rows, block by block, against a count over the users' item pairs."""
    n_items = 700
    from recsys.algorithms import item_knn

    rng = np.random.default_rng(4)
    catalog = Catalog(tuple(f"t{i}" for i in range(n_items)), tuple(("g",) for _ in range(n_items)))
    users = rng.integers(40, size=3000)
    items = rng.integers(n_items, size=3000)
    kinds = np.where(rng.random(3000) < 0.8, "like", "dislike")
    frame = _likes([f"u{u}" for u in users], items)
    frame["kind"] = kinds
    frame = EventFrame.from_frame(frame)
    monkeypatch.setattr(item_knn, "PAIRS_PER_BLOCK", 1)  # blocks of 256 items: three
    model = build_model(ModelSpec("item_knn"), catalog)
    model.fit(frame, catalog)
    expected = np.zeros((n_items, n_items))
    for seen in model._seen:
        positive = sorted(i for i, w in seen.items() if w > 0)
        for a in positive:
            for b in positive:
                expected[a, b] += a != b
    for item in range(n_items):
        ids, together = model._row(item)
        assert ids.tolist() == np.flatnonzero(expected[item]).tolist()  # sorted, no self
        assert together.tolist() == expected[item, ids].tolist()


def test_content_vectors_are_built_once_per_catalog_and_config():
    catalog = Catalog(("Alien", "Heat", "Up"), (("scifi",), ("crime",), ("kids", "scifi")))
    model = build_model(ModelSpec("content"), catalog)
    vectors = model._items
    model.fit(EventFrame.from_frame(_likes(["a", "a", "b"], [0, 2, 1])), catalog)
    assert model._items is vectors  # the fit's reset kept them
    fresh = build_model(ModelSpec("content"), catalog)
    assert (fresh._items != vectors).nnz == 0
    other = Catalog(("Alien", "Heat", "Up"), (("scifi",), ("crime",), ("kids",)))
    model.fit(EventFrame.from_frame(_likes(["a"], [0])), other)
    assert model._items is not vectors and (model._items != fresh._items).nnz > 0


def _likes(users, items):
    n = len(users)
    return pd.DataFrame(
        {
            "seq": np.arange(1, n + 1),
            "ts": np.arange(float(n)),
            "user_id": users,
            "item_id": items,
            "kind": "like",
            "value": np.nan,
        }
    )


def test_a_state_round_trip_keeps_every_history_in_order():
    catalog = Catalog(tuple("abcdef"), tuple(("g",) for _ in range(6)))
    log = _likes(["u2", "u1", "u2", "u3", "u1", "u2"], [4, 0, 1, 5, 3, 4])
    log.loc[[1, 3], "kind"] = "dislike"
    model = build_model(ModelSpec("popularity"), catalog)
    model.fit(EventFrame.from_frame(log), catalog)
    state = model.state()
    assert state["base.hist_user"].tolist() == [0, 0, 1, 1, 2]  # users in row order
    again = build_model(ModelSpec("popularity"), catalog, state)
    assert [again.seen(u) for u in ("u1", "u2", "u3")] == [
        {0: -1.0, 3: 1.0},
        {1: 1.0, 4: 2.0},
        {5: -1.0},
    ]
    shuffled = dict(state)  # rows not grouped by user (no state writes them so): the same
    order = np.array([4, 2, 0, 3, 1])
    for key in ("base.hist_user", "base.hist_item", "base.hist_weight"):
        shuffled[key] = state[key][order]
    loaded = build_model(ModelSpec("popularity"), catalog, shuffled)
    assert [loaded.seen(u) for u in ("u1", "u2", "u3")] == [
        again.seen(u) for u in ("u1", "u2", "u3")
    ]


def test_a_truth_fit_without_the_rating_head_has_the_same_preference_model():
    # The semi-synthetic truth reads only the preference head, so it skips the rating head's
    # fit (a minute at 25M events); the preference head must not notice.
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame(
        {
            "seq": np.arange(1, n + 1),
            "ts": np.arange(n, dtype=float),
            "user_id": [f"u{u}" for u in rng.integers(0, 30, n)],
            "item_id": rng.integers(0, 40, n),
            "kind": "rating",
            "value": rng.integers(1, 6, n).astype(float),
        }
    )
    catalog = Catalog(titles=tuple(f"t{i}" for i in range(40)), genres=((),) * 40, tags=((),) * 40)
    models = []
    for fits_ratings in (True, False):
        model = build_model(ModelSpec("mf", {"factors": 4, "epochs": 2}, 0), catalog)
        model.fits_ratings = fits_ratings
        model.fit(EventFrame.from_frame(frame))
        models.append(model)
    full, preference_only = models
    for a, b in zip(
        full.preference_model()[:3], preference_only.preference_model()[:3], strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert full._ratings.count == n and preference_only._ratings.count == 0
