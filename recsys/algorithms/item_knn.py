"""Item-based collaborative filtering with incrementally maintained co-occurrence.

Two items are similar when the same people like them:

    sim(i, j) = c_ij / (sqrt(c_i * c_j) + shrinkage)

where c_i counts the users with a positive summed weight on i and c_ij those positive on both
(cosine on binary data, shrunk towards 0 for pairs seen by few users). A user's score for j sums,
over every item i the user touched, the user's signed weight on i times sim(i, j), keeping only
j among i's `neighbours` most similar items; a dislike therefore pushes i's neighbours down. A
small popularity prior (`recsys/algorithms/reasons.py`) is added for everyone, so a newcomer's
list is on the same scale as everybody else's.

The similarities that score a user leave that user's own events out (the counts minus their
own co-occurrences): your like changes other people's neighbourhoods, while your own scores
move only through your weights. That is what makes feedback keep its direction: a like raises
every neighbour of the liked item and lowers nothing, where your own co-occurrences would have
pushed other items out of a top-k list and taken their votes away.

Each item's row of co-occurrence counts is a pair of numpy arrays sorted by item id (a sparse
row), so an event updates O(items of that user) rows with a binary search, scoring reads only
the rows of the user's items, and nothing of size items x items is ever built. The rows are
the one part of the lab above linear in events (about the sum over users of their positive
items squared: 0.8 GB for a 1M-rating MovieLens-like import), so they are kept in 32 bits and
never stored: a snapshot holds the users' items, from which loading recounts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from recsys.algorithms.base import Explanation, Recommender, UpdateInfo, lead_part
from recsys.algorithms.config import Config, param
from recsys.algorithms.reasons import NOTHING_POSITIVE, PRIOR_PART, popularity_prior, prior_reason
from recsys.events import Event, EventFrame

PAIRS_PER_BLOCK = 5_000_000  # about the co-occurrences one block of the product holds
SHOWN = 5  # voting items named in an explanation; the rest are summed
REST = "from other items"


@dataclass(frozen=True)
class ItemKNNConfig(Config):
    neighbours: int = param(30, 1, 500, "similar items kept per item (k)")
    shrinkage: float = param(10.0, 0.0, 1000.0, "damps similarities seen by few users")
    popularity_prior: float = param(0.3, 0.0, 5.0, "weight of the prior a newcomer's list shows")


class ItemKNN(Recommender):
    name = "item_knn"
    config_class = ItemKNNConfig
    summary = "Item-based CF: people who liked what you liked also liked…, updated per event."
    scale = "similarity"
    config: ItemKNNConfig

    def _reset(self) -> None:
        n = self.catalog.n
        self._count = np.zeros(n)  # users positive on each item
        # Co-occurring items and the users positive on both: whole numbers, exact in 32 bits,
        # in half the memory (a row per item is the one part of this model above linear).
        self._ids = [np.empty(0, dtype=np.int32) for _ in range(n)]
        self._together = [np.empty(0, dtype=np.float32) for _ in range(n)]
        # Changes not yet merged into a row: an event appends here in O(1) per pair and a row
        # is merged when it is read, so a like costs microseconds, not a numpy insert per pair.
        self._pending: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        self._lists_cache: tuple[int, list] | None = None  # (user, votes): see `_votes`

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        self._count_pairs()

    def _count_pairs(self) -> None:
        """Co-occurrence counts from the users' positive items, as sparse products (scipy): X is
        users x items, 1 where the user is positive on the item, and X'X counts the users
        positive on both. A block of items at a time, so the product never holds more than a
        block's rows beside the counts kept."""
        n = self.catalog.n
        users, items, weights = self._seen.arrays()
        positive = weights > 0
        if not positive.any():
            return
        x = sparse.csr_matrix(
            (np.ones(int(positive.sum())), (users[positive], items[positive])),
            shape=(len(self._seen), n),
            dtype=np.float64,
        )
        self._count += np.asarray(x.sum(axis=0)).ravel()
        columns = x.tocsc()
        pairs = int((np.diff(x.indptr).astype(np.int64) ** 2).sum())  # bounds the product's size
        block = max(256, int(n * PAIRS_PER_BLOCK / max(pairs, 1)))
        rows = columns.T  # items x users, as CSR
        for start in range(0, n, block):
            stop = min(n, start + block)
            # Items x block, turned to columns: a conversion lists each column's rows in order,
            # so the rows come sorted in one linear pass instead of a sort per row.
            together = (rows @ columns[:, start:stop].tocsr()).tocsc()
            for row in range(stop - start):
                lo, hi = together.indptr[row], together.indptr[row + 1]
                ids = together.indices[lo:hi].astype(np.int32)
                keep = ids != start + row  # an item does not co-occur with itself
                self._ids[start + row] = ids[keep]
                self._together[start + row] = together.data[lo:hi][keep].astype(np.float32)

    def _row(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """The item's merged row: co-occurring item ids (sorted) and their counts."""
        pending = self._pending[item]
        if pending:
            self._pending[item] = []
            changed, where = np.unique(np.array([p[0] for p in pending]), return_inverse=True)
            changed = changed.astype(np.int32)
            delta = np.bincount(where, weights=np.array([p[1] for p in pending]))
            delta = delta.astype(np.float32)  # whole numbers: exact
            ids, together = self._ids[item], self._together[item].copy()
            pos = np.searchsorted(ids, changed)
            found = pos < len(ids)
            found[found] = ids[pos[found]] == changed[found]
            together[pos[found]] += delta[found]
            ids = np.concatenate([ids, changed[~found]])
            together = np.concatenate([together, delta[~found]])
            order = np.argsort(ids, kind="stable")
            order = order[together[order] != 0]  # as a recount from the users' items has it
            self._ids[item], self._together[item] = ids[order], together[order]
        return self._ids[item], self._together[item]

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        self._lists_cache = None
        item = event.item
        seen = self._seen[user]
        now = seen[item]
        was = now - weight
        changed = (was > 0) != (now > 0)
        if changed:
            sign = 1.0 if now > 0 else -1.0
            self._count[item] += sign
            for other in sorted(i for i, w in seen.items() if w > 0 and i != item):
                self._pending[item].append((other, sign))
                self._pending[other].append((item, sign))
        # The liked item's own similarity part does not change (no item votes for itself and
        # the user's own co-occurrences are left out): only its prior can move.
        similar = self._score_one(user, item)
        prior = self.config.popularity_prior
        count = self._popularity[item]
        return UpdateInfo(
            self.name,
            user_change=abs(weight),
            score_before=similar + float(popularity_prior(count - (weight > 0), prior)),
            score_after=similar + float(popularity_prior(count, prior)),
            details={"positive": now > 0, "co_occurrence_changed": changed},
        )

    def _similarities(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """The item's similarities with every item it co-occurs with, over all users."""
        ids, together = self._row(item)
        sims = together / (
            np.sqrt(self._count[item] * self._count[ids]) + self.config.shrinkage + 1e-12
        )
        return ids, sims

    def _neighbours(self, item: int, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The item's `neighbours` most similar items and their similarities, from everyone's
        events but those of the user whose positive items are 1.0 in `positive` (per item)."""
        ids, together = self._row(item)
        mine = positive[ids]
        item_mine = positive[item]
        sims = (together - mine * item_mine) / (
            np.sqrt((self._count[item] - item_mine) * (self._count[ids] - mine))
            + self.config.shrinkage
            + 1e-12
        )
        k = self.config.neighbours
        if len(sims) > k:
            keep = np.argpartition(-sims, k - 1)[:k]  # rows are sorted: the same every time
            ids, sims = ids[keep], sims[keep]
        return ids, sims

    def _votes(self, user: int) -> tuple[list[int], list[float], np.ndarray]:
        """The user's items that vote (every one with a non-zero summed weight, in item
        order), their weights, and 1.0 for each of the user's positive items (0.0 elsewhere)."""
        seen = self._seen[user]
        items = sorted(i for i, w in seen.items() if w != 0)
        weights = [seen[i] for i in items]
        positive = np.zeros(self.catalog.n)
        positive[[i for i, w in zip(items, weights, strict=True) if w > 0]] = 1.0
        return items, weights, positive

    def _lists(self, user: int) -> list[tuple[int, float, np.ndarray, np.ndarray]]:
        """Each voting item, its weight and its neighbour list for this user; kept for the
        user until the next event, since a ranking's reasons read the lists its scores read."""
        if self._lists_cache is not None and self._lists_cache[0] == user:
            return self._lists_cache[1]
        items, weights, positive = self._votes(user)
        lists = [
            (item, weight, *self._neighbours(item, positive))
            for item, weight in zip(items, weights, strict=True)
        ]
        self._lists_cache = (user, lists)
        return lists

    def _prior(self, items: slice | int = slice(None)) -> np.ndarray:
        return popularity_prior(self._popularity[items], self.config.popularity_prior)

    def _cold_scores(self) -> np.ndarray:
        return self._prior()

    def _similar(self, user: int) -> np.ndarray:
        """The similarity part of the user's scores (without the prior)."""
        lists = self._lists(user)
        if not lists:
            return np.zeros(self.catalog.n)
        ids = [others for _, _, others, _ in lists]
        values = [weight * sims for _, weight, _, sims in lists]
        return np.bincount(
            np.concatenate(ids), weights=np.concatenate(values), minlength=self.catalog.n
        )

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        return self._similar(user) + self._prior()

    def _taste(self, user: int) -> np.ndarray:
        return self._similar(user)

    def _score_one(self, user: int, target: int) -> float:
        """The similarity part of the user's score for one item without the top-k cut (for
        the learning log); reads only the target's row, since co-occurrence is symmetric."""
        items, weights, positive = self._votes(user)
        if not items:
            return 0.0
        items, weights = np.array(items, dtype=np.int64), np.array(weights)
        ids, together = self._row(target)
        pos = np.minimum(np.searchsorted(ids, items), max(len(ids) - 1, 0))
        hit = (ids[pos] == items) if len(ids) else np.zeros(len(items), dtype=bool)
        voters = items[hit]
        mine, target_mine = positive[voters], positive[target]
        sims = (together[pos[hit]] - mine * target_mine) / (
            np.sqrt((self._count[target] - target_mine) * (self._count[voters] - mine))
            + self.config.shrinkage
            + 1e-12
        )
        return float(weights[hit] @ sims)

    def _related(self, user: int, targets: list[int]) -> dict[int, list[tuple[int, float]]]:
        """For each target: the user's items whose neighbour lists hold it and their
        contribution (weight x similarity), largest in size first."""
        wanted = np.zeros(self.catalog.n, dtype=bool)
        wanted[targets] = True
        related: dict[int, list[tuple[int, float]]] = {t: [] for t in targets}
        for item, weight, others, sims in self._lists(user):
            hit = wanted[others]
            for other, sim in zip(others[hit].tolist(), sims[hit].tolist(), strict=True):
                related[other].append((item, weight * sim))
        return {t: sorted(r, key=lambda p: (-abs(p[1]), p[0])) for t, r in related.items()}

    def _explanation(
        self, item: int, related: list[tuple[int, float]], cold: bool = False
    ) -> Explanation:
        parts: dict[str, float] = {}
        for other, contribution in related[:SHOWN]:
            label = f"from “{self.catalog.titles[other]}”"
            parts[label if label not in parts else f"{label} #{other}"] = contribution
        if len(related) > SHOWN:
            parts[REST] = sum(c for _, c in related[SHOWN:])
        prior = float(self._prior(item))
        parts[PRIOR_PART] = prior
        voted = sum(c for _, c in related)
        lead = lead_part(parts)
        count = int(self._popularity[item])
        near = "no history of yours yet" if cold else "nothing you touched is near it"
        if lead is None:
            reason = (
                f"{NOTHING_POSITIVE}: close to items you did not like ({voted:+.2f})"
                if related
                else f"{NOTHING_POSITIVE}: {near}, nobody liked it yet"
            )
        elif lead == PRIOR_PART:
            reason = prior_reason(prior, count, f"your items add {voted:+.2f}" if related else near)
        elif lead == REST:
            reason = (
                f"liked together with many of yours: {REST} {parts[REST]:+.2f} "
                f"({len(related) - SHOWN} items)"
            )
        else:
            title = lead.removeprefix("from ").split(" #")[0]
            reason = (
                f"people who liked {title} liked this too ({parts[lead]:+.2f}; "
                f"{len(related)} of your items vote)"
            )
        return Explanation(voted + prior, parts, reason, related, lead)

    def _explain(self, user: int, item: int) -> Explanation:
        return self._explanation(item, self._related(user, [item])[item])

    def _reasons(self, user: int, items: list[int]) -> list[str]:
        related = self._related(user, items)
        return [self._explanation(item, related[item]).reason for item in items]

    def _cold_explain(self, item: int) -> Explanation:
        return self._explanation(item, [], cold=True)

    def _state(self) -> dict[str, np.ndarray]:
        # The counts follow from the users' items, which the base state holds: a snapshot stays
        # linear in events (ml-latest-small: 303 MB of pair counts otherwise).
        return {}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        # A snapshot from before may carry the counts ("ids", "together"): recounted alike.
        self._reset()
        self._count_pairs()
