"""Trending: time-decayed event weights plus the share of good ratings. Not personalised.

    activity(i) = sum over events e on i of weight(e) * 2 ** (-(now - ts_e) / half_life)
    score(i)    = signed_log(activity(i)) + rating_weight * lift(i)
    lift(i)     = Bayesian-averaged share of good ratings, -1..1 (recsys/algorithms/rating_lift.py)

`now` is the lab clock (the newest event's time), never the wall clock, so a replay of the log
gives the same scores bit for bit. At a given clock an event moves only its own item, in the
direction of its weight; time passing moves every item towards zero (that is the decay).
Activity is kept against a fixed anchor time and rescaled only when the anchor falls too far
behind, which keeps each update O(1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.algorithms.base import Explanation, Recommender, UpdateInfo, lead_part
from recsys.algorithms.config import Config, param
from recsys.algorithms.rating_lift import LIFT, RatingShare, activity_reason
from recsys.events import Event, EventFrame

# Re-anchor once the growth factor 2 ** ((now - anchor) / half_life) would pass 2 ** 64.
MAX_HALF_LIVES = 64.0
ACTIVITY = "recent activity"


@dataclass(frozen=True)
class TrendingConfig(Config):
    half_life_hours: float = param(72.0, 0.5, 24.0 * 365, "hours after which an event counts half")
    prior_strength: float = param(5.0, 0.0, 1000.0, "pseudo-ratings per item, half of them good")
    rating_weight: float = param(1.0, 0.0, 10.0, "how much the share of good ratings adds")


def signed_log(x: np.ndarray | float) -> np.ndarray | float:
    return np.sign(x) * np.log1p(np.abs(x))


class Trending(Recommender):
    name = "trending"
    config_class = TrendingConfig
    summary = "What is hot right now: time-decayed event weights plus the share of good ratings."
    personalized = False
    scale = "popularity"
    config: TrendingConfig

    def _reset(self) -> None:
        self._activity = np.zeros(self.catalog.n)  # decayed weight, expressed at self._anchor
        self._anchor = 0.0
        self._now = 0.0
        self._ratings = RatingShare(self.catalog.n)

    def _half_life(self) -> float:
        return self.config.half_life_hours * 3600.0

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        if len(events) == 0:
            return
        self._now = float(events.ts.max())
        self._anchor = self._now
        decay = np.exp2(-(self._now - events.ts) / self._half_life())
        np.add.at(self._activity, events.item, weights * decay)
        self._ratings.fit(events, weights)

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        before = float(self._item_scores(event.item))
        self._now = max(self._now, event.ts)
        if (self._now - self._anchor) / self._half_life() > MAX_HALF_LIVES:
            self._activity *= np.exp2(-(self._now - self._anchor) / self._half_life())
            self._anchor = self._now
        self._activity[event.item] += weight * np.exp2(
            (event.ts - self._anchor) / self._half_life()
        )
        self._ratings.learn(event, weight)
        after = float(self._item_scores(event.item))
        return UpdateInfo(
            self.name,
            item_change=abs(after - before),
            score_before=before,
            score_after=after,
            details={"weight": weight},
        )

    def _parts(self, items: slice | int = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        decay = np.exp2(-(self._now - self._anchor) / self._half_life())
        return (
            signed_log(self._activity[items] * decay),
            self.config.rating_weight * self._ratings.lift(self.config.prior_strength, items),
        )

    def _item_scores(self, items: slice | int = slice(None)) -> np.ndarray:
        activity, rating = self._parts(items)
        return activity + rating

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        return self._item_scores()

    def _cold_scores(self) -> np.ndarray:
        return self._item_scores()  # the same for everyone, newcomers included

    def _explain(self, user: int, item: int) -> Explanation:
        activity, rating = self._parts(item)
        parts = {ACTIVITY: float(activity), LIFT: float(rating)}
        rated = f"{self._ratings.describe(item)}; half-life {self.config.half_life_hours:g} h"
        reason = activity_reason(ACTIVITY, parts, int(self._popularity[item]), rated)
        return Explanation(float(activity + rating), parts, reason, lead=lead_part(parts))

    def _cold_explain(self, item: int) -> Explanation:
        return self._explain(-1, item)

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "activity": self._activity.copy(),
            "clock": np.array([self._anchor, self._now]),
            **self._ratings.state(),
        }

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self._activity = state["activity"].copy()
        self._anchor, self._now = (float(x) for x in state["clock"])
        self._ratings.load_state(state)
