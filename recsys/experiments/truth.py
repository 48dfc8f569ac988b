"""Ground-truth measures of a simulated run, in memory linear in people and impressions.

The ideal list of each person (their best k unseen items) needs their whole row of true
utilities; it is computed one block of people at a time (`Utilities.blocks`), so no
(people, items) array is ever held whole.

>>> from recsys.choice import Utilities
>>> utilities = Utilities(np.eye(3), np.zeros(3), np.array([[3.0, 2.0, 1.0, 0.0]]))
>>> ideal_utility(utilities, np.array([0]), [{0: 1.0}], k=1).tolist()  # item 0 was seen
[2.0]
"""

from __future__ import annotations

import numpy as np

from recsys.choice import Utilities


def ideal_utility(
    utilities: Utilities, rows: np.ndarray, seen: list[dict[int, float]], k: int
) -> np.ndarray:
    """(N,): the mean true utility of each person's ideal list of k items among those the
    person they are served as (`rows` (N,) into `seen`) has not seen; 0 when none is left."""
    seen_items = [np.fromiter(s, dtype=np.int64, count=len(s)) for s in seen]
    counts = np.array([len(a) for a in seen_items], dtype=np.int64)
    out = np.empty(len(utilities))
    for start, block in utilities.blocks():
        here = rows[start : start + len(block)]
        lengths = counts[here]
        if lengths.sum():
            items = np.concatenate([seen_items[r] for r in here])
            block[np.repeat(np.arange(len(block)), lengths), items] = -np.inf
        m = min(k, block.shape[1])
        if m == 1:  # a one-item list: the row's best, without partitioning it
            top = block.max(axis=1, keepdims=True)
        else:
            top = np.partition(block, block.shape[1] - m, axis=1)[:, block.shape[1] - m :]
            top = np.sort(top, axis=1)[:, ::-1]  # best first, as a sorted list is summed
        finite = np.isfinite(top)
        count = finite.sum(axis=1)
        total = np.where(finite, top, 0.0).sum(axis=1)
        out[start : start + len(block)] = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    return out


def arm_regret(items: np.ndarray, utilities: Utilities, ideal: np.ndarray) -> float:
    """Mean regret of showing `items` (N, k; -1 pads) to everyone: ideal minus the list's
    mean true utility, from the (N, k) pairs shown only."""
    rows = np.arange(len(items))[:, None]
    shown = np.where(items >= 0, utilities[rows, np.maximum(items, 0)], np.nan)
    return float(np.mean(ideal - np.nanmean(shown, axis=1)))


def served_truth(frame, rows: np.ndarray, utilities: Utilities, ideal: np.ndarray):
    """Expected CTR and regret@k of lists as served: `frame` has one row per impression and
    `rows` (impressions,) is each impression's person. Returns (ctr, regret)."""
    frame = frame.assign(utility=utilities[rows, frame["item_id"].to_numpy()], row=rows)
    per_list = frame.groupby("request_id").agg(utility=("utility", "mean"), row=("row", "first"))
    regret = ideal[per_list["row"].to_numpy()] - per_list["utility"].to_numpy()
    return float(frame["true_click"].mean()), float(regret.mean())
