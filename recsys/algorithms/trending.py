"""Trending: time-decayed event weights plus a Bayesian-averaged rating. Not personalised.

    activity(i) = sum over events e on i of weight(e) * 2 ** (-(now - ts_e) / half_life)
    rating(i)   = (prior_strength * global_mean + sum of ratings of i) / (prior_strength + n_i)
    score(i)    = signed_log(activity(i)) + rating_weight * (rating(i) - global_mean)

`now` is the lab clock (the newest event's time), never the wall clock, so a replay of the log
gives the same scores bit for bit. Activity is kept against a fixed anchor time and rescaled
only when the anchor falls too far behind, which keeps each update O(1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.algorithms.base import Explanation, Recommender, UpdateInfo
from recsys.algorithms.config import Config, param
from recsys.events import Event, EventFrame

# Re-anchor once the growth factor 2 ** ((now - anchor) / half_life) would pass 2 ** 64.
MAX_HALF_LIVES = 64.0


@dataclass(frozen=True)
class TrendingConfig(Config):
    half_life_hours: float = param(72.0, 0.5, 24.0 * 365, "hours after which an event counts half")
    prior_strength: float = param(5.0, 0.0, 1000.0, "pseudo-ratings at the global mean per item")
    rating_weight: float = param(1.0, 0.0, 10.0, "how much the averaged rating adds to activity")


def signed_log(x: np.ndarray | float) -> np.ndarray | float:
    return np.sign(x) * np.log1p(np.abs(x))


class Trending(Recommender):
    name = "trending"
    config_class = TrendingConfig
    summary = "What is hot right now: time-decayed event weights plus a Bayesian-averaged rating."
    personalized = False
    config: TrendingConfig

    def _reset(self) -> None:
        n = self.catalog.n
        self._activity = np.zeros(n)  # decayed weight, expressed at time self._anchor
        self._anchor = 0.0
        self._now = 0.0
        self._rating_sum = np.zeros(n)
        self._rating_count = np.zeros(n)

    def _half_life(self) -> float:
        return self.config.half_life_hours * 3600.0

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        if len(events) == 0:
            return
        self._now = float(events.ts.max())
        self._anchor = self._now
        decay = np.exp2(-(self._now - events.ts) / self._half_life())
        np.add.at(self._activity, events.item, weights * decay)
        rated = events.kind == "rating"
        np.add.at(self._rating_sum, events.item[rated], events.value[rated])
        np.add.at(self._rating_count, events.item[rated], 1.0)

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        before = self._item_score(event.item)
        self._now = max(self._now, event.ts)
        if (self._now - self._anchor) / self._half_life() > MAX_HALF_LIVES:
            self._activity *= np.exp2(-(self._now - self._anchor) / self._half_life())
            self._anchor = self._now
        self._activity[event.item] += weight * np.exp2(
            (event.ts - self._anchor) / self._half_life()
        )
        if event.kind == "rating":
            self._rating_sum[event.item] += event.value
            self._rating_count[event.item] += 1.0
        after = self._item_score(event.item)
        return UpdateInfo(
            self.name,
            item_change=abs(after - before),
            score_before=before,
            score_after=after,
            details={"weight": weight},
        )

    def _global_mean(self) -> float:
        total = self._rating_count.sum()
        return float(self._rating_sum.sum() / total) if total else 3.0

    def _parts(self) -> tuple[np.ndarray, np.ndarray]:
        activity = self._activity * np.exp2(-(self._now - self._anchor) / self._half_life())
        mean = self._global_mean()
        prior = self.config.prior_strength
        average = (prior * mean + self._rating_sum) / np.maximum(prior + self._rating_count, 1e-12)
        return signed_log(activity), self.config.rating_weight * (average - mean)

    def _item_score(self, item: int) -> float:
        activity = self._activity[item] * np.exp2(-(self._now - self._anchor) / self._half_life())
        mean = self._global_mean()
        prior = self.config.prior_strength
        count = self._rating_count[item]
        average = (
            (prior * mean + self._rating_sum[item]) / (prior + count) if prior + count else mean
        )
        return float(signed_log(activity) + self.config.rating_weight * (average - mean))

    def _item_scores(self) -> np.ndarray:
        activity, rating = self._parts()
        return activity + rating

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        return self._item_scores()

    def _explain(self, user: int, item: int) -> Explanation:
        activity, rating = self._parts()
        count = int(self._rating_count[item])
        average = (self._rating_sum[item] / count) if count else float("nan")
        rated = f"rated {average:.1f}★ by {count}" if count else "no ratings yet"
        return Explanation(
            float(activity[item] + rating[item]),
            {"recent activity": float(activity[item]), "rating vs average": float(rating[item])},
            f"trending: activity {activity[item]:+.2f} "
            f"(half-life {self.config.half_life_hours:g} h), {rated}",
        )

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "activity": self._activity.copy(),
            "clock": np.array([self._anchor, self._now]),
            "rating_sum": self._rating_sum.copy(),
            "rating_count": self._rating_count.copy(),
        }

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self._activity = state["activity"].copy()
        self._anchor, self._now = (float(x) for x in state["clock"])
        self._rating_sum = state["rating_sum"].copy()
        self._rating_count = state["rating_count"].copy()
