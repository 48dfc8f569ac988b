"""Item-based collaborative filtering with incrementally maintained co-occurrence.

Two items are similar when the same people like them:

    sim(i, j) = c_ij / (sqrt(c_i * c_j) + shrinkage)

where c_i counts the users with a positive summed weight on i and c_ij those positive on both
(cosine on binary data, shrunk towards 0 for pairs seen by few users). A user's score for j sums,
over the items i the user touched, the user's signed weight on i times sim(i, j), keeping only
j among i's `neighbours` most similar items; a dislike therefore pushes i's neighbours down.

Each item's row of co-occurrence counts is a pair of numpy arrays sorted by item id (a sparse
row), so an event updates O(items of that user) rows with a binary search, scoring reads only
the rows of the user's items, and nothing of size items x items is ever built.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from recsys.algorithms.base import Explanation, Recommender, UpdateInfo
from recsys.algorithms.config import Config, param
from recsys.events import Event, EventFrame

PROFILE_LIMIT = 50  # a user's strongest items that vote; keeps scoring O(50 rows)


@dataclass(frozen=True)
class ItemKNNConfig(Config):
    neighbours: int = param(30, 1, 500, "similar items kept per item (k)")
    shrinkage: float = param(10.0, 0.0, 1000.0, "damps similarities seen by few users")


class ItemKNN(Recommender):
    name = "item_knn"
    config_class = ItemKNNConfig
    summary = "Item-based CF: people who liked what you liked also liked…, updated per event."
    config: ItemKNNConfig

    def _reset(self) -> None:
        n = self.catalog.n
        self._count = np.zeros(n)  # users positive on each item
        self._ids = [np.empty(0, dtype=np.int64) for _ in range(n)]  # co-occurring items
        self._together = [np.empty(0) for _ in range(n)]  # users positive on both
        # Changes not yet merged into a row: an event appends here in O(1) per pair and a row
        # is merged when it is read, so a like costs microseconds, not a numpy insert per pair.
        self._pending: list[list[tuple[int, float]]] = [[] for _ in range(n)]

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        n = self.catalog.n
        keys = []
        for seen in self._seen:
            items = np.array(sorted(i for i, w in seen.items() if w > 0), dtype=np.int64)
            self._count[items] += 1.0
            if len(items) > 1:
                a, b = np.meshgrid(items, items, indexing="ij")
                off_diagonal = a != b
                keys.append(a[off_diagonal] * n + b[off_diagonal])
        if not keys:
            return
        unique, counts = np.unique(np.concatenate(keys), return_counts=True)
        rows, cols = np.divmod(unique, n)
        bounds = np.searchsorted(rows, np.arange(n + 1))
        for item in range(n):
            lo, hi = bounds[item], bounds[item + 1]
            self._ids[item] = cols[lo:hi].copy()
            self._together[item] = counts[lo:hi].astype(np.float64)

    def _row(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """The item's merged row: co-occurring item ids (sorted) and their counts."""
        pending = self._pending[item]
        if pending:
            self._pending[item] = []
            changed, where = np.unique(np.array([p[0] for p in pending]), return_inverse=True)
            delta = np.bincount(where, weights=np.array([p[1] for p in pending]))
            ids, together = self._ids[item], self._together[item].copy()
            pos = np.searchsorted(ids, changed)
            found = pos < len(ids)
            found[found] = ids[pos[found]] == changed[found]
            together[pos[found]] += delta[found]
            ids = np.concatenate([ids, changed[~found]])
            together = np.concatenate([together, delta[~found]])
            order = np.argsort(ids, kind="stable")
            self._ids[item], self._together[item] = ids[order], together[order]
        return self._ids[item], self._together[item]

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        item = event.item
        now = self._seen[user][item]
        was = now - weight
        before = self._score_one(user, item)
        changed = (was > 0) != (now > 0)
        if changed:
            sign = 1.0 if now > 0 else -1.0
            self._count[item] += sign
            for other in sorted(i for i, w in self._seen[user].items() if w > 0 and i != item):
                self._pending[item].append((other, sign))
                self._pending[other].append((item, sign))
        after = self._score_one(user, item)
        return UpdateInfo(
            self.name,
            score_before=before,
            score_after=after,
            details={"positive": now > 0, "co_occurrence_changed": changed},
        )

    def _similarities(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        ids, together = self._row(item)
        sims = together / (
            np.sqrt(self._count[item] * self._count[ids]) + self.config.shrinkage + 1e-12
        )
        return ids, sims

    def _neighbours(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """The item's `neighbours` most similar items and their similarities."""
        ids, sims = self._similarities(item)
        k = self.config.neighbours
        if len(sims) > k:
            keep = np.argpartition(-sims, k - 1)[:k]  # rows are sorted: the same every time
            ids, sims = ids[keep], sims[keep]
        return ids, sims

    def _profile(self, user: int) -> list[tuple[int, float]]:
        """The user's items that vote, in item order (a fixed summation order)."""
        seen = [(i, w) for i, w in self._seen[user].items() if w != 0]
        if len(seen) > PROFILE_LIMIT:
            seen = sorted(seen, key=lambda p: (-abs(p[1]), p[0]))[:PROFILE_LIMIT]
        return sorted(seen)

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        scores = np.zeros(self.catalog.n)
        for item, weight in self._profile(user):
            others, sims = self._neighbours(item)
            scores[others] += weight * sims
        return scores

    def _score_one(self, user: int, target: int) -> float:
        """The user's score for one item without the top-k cut (for the learning log); reads
        only the target's row, since co-occurrence is symmetric."""
        profile = self._profile(user)
        if not profile:
            return 0.0
        items = np.array([i for i, _ in profile], dtype=np.int64)
        weights = np.array([w for _, w in profile])
        ids, together = self._row(target)
        pos = np.minimum(np.searchsorted(ids, items), max(len(ids) - 1, 0))
        hit = (ids[pos] == items) if len(ids) else np.zeros(len(items), dtype=bool)
        sims = together[pos[hit]] / (
            np.sqrt(self._count[target] * self._count[items[hit]]) + self.config.shrinkage + 1e-12
        )
        return float(weights[hit] @ sims)

    def _contributions(self, user: int, target: int) -> list[tuple[int, float]]:
        parts = []
        for item, weight in self._profile(user):
            others, sims = self._neighbours(item)
            hit = np.flatnonzero(others == target)
            if len(hit):
                parts.append((item, float(weight * sims[hit[0]])))
        return sorted(parts, key=lambda p: -abs(p[1]))

    def _explain(self, user: int, item: int) -> Explanation:
        related = self._contributions(user, item)
        parts = {f"from “{self.catalog.titles[i]}”": c for i, c in related[:5]}
        rest = sum(c for _, c in related[5:])
        if rest:
            parts["from other items"] = rest
        score = sum(c for _, c in related)
        if related and related[0][1] > 0:
            reason = (
                f"people who liked “{self.catalog.titles[related[0][0]]}” liked this too"
                f" ({len(related)} of your items vote, score {score:.2f})"
            )
        elif related:
            reason = f"close to items you did not like (score {score:.2f})"
        else:
            reason = "no neighbour of your items: shown because little else scores"
        return Explanation(score, parts or {"no similar items": 0.0}, reason, related)

    def _taste(self, user: int) -> np.ndarray:
        return self._scores(user, None)

    def _state(self) -> dict[str, np.ndarray]:
        for item in range(self.catalog.n):
            self._row(item)
        lengths = np.array([len(ids) for ids in self._ids], dtype=np.int64)
        return {
            "count": self._count.copy(),
            "lengths": lengths,
            "ids": np.concatenate(self._ids) if lengths.sum() else np.empty(0, np.int64),
            "together": np.concatenate(self._together) if lengths.sum() else np.empty(0),
        }

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self._count = state["count"].copy()
        bounds = list(pairwise(np.concatenate([[0], np.cumsum(state["lengths"])]).tolist()))
        self._ids = [state["ids"][lo:hi].copy() for lo, hi in bounds]
        self._together = [state["together"][lo:hi].copy() for lo, hi in bounds]
        self._pending = [[] for _ in range(self.catalog.n)]
