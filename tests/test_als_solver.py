"""The batched ridge solver of MF's ALS (`recsys.algorithms.als.ridge_rows`) against one dense
solve per row, whichever way it builds the Gram matrices and whatever order the pairs come in."""

import numpy as np
import pytest

from recsys.algorithms import als


def _problem(seed: int, n_rows: int = 40, n_cols: int = 25, d: int = 4):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_rows, n_cols)) < 0.35
    rows, cols = np.nonzero(mask)
    weight = rng.uniform(0.5, 3.0, len(rows))
    target = rng.normal(size=len(rows))
    design = rng.normal(size=(n_cols, d))
    base = design.T @ design * 0.3
    penalty = np.full(n_rows, 2.0)
    return rows, cols, weight, target, design, n_rows, penalty, base


def _dense(rows, cols, weight, target, design, n_rows, penalty, base):
    d = design.shape[1]
    out = np.zeros((n_rows, d))
    for r in range(n_rows):
        mine = rows == r
        z = design[cols[mine]]
        lhs = base + (z * weight[mine, None]).T @ z + penalty[r] * np.eye(d)
        out[r] = np.linalg.solve(lhs, z.T @ target[mine])
    return out


@pytest.mark.parametrize("outer_max", [0, als.OUTER_MAX_BYTES])
def test_ridge_rows_matches_a_dense_solve_per_row(monkeypatch, outer_max):
    # 0 bytes forbids the columns' outer products: every Gram is a per-row BLAS product.
    monkeypatch.setattr(als, "OUTER_MAX_BYTES", outer_max)
    problem = _problem(0)
    np.testing.assert_allclose(als.ridge_rows(*problem), _dense(*problem), rtol=1e-9, atol=1e-12)


def test_pairs_in_any_order_give_the_same_solution():
    rows, cols, weight, target, *rest = _problem(1)
    grouped = als.ridge_rows(rows, cols, weight, target, *rest)
    shuffle = np.random.default_rng(2).permutation(len(rows))
    shuffled = als.ridge_rows(rows[shuffle], cols[shuffle], weight[shuffle], target[shuffle], *rest)
    np.testing.assert_allclose(shuffled, grouped, rtol=1e-12, atol=1e-14)


def test_by_row_order_is_none_only_for_grouped_rows():
    assert als.by_row_order(np.array([0, 0, 1, 3, 3])) is None
    order = als.by_row_order(np.array([2, 0, 1, 0]))
    assert order.tolist() == [1, 3, 2, 0]  # stable: the two 0s keep their order


def test_a_negative_weight_takes_the_full_product(monkeypatch):
    # dsyrk needs sqrt(w): with any negative weight each Gram is the full product instead.
    monkeypatch.setattr(als, "OUTER_MAX_BYTES", 0)
    rows, cols, weight, *rest = _problem(3)
    weight = weight - 0.6  # some pairs now count against (still a positive definite system)
    assert (weight < 0).any()
    got = als.ridge_rows(rows, cols, weight, *rest)
    np.testing.assert_allclose(got, _dense(rows, cols, weight, *rest), rtol=1e-9, atol=1e-12)
