"""Every user's history (item -> summed event weight) in compact arrays, for the base class.

A history is frozen when a model is fitted or loaded: compressed sparse rows (CSR) of every
user's items and summed weights, a few bytes per (user, item) pair instead of a Python dict per
user (a MovieLens-25M-sized log has 25 million pairs). Online learning touches few users, so a
user's row is copied into a small overlay of dicts on its first change and updated there.

>>> history = History.from_events(np.array([1, 0, 1]), np.array([4, 2, 4]), np.ones(3), 2)
>>> history[1], history.add(0, 3, -1.0), history[0]
({4: 2.0}, -1.0, {2: 1.0, 3: -1.0})
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class History:
    """Per-user histories: for user row u, the items it interacted with and the summed
    (signed, unitless) event weight of each.

    Frozen part: `indptr` (n_frozen + 1,) int64 bounds user u's pairs in `items` (pairs,)
    int32 and `weights` (pairs,) float64, read-only. Overlay: {user row: {item: weight}} for
    the users changed since, in a dict's order (a new item last). Rows past the frozen ones
    (users added online) are empty until their first event.
    """

    def __init__(self, indptr: np.ndarray, items: np.ndarray, weights: np.ndarray, n_users: int):
        self._indptr, self._items, self._weights = indptr, items, weights
        for array in (indptr, items, weights):
            array.flags.writeable = False  # frozen: `arrays` and a state hand them out as is
        self._n = n_users
        self._overlay: dict[int, dict[int, float]] = {}

    @classmethod
    def empty(cls, n_users: int = 0) -> History:
        """`n_users` users with no history."""
        return cls(np.zeros(1, np.int64), np.empty(0, np.int32), np.empty(0), n_users)

    @classmethod
    def from_events(
        cls, user_rows: np.ndarray, items: np.ndarray, weights: np.ndarray, n_users: int
    ) -> History:
        """The histories of a log's events (user rows, item ids and weights, one per event,
        in seq order): the weights of each (user, item) pair summed, items in id order.

        The sum runs in seq order with Kahan's compensation, so it gives the same floats as
        the pandas groupby-sum it replaces (a 0.05-weight view seen three times is otherwise
        an ulp apart)."""
        user_rows, items = np.asarray(user_rows, np.int64), np.asarray(items, np.int64)
        weights = np.asarray(weights, np.float64)
        if not len(items):
            return cls.empty(n_users)
        width = int(items.max()) + 1
        key = user_rows * width + items
        order = np.argsort(key, kind="stable")  # stable: each pair's events stay in seq order
        key, weights = key[order], weights[order]
        del order
        first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        pairs = key[first]
        del key
        return cls(
            np.searchsorted(pairs // width, np.arange(n_users + 1)).astype(np.int64),
            (pairs % width).astype(_item_type(width)),
            _kahan_sums(weights, first),
            n_users,
        )

    @classmethod
    def from_state(
        cls, users: np.ndarray, items: np.ndarray, weights: np.ndarray, n_users: int
    ) -> History:
        """The histories a state's arrays hold (one row per pair: user row, item, summed
        weight), in their order within each user. `state` writes them grouped by user, each
        pair once, and they are taken as they are; other orders are grouped here, a pair given
        twice keeping its first place and last weight (as dicts filled row by row would). The
        arrays are copied: a loaded state's arrays are views of one buffer (the whole state's
        bytes) that would otherwise stay alive."""
        users, weights = np.asarray(users, np.int64), np.asarray(weights, np.float64)
        items = np.asarray(items, np.int64)
        if len(users) and np.any(users[1:] < users[:-1]):
            key = users * (int(items.max()) + 1) + items
            order = np.argsort(key, kind="stable")
            key = key[order]
            starts = np.r_[True, key[1:] != key[:-1]]
            ends = np.r_[starts[1:], True]
            weights = weights.copy()
            weights[order[starts]] = weights[order[ends]]  # the last weight, at the first place
            keep = np.sort(order[starts])
            keep = keep[np.argsort(users[keep], kind="stable")]
            users, items, weights = users[keep], items[keep], weights[keep]
        return cls(
            np.searchsorted(users, np.arange(n_users + 1)).astype(np.int64),
            items.astype(_item_type(int(items.max()) + 1 if len(items) else 0)),
            np.array(weights, np.float64, copy=True),
            n_users,
        )

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, user: int) -> dict[int, float]:
        """User `user`'s item -> summed weight (the overlay's own dict: read it, never write)."""
        held = self._overlay.get(user)
        if held is not None:
            return held
        lo, hi = self._bounds(user)
        return dict(zip(self._items[lo:hi].tolist(), self._weights[lo:hi].tolist(), strict=True))

    def __iter__(self) -> Iterator[dict[int, float]]:
        return (self[user] for user in range(self._n))

    def size(self, user: int) -> int:
        """How many distinct items the user has a summed weight for (zero weights count)."""
        held = self._overlay.get(user)
        if held is not None:
            return len(held)
        lo, hi = self._bounds(user)
        return hi - lo

    def items_of(self, user: int) -> np.ndarray:
        """The user's items, in the history's order, as an int array (pairs,)."""
        held = self._overlay.get(user)
        if held is not None:
            return np.fromiter(held, np.int64, len(held))
        lo, hi = self._bounds(user)
        return self._items[lo:hi]

    def pairs(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """The user's items (int) and summed weights (float64), in the history's order."""
        held = self._overlay.get(user)
        if held is not None:
            return self.items_of(user), np.fromiter(held.values(), np.float64, len(held))
        lo, hi = self._bounds(user)
        return self._items[lo:hi], self._weights[lo:hi]

    def add(self, user: int, item: int, weight: float) -> float:
        """Add one event's `weight` to the user's pair with `item`; returns the new sum. The
        user's frozen row is copied into the overlay first."""
        held = self._overlay.get(user)
        if held is None:
            held = self._overlay[user] = self[user]
        held[item] = summed = held.get(item, 0.0) + weight
        return summed

    def append_user(self) -> int:
        """Add a user with no history; returns its row."""
        self._n += 1
        return self._n - 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair as (user rows int64, items, summed weights float64), each (pairs,),
        grouped by user in row order, each user's items in the history's order. Without an
        overlay the items and weights are the frozen (read-only) arrays themselves."""
        frozen = len(self._indptr) - 1
        rows = np.arange(self._n, dtype=np.int64)
        sizes = np.zeros(self._n, np.int64)
        sizes[:frozen] = np.diff(self._indptr)
        if not self._overlay:
            return np.repeat(rows, sizes), self._items, self._weights
        owner = np.repeat(rows[:frozen], sizes[:frozen])  # each frozen pair's user
        changed = np.fromiter(self._overlay, np.int64, len(self._overlay))
        sizes[changed] = [len(self._overlay[user]) for user in changed.tolist()]
        starts = np.r_[0, np.cumsum(sizes)]
        items = np.empty(starts[-1], self._items.dtype)
        weights = np.empty(starts[-1])
        # An unchanged user's frozen pairs shift by how far its row's start moved; a changed
        # user's dict fills its new row (a Python loop over the overlay's pairs only).
        keep = np.ones(self._n, bool)
        keep[changed] = False
        keep = keep[owner]
        moved = np.flatnonzero(keep) + (starts[:frozen] - self._indptr[:-1])[owner[keep]]
        items[moved], weights[moved] = self._items[keep], self._weights[keep]
        for user in changed.tolist():
            held, lo = self._overlay[user], starts[user]
            items[lo : lo + len(held)] = np.fromiter(held, np.int64, len(held))
            weights[lo : lo + len(held)] = np.fromiter(held.values(), np.float64, len(held))
        return np.repeat(rows, sizes), items, weights

    def _bounds(self, user: int) -> tuple[int, int]:
        if user + 1 >= len(self._indptr):  # a user added online, not yet changed
            return 0, 0
        return int(self._indptr[user]), int(self._indptr[user + 1])


def _item_type(width: int) -> type:
    """int32 for item ids below 2**31 (every catalog), else int64."""
    return np.int32 if width <= np.iinfo(np.int32).max else np.int64


def _kahan_sums(weights: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The sum of each run of `weights` starting at the indices `first`, term by term in order
    with Kahan's compensation, exactly as pandas' groupby-sum (NaN terms skipped, a
    compensation that is not finite reset). Vectorised over runs: step k adds the k-th term of
    every run that long, so only runs of several events cost memory beyond the result; the last
    few long runs are finished one term at a time."""
    counts = np.diff(np.r_[first, len(weights)])
    # The first term: 0.0 + w (a -0.0 becomes 0.0, as in pandas), compensation still zero.
    sums = weights[first] + 0.0
    sums[np.isnan(sums)] = 0.0
    active = np.flatnonzero(counts > 1)
    total, compensation, step = sums[active], np.zeros(len(active)), 1
    while len(active) > 8:
        term = weights[first[active] + step]
        with np.errstate(invalid="ignore"):  # infinite terms
            y = term - compensation
            t = total + y
            c = (t - total) - y
        c[~np.isfinite(c)] = 0.0
        added = ~np.isnan(term)
        total, compensation = np.where(added, t, total), np.where(added, c, compensation)
        step += 1
        more = counts[active] > step
        sums[active[~more]] = total[~more]
        active, total, compensation = active[more], total[more], compensation[more]
    for run, run_total, c in zip(
        active.tolist(), total.tolist(), compensation.tolist(), strict=True
    ):
        for term in weights[first[run] + step : first[run] + counts[run]].tolist():
            if term == term:
                y = term - c
                t = run_total + y
                c = (t - run_total) - y
                c = c if np.isfinite(c) else 0.0
                run_total = t
        sums[run] = run_total
    return sums
