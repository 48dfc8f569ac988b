"""Batched ridge regressions: the half-step both of MF's alternating least squares share.

For every row r (a user, or an item) solve

    (base + sum_c weight[r, c] * z_c z_c' + penalty[r] * I) v_r = sum_c target[r, c] * z_c

where z_c is the design row of column c (its factors, with a trailing 1 for a bias) and the
sums run over the observed (r, c) pairs. `base` is a Gram matrix every row shares (the implicit
"everything else is a zero" of Hu, Koren & Volinsky 2008, in closed form instead of a sum over
all items). Each row's own Gram matrix comes from one sparse-dense product over the columns'
outer products (few columns) or one BLAS product per row (few rows), in chunks of rows so
memory stays at `chunk x d^2` floats whatever the catalog's size. A row with few pairs (at most
d/2: most items) is solved through Woodbury's identity instead, when every row shares
(base + penalty I)^-1 or it is a multiple of I.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from scipy import sparse
from scipy.linalg import blas

CHUNK_ROWS = 2048
PAIR_CHUNK = 1 << 16  # pairs per chunk of `pair_dots`
DUAL_MAX = 1.0  # rows with at most this many pairs per dimension are solved by Woodbury
# Past this size the columns' outer products (n_cols x d^2 floats) are not built: each row's
# Gram is then a BLAS product over its own pairs. At MovieLens-25M's 59,047 items and d = 51
# they would be 1.2 GB, and the sparse product over them runs 58 billion multiply-adds outside
# BLAS, 30 s a user step, where the per-row products take a few seconds.
OUTER_MAX_BYTES = 256 * 2**20


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
    out = np.empty((n_rows, d))
    counts = np.bincount(rows, minlength=n_rows)
    inverse = _shared_inverse(base, penalty, d)
    few = counts <= DUAL_MAX * d if inverse is not None else np.zeros(n_rows, dtype=bool)
    if few.any():
        _solve_dual(rows, cols, weight, design, counts, few, penalty, inverse, rhs, out)
    primal = np.flatnonzero(~few)
    if not len(primal):
        return out
    if len(primal) < n_rows:  # only the rows solved here: renumbered 0..len(primal)-1
        keep = ~few[rows]
        rows = (np.cumsum(~few) - 1)[rows[keep]]
        cols, weight = cols[keep], weight[keep]
    by_row = len(primal) < len(design) or len(design) * d * d * 8 > OUTER_MAX_BYTES
    grams = _grams_by_row if by_row else _grams_by_column
    diagonal = np.arange(d)
    for start, lhs in grams(rows, cols, weight, design, len(primal)):
        chunk = primal[start : start + len(lhs)]
        if base is not None:
            lhs += base
        lhs[:, diagonal, diagonal] += penalty[chunk, None]
        out[chunk] = np.linalg.solve(lhs, rhs[chunk, :, None])[..., 0]
    return out


def pair_dots(left: np.ndarray, right: np.ndarray, rows: np.ndarray, cols: np.ndarray):
    """left[rows[n]] . right[cols[n]] for every pair n (float array (n,)), a chunk of pairs
    at a time: the pairs x d matrices at once would be 2 x 3.8 GB at 25 million events and 19
    genres. Each dot is the same sum in the same order as in one piece."""
    out = np.empty(len(rows))
    for lo in range(0, len(rows), PAIR_CHUNK):
        hi = lo + PAIR_CHUNK
        out[lo:hi] = np.einsum("ng,ng->n", left[rows[lo:hi]], right[cols[lo:hi]])
    return out


def _shared_inverse(base, penalty, d) -> np.ndarray | float | None:
    """(base + penalty I)^-1 when every row shares it (1.0: base is None, the penalty differs
    per row and divides), or None when it does not exist or differs per row."""
    if base is None:
        return 1.0 if (penalty > 0).all() else None
    if not len(penalty) or (penalty != penalty[0]).any():
        return None
    try:
        return np.linalg.inv(base + penalty[0] * np.eye(d))
    except np.linalg.LinAlgError:
        return None


def _solve_dual(rows, cols, weight, design, counts, few, penalty, inverse, rhs, out) -> None:
    """The rows with few pairs (n <= DUAL_MAX d), by Woodbury's identity: with B = base + penalty I,
    Z the row's n design rows and W their weights,

        (B + Z'WZ)^-1 = B^-1 - B^-1 Z' (I + W Z B^-1 Z')^-1 W Z B^-1,

    an n x n solve instead of a d x d one: most items of a catalog have a handful of events."""
    order = by_row_order(rows)
    starts = np.concatenate([[0], np.cumsum(counts)])[:-1]
    if order is not None:
        cols, weight = cols[order], weight[order]
    for n in np.unique(counts[few]).tolist():  # one batch per number of pairs
        group = np.flatnonzero(few & (counts == n))
        scale = 1.0 / penalty[group, None] if isinstance(inverse, float) else None
        u = rhs[group] * scale if scale is not None else rhs[group] @ inverse  # B^-1 b
        if n == 0:
            out[group] = u
            continue
        pairs = starts[group, None] + np.arange(n)
        z = design[cols[pairs]]  # (m, n, d)
        zb = z * scale[:, :, None] if scale is not None else z @ inverse  # Z B^-1
        w = weight[pairs][:, :, None]
        m = (zb @ z.transpose(0, 2, 1)) * w
        m[:, np.arange(n), np.arange(n)] += 1.0  # I + W Z B^-1 Z'
        s = np.linalg.solve(m, w * (z @ u[:, :, None]))
        out[group] = u - (zb.transpose(0, 2, 1) @ s)[..., 0]


def by_row_order(rows: np.ndarray) -> np.ndarray | None:
    """The stable permutation that groups pairs by row, or None when they already are (a
    user step over a history grouped by user; callers that solve the same pairs each sweep
    pass them grouped once instead of sorting 25 million pairs per sweep)."""
    if len(rows) < 2 or bool(np.all(rows[:-1] <= rows[1:])):
        return None
    return np.argsort(rows, kind="stable")


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
    """Each row's Gram matrix Z_r' diag(w_r) Z_r as one BLAS call over its own pairs: no
    n_cols x d^2 matrix. Fast when there are fewer rows than columns (the user step over a
    large catalog). With no negative weight (ALS's are confidences and counts) the call is a
    symmetric rank-k update of sqrt(w) Z (`dsyrk`: half the multiply-adds of a full product,
    2.3 times faster at d = 51), its upper triangle mirrored."""
    d = design.shape[1]
    order = by_row_order(rows)
    by_row = rows
    if order is not None:
        by_row, cols, weight = rows[order], cols[order], weight[order]
    bounds = np.searchsorted(by_row, np.arange(n_rows + 1)).tolist()
    root = np.sqrt(weight) if not (weight < 0).any() else None
    lower = np.tril_indices(d, -1)
    for start in range(0, n_rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n_rows)
        lhs = np.empty((stop - start, d, d))
        for row in range(start, stop):
            lo, hi = bounds[row], bounds[row + 1]
            z = design[cols[lo:hi]]
            if root is None or hi == lo:  # (dsyrk refuses an empty product)
                lhs[row - start] = (z * weight[lo:hi, None]).T @ z
            else:
                lhs[row - start] = blas.dsyrk(1.0, z * root[lo:hi, None], trans=1)
        if root is not None:
            lhs[:, lower[0], lower[1]] = lhs[:, lower[1], lower[0]]
        yield start, lhs


class RankOneInverses:
    """The inverse P = A^-1 and the solution x = A^-1 b of one ridge system per user,

        A = base + sum_j delta_j y_j y_j',    b = sum_j target_j y_j,

    kept by Sherman-Morrison updates, one term at a time in the order the user's history lists
    them: a new history item costs O(d^2) instead of a re-solve over the whole history.

    Every user's pair (P, x) comes out of one chain of floating-point operations: from base^-1
    and zero, `_add` once per term, in history order. A user not held (new, evicted from this
    bounded cache, or whose history changed other than by a new last item) is rebuilt by the
    same chain, so the result is bit for bit the same whatever the cache held: a replay from a
    saved state, which starts with an empty cache, learns exactly what the live model learned.
    Valid while base and the items' rows stay fixed; the owner makes a new one when they change.
    """

    def __init__(self, base: np.ndarray, capacity: int = 512):
        # Fortran order and the upper triangle only: BLAS's symmetric kernels update it in place.
        self.start = np.asfortranarray(np.linalg.inv(base))
        self.capacity = capacity
        self._held: OrderedDict[int, list] = OrderedDict()  # user: [A^-1, x, entries]

    def solution(self, user: int, size: int, appended, history, term) -> np.ndarray:
        """A^-1 b for `user`, whose history now has `size` entries. `appended` is the term
        (y, delta, target) of the newest entry when it is the only change since the user was
        last seen (None: that entry adds no term), or False when anything else changed;
        `history` holds every entry, in order, and `term(*entry)` gives an entry's term (or
        None): they are read only to rebuild. The result is the cache's own array: copy it to
        keep it."""
        held = self._held.get(user)
        if held is not None and appended is not False and held[2] == size - 1:
            self._held.move_to_end(user)
            if appended is not None:
                _add(held[0], held[1], *appended)
            held[2] = size
            return held[1]
        inverse, solution = self.start.copy(order="F"), np.zeros(len(self.start))
        for entry in history:
            added = term(*entry)
            if added is not None:
                _add(inverse, solution, *added)
        self._held[user] = [inverse, solution, size]
        if len(self._held) > self.capacity:
            self._held.popitem(last=False)
        return solution


def _add(inverse: np.ndarray, solution: np.ndarray, y: np.ndarray, delta: float, target: float):
    """A += delta y y' and b += target y, in place on the upper triangle of A^-1 (Sherman-
    Morrison) and on x = A^-1 b:

        z = A^-1 y,  beta = delta / (1 + delta y'z),  A'^-1 = A^-1 - beta z z',
        x' = A'^-1 (b + target y) = x + (target - beta (y'x + target y'z)) z.

    BLAS calls, not numpy's: at d of about 50 numpy's call overhead is most of the cost."""
    z = blas.dsymv(1.0, inverse, y)
    yz = blas.ddot(y, z)
    beta = delta / (1.0 + delta * yz)
    blas.daxpy(z, solution, a=target - beta * (blas.ddot(y, solution) + target * yz))
    blas.dsyr(-beta, z, a=inverse, overwrite_a=True)
