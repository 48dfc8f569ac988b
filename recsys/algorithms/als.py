"""Batched ridge regressions: the half-step both of MF's alternating least squares share.

For every row r (a user, or an item) solve

    (base + sum_c weight[r, c] * z_c z_c' + penalty[r] * I) v_r = sum_c target[r, c] * z_c

where z_c is the design row of column c (its factors, with a trailing 1 for a bias) and the
sums run over the observed (r, c) pairs. `base` is a Gram matrix every row shares (the implicit
"everything else is a zero" of Hu, Koren & Volinsky 2008, in closed form instead of a sum over
all items). Each row's own Gram matrix is one sparse-dense product, in chunks of rows so memory
stays at `chunk x d^2` floats whatever the catalog's size.
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
    # Every column's outer product z z', flattened: one sparse-dense product then sums them
    # per row in C (the whole d x d square: reshaping it is cheaper than mirroring a half).
    outer = (design[:, :, None] * design[:, None, :]).reshape(len(design), d * d)
    gram = sparse.csr_matrix((weight, (rows, cols)), shape=(n_rows, len(design)))
    rhs = np.asarray(sparse.csr_matrix((target, (rows, cols)), shape=gram.shape) @ design)
    if extra is not None:
        rhs += extra
    out = np.empty((n_rows, d))
    diagonal = np.arange(d)
    for start in range(0, n_rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n_rows)
        lhs = np.asarray(gram[start:stop] @ outer).reshape(stop - start, d, d)
        if base is not None:
            lhs += base
        lhs[:, diagonal, diagonal] += penalty[start:stop, None]
        out[start:stop] = np.linalg.solve(lhs, rhs[start:stop, :, None])[..., 0]
    return out
