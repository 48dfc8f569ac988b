"""Memory linear in events: nothing of size people x items is built, and the results are the
ones the dense formulas gave (equal up to floating-point rounding, discrete outcomes exactly)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from recsys.choice import ChoiceModel, Utilities, true_utilities
from recsys.data.importer import read_path
from recsys.data.semisynthetic import UTILITY_MEAN, UTILITY_STD, dataset_world, score_moments
from recsys.experiments.assignment import Arm, Experiment
from recsys.experiments.interleaving import interleaved_sessions
from recsys.experiments.offpolicy import true_value
from recsys.experiments.sessions import expected_ctr, play
from tests.datafiles import write_movielens

EXACT = {"rtol": 1e-12, "atol": 1e-12}


def _truth_inputs(seed: int = 3, people: int = 37, items: int = 53, dims: int = 5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(items, dims)), rng.normal(size=items), rng.normal(size=(people, dims))


def test_score_moments_equal_the_dense_mean_and_spread():
    items, bias, users = _truth_inputs()
    users = users + 0.7  # off-centre factors: the cross terms must cancel, not be absent
    dense = users @ items.T + bias[None, :]
    assert np.allclose(score_moments(users, items, bias), (dense.mean(), dense.std()), **EXACT)


def test_imported_truth_is_the_dense_formulas(tmp_path):
    dataset = read_path("movielens", write_movielens(tmp_path, n_items=50, n_users=30)).dataset
    world = dataset_world(dataset, seed=5)
    factors = np.stack(world.items["features"].to_numpy())
    quality = world.items["quality"].to_numpy()
    tastes = np.stack(world.users["taste"].to_numpy())
    # The old code's dense users x items matrix, rescaled: mean and spread as promised.
    dense = true_utilities(factors, quality, tastes)
    assert dense.mean() == pytest.approx(UTILITY_MEAN, abs=1e-9)
    assert dense.std() == pytest.approx(UTILITY_STD, rel=1e-9)


def test_lazy_utilities_index_like_the_dense_matrix():
    features, quality, tastes = _truth_inputs()
    tastes = np.hstack([tastes, np.ones((len(tastes), 1))])
    dense = true_utilities(features, quality, tastes)
    rng = np.random.default_rng(0)
    people, items = rng.integers(len(tastes), size=(200, 1)), rng.integers(53, size=(200, 4))
    whole = Utilities(features, quality, tastes, block_bytes=10**9)  # one block: the same call
    assert np.array_equal(whole.rows(0, len(tastes)), dense)
    # indexing computes only the pairs asked for (a dot product each): equal up to rounding
    assert np.allclose(whole[people, items], dense[people, items], **EXACT)
    small = Utilities(features, quality, tastes, block_bytes=3 * 53 * 8)  # 3 people per block
    assert small.block == 3 and small.shape == dense.shape and len(small) == len(dense)
    assert np.allclose(small[people, items], dense[people, items], **EXACT)
    rows = np.vstack([block for _, block in small.blocks()])
    assert np.allclose(rows, dense, **EXACT)
    assert [start for start, _ in small.blocks()] == list(range(0, len(tastes), 3))


def test_simulated_sessions_are_the_same_with_lazy_utilities():
    features, quality, tastes = _truth_inputs(people=40)
    tastes = np.hstack([tastes, np.ones((len(tastes), 1))])
    dense = true_utilities(features, quality, tastes)
    lazy = Utilities(features, quality, tastes, block_bytes=7 * 53 * 8)
    rng = np.random.default_rng(1)
    k = 5
    lists = {
        arm: (np.argsort(-rng.random((40, 53)), axis=1)[:, :k], rng.random((40, k)))
        for arm in ("A", "B")
    }
    arms = (Arm("A", "mf", None, 50.0), Arm("B", "popularity", None, 50.0))
    experiment = Experiment(1, "t", "simulated", "running", arms, k, 0.2, 7, 0, 0.0)
    users = [f"u{i}" for i in range(40)]
    assigned = np.arange(40) % 2
    frames = [
        play(experiment, users, assigned, lists, utilities, 3, np.random.default_rng(9),
             ChoiceModel(), first_request=1, start_ts=0.0, at_seq=0)
        for utilities in (dense, lazy)
    ]  # fmt: skip
    exact = [c for c in frames[0] if c not in ("true_click", "score")]
    pd.testing.assert_frame_equal(frames[0][exact], frames[1][exact])
    assert np.allclose(frames[0]["true_click"], frames[1]["true_click"], **EXACT)
    items = lists["A"][0]
    choice = ChoiceModel()
    assert expected_ctr(items, lazy, choice) == pytest.approx(expected_ctr(items, dense, choice))
    assert true_value(items[:, 0], lazy, choice) == pytest.approx(
        true_value(items[:, 0], dense, choice), rel=1e-12
    )
    results = [
        interleaved_sessions(lists["A"][0], lists["B"][0], u, choice, 4, 3) for u in (dense, lazy)
    ]
    assert results[0] == results[1]


def test_a_lazy_target_value_never_builds_the_matrix(monkeypatch):
    features, quality, tastes = _truth_inputs()
    tastes = np.hstack([tastes, np.ones((len(tastes), 1))])
    lazy = Utilities(features, quality, tastes, block_bytes=4 * 53 * 8)
    built = []
    real = lazy.rows
    monkeypatch.setattr(lazy, "rows", lambda a, b: built.append(b - a) or real(a, b))
    target = np.zeros(len(tastes), dtype=int)
    value = true_value(target, lazy, ChoiceModel())
    assert built == []  # indexing computes the pairs alone: not even a block of rows
    dense = true_value(target, true_utilities(features, quality, tastes), ChoiceModel())
    assert value == pytest.approx(dense, rel=1e-12)


# -- models whose state was above linear in events -----------------------------------------


def _trained(name: str):
    """A model fitted on a small generated world, then taught a few live events that flip
    items between liked and disliked (a pair's count going back to zero included)."""
    from recsys.algorithms import Catalog, ModelSpec, build_model
    from recsys.events import Event, EventFrame
    from recsys.world import generate_world

    world = generate_world(seed=4, n_items=120, n_users=25, sessions_per_user=12)
    catalog = Catalog.from_frame(world.items)
    model = build_model(ModelSpec(name, {}, 4), catalog)
    model.fit(EventFrame.from_frame(world.events), catalog)
    seq = int(world.events["seq"].max())
    user = world.events["user_id"].iloc[0]
    for item, kind in [(3, "like"), (7, "like"), (3, "dislike"), (3, "dislike"), (9, "rating")]:
        seq += 1
        value = 4.5 if kind == "rating" else None
        model.learn_one(Event(user, item, kind, value, ts=float(seq), seq=seq))
    return model, catalog, sorted(set(world.events["user_id"]))


def _answers(model, users):
    return [
        (
            model.recommend(u, 10)[0].tolist(),
            model.recommend(u, 10)[1].tolist(),
            *tuple(model.explain(u, i).parts for i in (3, 7, 50)),
        )
        for u in users
    ]


@pytest.mark.parametrize("name", ["item_knn", "content"])
def test_snapshots_hold_no_pairs_or_terms_matrix_and_restore_every_answer(name):
    from recsys.algorithms import ModelSpec, build_model

    model, catalog, users = _trained(name)
    state = model.state()
    events = len(state["base.hist_item"])
    model_sizes = {k: v.size for k, v in state.items() if k.startswith("model.")}
    # item-kNN's pair counts are recounted from the users' items; content keeps each user's
    # nonzero terms only (at most the terms of the items they touched).
    assert sum(model_sizes.values()) <= 2 * 40 * events + len(users)
    again = build_model(ModelSpec(name, {}, 4), catalog)
    again.load_state(state)
    assert _answers(again, users) == _answers(model, users)


def test_older_snapshots_load_to_the_same_answers():
    """Snapshots saved before: item-kNN's with its pair counts, content's with a dense
    users x terms profile matrix."""
    from recsys.algorithms import ModelSpec, build_model

    for name in ("item_knn", "content"):
        model, catalog, users = _trained(name)
        state = model.state()
        if name == "item_knn":
            old = state | {"model.count": np.zeros(3), "model.lengths": np.zeros(3, int)}
        else:
            terms = state["model.profile_terms"]  # a dense row as wide as the terms used
            dense = np.zeros((len(state["base.users"]), int(terms.max()) + 1))
            bounds = np.concatenate([[0], np.cumsum(state["model.profile_lengths"])])
            for row, (lo, hi) in enumerate(itertools.pairwise(bounds)):
                dense[row, state["model.profile_terms"][lo:hi]] = state["model.profile_values"][
                    lo:hi
                ]
            old = {k: v for k, v in state.items() if not k.startswith("model.profile_")}
            old["model.profile_sum"] = dense
        again = build_model(ModelSpec(name, {}, 4), catalog)
        again.load_state(old)
        assert _answers(again, users) == _answers(model, users)


def test_weights_are_computed_once_per_frame_and_handed_out_as_copies():
    from recsys.events import DEFAULT_WEIGHTS, WEIGHT_PRESETS, EventFrame
    from recsys.world import generate_world

    events = generate_world(seed=2, n_items=80, n_users=10, sessions_per_user=6).events
    frame = EventFrame.from_frame(events)
    first = frame.weights(DEFAULT_WEIGHTS)
    first[:] = 99.0  # a caller's change stays its own
    fresh = EventFrame.from_frame(events)
    for preset in WEIGHT_PRESETS.values():
        assert np.array_equal(frame.weights(preset), fresh.weights(preset))


def test_content_profiles_learned_event_by_event_equal_a_full_fit():
    """The sparse profile adds an item's terms as the dense row did: learning the last events
    one by one ends where fitting on all of them does (up to the order of the sums)."""
    from recsys.algorithms import Catalog, ModelSpec, build_model
    from recsys.events import EventFrame
    from recsys.world import generate_world

    world = generate_world(seed=6, n_items=150, n_users=12, sessions_per_user=10)
    events, catalog = world.events, Catalog.from_frame(world.items)
    full = build_model(ModelSpec("content", {}, 6), catalog)
    full.fit(EventFrame.from_frame(events), catalog)
    online = build_model(ModelSpec("content", {}, 6), catalog)
    online.fit(EventFrame.from_frame(events.iloc[:40]), catalog)
    for event in EventFrame.from_frame(events.iloc[40:]).rows():
        online.learn_one(event)
    items = np.arange(catalog.n)
    for user in sorted(set(events["user_id"])):
        assert np.allclose(online.score(user, items), full.score(user, items), rtol=1e-9)
