"""Batched ridge regressions: the half-step both of MF's alternating least squares share.

For every row r (a user, or an item) solve

    (base + sum_c weight[r, c] * z_c z_c' + penalty[r] * I) v_r = sum_c target[r, c] * z_c

where z_c is the design row of column c (its factors, with a trailing 1 for a bias) and the
sums run over the observed (r, c) pairs. `base` is a Gram matrix every row shares (the implicit
"everything else is a zero" of Hu, Koren & Volinsky 2008, in closed form instead of a sum over
all items). Each row's own Gram matrix comes from one sparse-dense product over the columns'
outer products (few columns) or one BLAS product per row (few rows), in chunks of rows so
memory stays at `chunk x d^2` floats whatever the catalog's size.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

CHUNK_ROWS = 2048


def ridge_rows(
    rows: np.ndarray,
    cols: np.ndarray,
    weight: np.ndarray,
    target: np.ndarray,
    design: np.ndarray,
    n_rows: int,
    penalty: np.ndarray,
    base: np.ndarray | None = None,
    extra: np.ndarray | None = None,
) -> np.ndarray:
    """Solutions v (n_rows x d) of the ridge systems above.

    rows, cols: int arrays (n,) of observed pairs; weight, target: float arrays (n,), the
    weight added to the Gram matrix and the weighted target of each pair (already multiplied
    by its confidence); design: (n_cols x d); penalty: (n_rows,) ridge penalty per row;
    base: optional (d x d) Gram shared by every row; extra: optional (n_rows x d) added to
    each row's right-hand side (terms that are not a sum over its pairs).
    """
    d = design.shape[1]
    rhs = np.asarray(
        sparse.csr_matrix((target, (rows, cols)), shape=(n_rows, len(design))) @ design
    )
    if extra is not None:
        rhs += extra
    grams = _grams_by_row if n_rows < len(design) else _grams_by_column
    out = np.empty((n_rows, d))
    diagonal = np.arange(d)
    for start, lhs in grams(rows, cols, weight, design, n_rows):
        stop = start + len(lhs)
        if base is not None:
            lhs += base
        lhs[:, diagonal, diagonal] += penalty[start:stop, None]
        out[start:stop] = np.linalg.solve(lhs, rhs[start:stop, :, None])[..., 0]
    return out


def _grams_by_column(rows, cols, weight, design, n_rows):
    """Each row's Gram matrix, chunk by chunk, as one sparse-dense product with every column's
    outer product z z' flattened (the whole d x d square: reshaping it is cheaper than
    mirroring a half). Fast when there are fewer columns than rows (the item step)."""
    d = design.shape[1]
    outer = (design[:, :, None] * design[:, None, :]).reshape(len(design), d * d)
    gram = sparse.csr_matrix((weight, (rows, cols)), shape=(n_rows, len(design)))
    for start in range(0, n_rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n_rows)
        yield start, np.asarray(gram[start:stop] @ outer).reshape(stop - start, d, d)


def _grams_by_row(rows, cols, weight, design, n_rows):
    """Each row's Gram matrix Z_r' diag(w_r) Z_r as one BLAS product over its own pairs: no
    n_cols x d^2 matrix. Fast when there are fewer rows than columns (the user step over a
    large catalog)."""
    d = design.shape[1]
    order = np.argsort(rows, kind="stable")
    by_row, cols, weight = rows[order], cols[order], weight[order]
    bounds = np.searchsorted(by_row, np.arange(n_rows + 1))
    for start in range(0, n_rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n_rows)
        lhs = np.empty((stop - start, d, d))
        for row in range(start, stop):
            z = design[cols[bounds[row] : bounds[row + 1]]]
            lhs[row - start] = (z * weight[bounds[row] : bounds[row + 1], None]).T @ z
        yield start, lhs
