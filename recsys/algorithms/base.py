"""The shared base of every algorithm: it owns the edge cases so a subclass holds only its maths.

The base maps user ids to rows, remembers what each user has interacted with (to exclude it
and to explain), keeps an all-time popularity count as the fallback for users it has never seen,
selects the top k with `argpartition`, and serialises its part of the state. A subclass
implements `_reset`, `_fit`, `_learn_one`, `_scores`, `_explain`, `_state` and `_load_state`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recsys.algorithms.catalog import Catalog
from recsys.algorithms.config import Config
from recsys.algorithms.history import History
from recsys.events import DEFAULT_WEIGHTS, Event, EventFrame, EventWeights


@dataclass
class UpdateInfo:
    """What one online update changed, for the learning log and the learning message."""

    algorithm: str
    user_change: float = 0.0  # L2 norm of the change of the user's learned vector/profile
    item_change: float = 0.0  # L2 norm of the change of the item's learned vector
    score_before: float = 0.0  # the event's item, for this user
    score_after: float = 0.0
    duration_ms: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def log_row(self, event: Event, model: str) -> tuple:
        """The learning log's row of this update of `model` (`mf`, `mf@candidate`)."""
        return (
            event.seq,
            model,
            event.user,
            event.item,
            event.kind,
            self.user_change,
            self.item_change,
            self.score_before,
            self.score_after,
            self.duration_ms,
            json.dumps(self.details),
        )


# Parts every item of one user's list shares (they say nothing about why *this* item): a
# reason never leads with them.
BASELINE_PARTS = frozenset({"global mean", "user bias"})

# What each algorithm's score means, shown beside it on cards and in the CLI.
SCALES = {
    "preference": "estimated preference (1: would choose it, 0: untouched, -1: turned down)",
    "stars": "predicted stars",
    "similarity": "similarity to what you liked",
    "estimated reward": "estimated chance of a positive reaction",
    "popularity": "popularity (log of positive events plus rating lift)",
    "blend": "z-scored blend of its components",
}


def lead_part(parts: dict[str, float]) -> str | None:
    """The name of the largest positive part that is not a baseline (None if none is
    positive): what a one-line reason must be about."""
    candidates = [(v, k) for k, v in parts.items() if k not in BASELINE_PARTS and v > 0]
    return max(candidates, key=lambda p: p[0])[1] if candidates else None


@dataclass
class Explanation:
    """A score broken into named parts a student can read, plus a one-line reason.

    `lead` names the part the reason is about: by contract the largest positive part that is
    not a baseline (`lead_part`), so a reason never contradicts the numbers beside it.
    """

    score: float
    parts: dict[str, float]
    reason: str
    related: list[tuple[int, float]] = field(default_factory=list)  # (item, contribution)
    lead: str | None = None


class Recommender:
    name: ClassVar[str]
    config_class: ClassVar[type[Config]]
    summary: ClassVar[str] = ""
    personalized: ClassVar[bool] = True
    # Explorers rank uncertain items high on purpose; the contract then checks what they learned
    # (the first part of `explain`, by convention the learned estimate) instead of the ranking.
    explores: ClassVar[bool] = False
    # A key of SCALES: what the score means. A user with no history is scored on the same scale
    # (`_cold_scores`), so the first diff shows learning, not a change of units.
    scale: ClassVar[str] = "popularity"
    # Other registered algorithms whose models this one reads (a blend). The engine passes its
    # own served models through `attach`; built alone, such a model owns private copies.
    components: ClassVar[tuple[str, ...]] = ()
    # True: the scores read only the model's own state (no visit context, no other model), so
    # the last user's and a stranger's scores are kept between a ranking and its reasons (at
    # 60,000 items each product is milliseconds; a recommend made three). Learning, a fit or a
    # load forgets them.
    memo_scores: ClassVar[bool] = False

    def __init__(
        self,
        config: Config | None = None,
        *,
        catalog: Catalog,
        weights: EventWeights = DEFAULT_WEIGHTS,
        seed: int = 0,
    ):
        self.config = config if config is not None else self.config_class()
        self.catalog = catalog
        self.weights = weights
        self.seed = seed
        self._clear()

    # -- the contract ---------------------------------------------------------------------

    def fit(self, events: EventFrame, catalog: Catalog | None = None) -> None:
        """Full (re)train from an event log, in seq order."""
        if catalog is not None:
            self.catalog = catalog
        self._clear()
        weights = events.weights(self.weights)
        users = pd.unique(events.user)
        self._user_ids = list(users)
        self._users = {u: i for i, u in enumerate(self._user_ids)}
        rows = pd.Index(users).get_indexer(events.user)
        self._seen = History.from_events(rows, events.item, weights, len(users))
        rated = events.kind == "rating"
        self._rating_sum = np.bincount(
            rows[rated], weights=events.value[rated], minlength=len(users)
        ).astype(np.float64)
        self._rating_count = np.bincount(rows[rated], minlength=len(users)).astype(np.float64)
        np.add.at(self._popularity, events.item[weights > 0], 1.0)
        self._grow(len(self._user_ids))
        self._fit(events, rows, weights)
        self._forget()

    def learn_one(self, event: Event) -> UpdateInfo:
        """Online update from one committed event."""
        started = time.perf_counter()
        self._forget()
        user = self._ensure_user(event.user)
        if event.kind == "rating":  # only a rating reads the user's mean of earlier ratings
            weight = self.weights.weight("rating", event.value, self._rating_mean(user))
            self._rating_sum[user] += event.value
            self._rating_count[user] += 1.0
        else:
            weight = self.weights.weight(event.kind, event.value)
        self._seen.add(user, event.item, weight)
        if weight > 0:
            self._popularity[event.item] += 1.0
        info = self._learn_one(user, event, weight)
        self._forget()
        info.duration_ms = (time.perf_counter() - started) * 1000
        return info

    def score(
        self, user: str, items: np.ndarray | None = None, context: dict | None = None
    ) -> np.ndarray:
        """Scores of `items` (all items if None) for `user`; unknown users get popularity
        (or, from an algorithm that is not personalised, what everybody gets)."""
        scores = self._memo(self._user_row(user), context)
        if items is None:
            return scores.copy() if self.memo_scores else scores
        return scores[np.asarray(items, dtype=np.int64)]

    def recommend(
        self, user: str, k: int = 10, context: dict | None = None, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """The top-k (items, scores), best first; ties broken by item id for determinism."""
        scores = self.score(user, None, context)
        candidates = scores.copy()
        row = self._users.get(user)
        if exclude_seen and row is not None:
            candidates[self._seen.items_of(row)] = -np.inf
        available = int(np.isfinite(candidates).sum())
        k = min(k, available)
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        top = (
            np.argpartition(-candidates, k - 1)[:k]
            if k < len(candidates)
            else np.arange(len(candidates))
        )
        top = top[np.isfinite(candidates[top])]
        order = np.lexsort((top, -candidates[top]))
        best = top[order]
        return best, scores[best]

    def explain(self, user: str, item: int) -> Explanation:
        row = self._user_row(user)
        return self._cold_explain(item) if row is None else self._explain(row, item)

    def reasons(self, user: str, items: list[int], context: dict | None = None) -> list[str]:
        """One-line reasons for a ranking at once (cheaper than `explain` per item) in its
        visit's `context` (read only by contextual models), as `explain` gives them."""
        row = self._user_row(user)
        return self._cold_reasons(items) if row is None else self._reasons(row, items)

    def state(self) -> dict[str, np.ndarray]:
        # Users in row order, each user's items in its history's order. The weights may be
        # the history's own frozen (read-only) array.
        users, items, weights = self._seen.arrays()
        base = {
            "base.users": np.array(self._user_ids, dtype=str),
            "base.hist_user": users,
            "base.hist_item": items.astype(np.int64),
            "base.hist_weight": weights,
            "base.popularity": self._popularity.copy(),
            "base.rating_sum": self._rating_sum[: len(self._user_ids)].copy(),
            "base.rating_count": self._rating_count[: len(self._user_ids)].copy(),
        }
        return base | {f"model.{k}": v for k, v in self._state().items()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self._clear()
        self._user_ids = [str(u) for u in state["base.users"]]
        self._users = {u: i for i, u in enumerate(self._user_ids)}
        n_users = len(self._user_ids)
        self._seen = History.from_state(
            state["base.hist_user"], state["base.hist_item"], state["base.hist_weight"], n_users
        )
        self._popularity = state["base.popularity"].astype(np.float64, copy=True)
        # States saved before relative ratings have no rating sums: those users start afresh.
        n = len(self._user_ids)
        self._rating_sum = state.get("base.rating_sum", np.zeros(n)).astype(np.float64, copy=True)
        self._rating_count = state.get("base.rating_count", np.zeros(n)).astype(np.float64)
        self._grow(len(self._user_ids))
        self._load_state({k[6:]: v for k, v in state.items() if k.startswith("model.")})
        self._forget()

    # -- shared helpers -------------------------------------------------------------------

    @property
    def users(self) -> list[str]:
        return list(self._user_ids)

    def knows(self, user: str) -> bool:
        return user in self._users

    def describe(self, user: str) -> dict[str, float]:
        """A few numbers that show what the model holds about `user` (for the UI)."""
        row = self._users.get(user)
        if row is None:
            return {}
        return {"items you touched": float(self._seen.size(row))} | self._describe(row)

    def embedding(self, user: str | None = None) -> np.ndarray | None:
        """Latent vectors for a map: every item's (user None) or one user's; None for
        algorithms without a latent space."""
        return None

    def warm_from(self, other: Recommender) -> None:
        """Start a retrain from what `other` (same class and config) knows; by default a copy
        of all of its state (`other` may go on learning meanwhile), which `fit` then replaces
        unless the algorithm warm-starts."""
        self.load_state({key: np.array(value, copy=True) for key, value in other.state().items()})

    def minibatch_config(self) -> dict[str, Any]:
        """Config changes for a mini-batch update: a lighter refit than a full retrain (the
        default refits from the log as configured, which is already cheap for most)."""
        return {}

    def attach(self, models: Mapping[str, Recommender]) -> None:
        """Read `models` (name -> model, at least `components`) instead of private copies: the
        caller keeps them up to date (`depends_on`). A no-op for an algorithm without
        components."""

    def depends_on(self) -> tuple[str, ...]:
        """The components whose models the caller must keep up to date before using this one
        (empty unless attached)."""
        return ()

    def taste(self, user: str) -> np.ndarray | None:
        """The personal part of the user's score for every item, or None if the algorithm
        holds nothing personal (a stranger, or a non-personalised algorithm)."""
        row = self._users.get(user)
        return None if row is None or not self.personalized else self._taste(row)

    def seen(self, user: str) -> dict[int, float]:
        """Items the user interacted with and the summed weight of those events."""
        row = self._users.get(user)
        return {} if row is None else dict(self._seen[row])

    def _memo(self, row: int | None, context: dict | None) -> np.ndarray:
        """Scores of every item for user row `row` (None: a stranger); with `memo_scores`, the
        kept ones (read-only) while nothing was learned since (safe for concurrent readers)."""
        if not self.memo_scores:
            return self._cold_scores() if row is None else self._scores(row, context)
        kept = self._memo_kept  # `_forget` replaces it; readers outside the lock share it
        slot = "stranger" if row is None else "user"  # each (row, scores): one step to set
        held = kept.get(slot)
        if held is None or held[0] != row:
            scores = self._cold_scores() if row is None else self._scores(row, None)
            scores = scores.view()  # read-only through this view only
            scores.flags.writeable = False
            held = kept[slot] = (row, scores)
        return held[1]

    def _forget(self) -> None:
        self._memo_kept: dict[str, tuple[int | None, np.ndarray]] = {}

    def _clear(self) -> None:
        self._forget()
        self._users: dict[str, int] = {}
        self._user_ids: list[str] = []
        self._seen = History.empty()  # per user row: item -> summed event weight
        self._rating_sum = np.zeros(0)  # per user: the sum and count of their ratings
        self._rating_count = np.zeros(0)
        self._popularity = np.zeros(self.catalog.n, dtype=np.float64)
        self._reset()

    def _user_row(self, user: str) -> int | None:
        """The user's row; -1 (anybody) for an algorithm that is not personalised, so that it
        scores and explains a stranger like everyone else; None for an unknown user."""
        return -1 if not self.personalized else self._users.get(user)

    def _ensure_user(self, user: str) -> int:
        row = self._users.get(user)
        if row is None:
            row = len(self._user_ids)
            self._users[user] = row
            self._user_ids.append(user)
            self._seen.append_user()
            if row >= len(self._rating_sum):  # room doubles: no copy of every row per user
                room = np.zeros(max(len(self._rating_sum), 16))
                self._rating_sum = np.concatenate([self._rating_sum, room])
                self._rating_count = np.concatenate([self._rating_count, room])
            self._grow(row + 1)
        return row

    def _rating_mean(self, user: int) -> float | None:
        """The mean of the user's ratings so far (None before their first)."""
        count = self._rating_count.item(user)
        return self._rating_sum.item(user) / count if count else None

    def _cold_scores(self) -> np.ndarray:
        """Scores for a user with no history, on the algorithm's own scale (`scale`). The
        default, for algorithms whose scale is popularity, is log(1 + positive events)."""
        return np.log1p(self._popularity)

    def _cold_reasons(self, items: list[int]) -> list[str]:
        """`reasons` for a user with no history, item by item (override to share work)."""
        return [self._cold_explain(item).reason for item in items]

    def _cold_explain(self, item: int) -> Explanation:
        """`explain` for a user with no history; must agree with `_cold_scores`."""
        count = int(self._popularity[item])
        return Explanation(
            float(self._cold_scores()[item]),
            {"popularity": float(np.log1p(count))},
            f"popular with everyone ({count} positive interactions); no history of yours yet",
            lead="popularity" if count else None,
        )

    # -- what a subclass provides ---------------------------------------------------------

    def _reset(self) -> None:
        """Initialise the model's own state for `self.catalog` and no users."""

    def _grow(self, n_users: int) -> None:
        """Make room for `n_users` user rows (called before a new user's first update)."""

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        raise NotImplementedError

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        raise NotImplementedError

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        raise NotImplementedError

    def _explain(self, user: int, item: int) -> Explanation:
        raise NotImplementedError

    def _describe(self, user: int) -> dict[str, float]:
        return {}

    def _taste(self, user: int) -> np.ndarray:
        return self._scores(user, None)

    def _reasons(self, user: int, items: list[int]) -> list[str]:
        return [self._explain(user, item).reason for item in items]

    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        pass
