"""mf's per-event path: the rank-one user step solves the same ridge system a direct solve
does, learns the same whatever its cache holds, and the rating head learns stars online."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.algorithms import REGISTRY
from recsys.algorithms.als import RankOneInverses, ridge_rows
from tests.test_contract import event, fitted


def direct_vector(model, user: str) -> np.ndarray:
    """x_u = m + A^-1 b by np.linalg.solve of the system the explanations read (`_system`)."""
    row = model._users[user]
    _, lhs, terms = model._system(row)
    return model._mean_user + np.linalg.solve(lhs, terms.sum(axis=0))


def busy_session(seq: int = 20_000):
    """New items, repeats of an item (a view then a like then a dislike), ratings, a newcomer."""
    rng = np.random.default_rng(7)
    kinds = ["view", "click", "like", "dislike", "rating", "skip", "favorite"]
    events = []
    for n in range(120):
        user = ["u0", "u30", "newcomer", f"fresh{n % 5}"][n % 4]
        kind = kinds[int(rng.integers(len(kinds)))]
        value = float(rng.integers(1, 11)) / 2 if kind == "rating" else None
        item = int(rng.integers(6)) if n % 3 == 0 else int(rng.integers(40))  # many repeats
        events.append(event(user, item, kind, seq=seq + n, value=value))
    return events


def test_rank_one_user_step_equals_a_direct_solve_of_the_same_system():
    model = fitted("mf")
    for e in busy_session():
        info = model.learn_one(e)
        if not info.details["held back"]:
            expected = direct_vector(model, e.user)
            assert np.allclose(model._user_factors[model._users[e.user]], expected, atol=1e-8)


def test_rank_one_inverses_match_numpy_on_random_systems():
    rng = np.random.default_rng(0)
    d = 12
    y = rng.normal(size=(30, d))
    base = y.T @ y + 3.0 * np.eye(d)
    chain = RankOneInverses(base)
    rows = rng.normal(size=(25, d))
    deltas, targets = rng.uniform(0.1, 20.0, 25), rng.normal(size=25)
    terms = [(rows[j], deltas[j], targets[j]) for j in range(25)]
    for n in range(1, 26):
        got = chain.solution(0, n, terms[n - 1], terms[:n], lambda *term: term)
        lhs = base + (rows[:n].T * deltas[:n]) @ rows[:n]
        assert np.allclose(got, np.linalg.solve(lhs, rows[:n].T @ targets[:n]), atol=1e-8)


def test_what_the_cache_holds_does_not_change_a_bit():
    """Evicting every user after each event (a rebuild each time) learns bit for bit the same."""
    kept, evicting = fitted("mf"), fitted("mf")
    for e in busy_session():
        kept.learn_one(e)
        evicting.learn_one(e)
        evicting._online.capacity = 0  # every later event rebuilds the user's inverse
        evicting._online._held.clear()
    assert np.array_equal(kept._user_factors, evicting._user_factors)
    for user in ("u0", "newcomer", "fresh1"):
        assert np.array_equal(kept.score(user), evicting.score(user))


def test_rating_head_learns_stars_online_and_the_mean_follows():
    model = fitted("mf")
    head = model._ratings
    count, mean = head.count, head.mean
    before = model.predict("u0", np.array([5]))[0]
    for n in range(20):
        model.learn_one(event("u0", 5, "rating", seq=30_000 + n, value=5.0))
    assert model.predict("u0", np.array([5]))[0] > before
    assert head.count == count + 20
    assert np.isclose(head.mean, (mean * count + 5.0 * 20) / (count + 20))


@pytest.mark.parametrize("shared", ["scalar penalty", "shared base", "base and varying penalty"])
def test_ridge_rows_few_pairs_by_woodbury_equal_direct_solves(shared):
    """Rows with few pairs take the dual (Woodbury) path, the rest the primal one: both give
    each row's own ridge solution."""
    rng = np.random.default_rng(1)
    n_rows, n_cols, d = 120, 60, 8
    rows = np.concatenate([rng.integers(0, n_rows, 500), np.repeat([0, 1, 2], 40)])
    cols = rng.integers(0, n_cols, len(rows))
    pairs = np.unique(rows * n_cols + cols)
    rows, cols = pairs // n_cols, pairs % n_cols
    weight, target = rng.uniform(0.5, 5, len(rows)), rng.normal(size=len(rows))
    design = rng.normal(size=(n_cols, d))
    varying = shared != "shared base"
    penalty = rng.uniform(0.5, 3, n_rows) if varying else np.full(n_rows, 2.0)
    base = None if shared == "scalar penalty" else 0.5 * design.T @ design
    extra = rng.normal(size=(n_rows, d))
    got = ridge_rows(rows, cols, weight, target, design, n_rows, penalty, base, extra)
    for r in range(n_rows):
        mine = rows == r
        z = design[cols[mine]]
        lhs = (z.T * weight[mine]) @ z + penalty[r] * np.eye(d) + (0 if base is None else base)
        expected = np.linalg.solve(lhs, z.T @ target[mine] + extra[r])
        assert np.allclose(got[r], expected, atol=1e-8), r


def test_a_state_saved_with_the_old_rating_book_still_loads_its_count():
    """States saved before the rating head kept its count held every pair's [count, sum]."""
    model = fitted("mf")
    state = model.state()
    count = state.pop("model.rating.count")[0]
    state["model.rating.pairs"] = np.array([[0, 1], [0, 2]])
    state["model.rating.sums"] = np.array([[count - 1.0, 4.0], [1.0, 5.0]])
    copy = REGISTRY["mf"](model.config, catalog=model.catalog, seed=model.seed)
    copy.load_state(state)
    assert copy._ratings.count == count and copy._ratings.mean == model._ratings.mean
