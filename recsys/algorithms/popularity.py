"""Popularity: all-time event weights plus a Bayesian-averaged rating. Not personalised.

    score(i) = signed_log(sum of weights of events on i) + rating_weight * (rating(i) - mean)
    rating(i) = (prior_strength * mean + sum of ratings of i) / (prior_strength + n_i)

The Bayesian average keeps an item with one 5-star rating from outranking one with two hundred
4.5-star ratings. `trending` is the same with time decay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.algorithms.base import Explanation, Recommender, UpdateInfo
from recsys.algorithms.config import Config, param
from recsys.algorithms.trending import signed_log
from recsys.events import Event, EventFrame


@dataclass(frozen=True)
class PopularityConfig(Config):
    prior_strength: float = param(5.0, 0.0, 1000.0, "pseudo-ratings at the global mean per item")
    rating_weight: float = param(1.0, 0.0, 10.0, "how much the averaged rating adds to activity")


class Popularity(Recommender):
    name = "popularity"
    config_class = PopularityConfig
    summary = "All-time favourites: summed event weights plus a Bayesian-averaged rating."
    personalized = False
    config: PopularityConfig

    def _reset(self) -> None:
        n = self.catalog.n
        self._weight = np.zeros(n)
        self._rating_sum = np.zeros(n)
        self._rating_count = np.zeros(n)

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        np.add.at(self._weight, events.item, weights)
        rated = events.kind == "rating"
        np.add.at(self._rating_sum, events.item[rated], events.value[rated])
        np.add.at(self._rating_count, events.item[rated], 1.0)

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        before = self._item_scores(event.item)
        self._weight[event.item] += weight
        if event.kind == "rating":
            self._rating_sum[event.item] += event.value
            self._rating_count[event.item] += 1.0
        after = self._item_scores(event.item)
        return UpdateInfo(
            self.name,
            item_change=float(abs(after - before)),
            score_before=float(before),
            score_after=float(after),
            details={"weight": weight},
        )

    def _parts(self, items: slice | int = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        total = self._rating_count.sum()
        mean = self._rating_sum.sum() / total if total else 3.0
        prior = self.config.prior_strength
        count, summed = self._rating_count[items], self._rating_sum[items]
        average = (prior * mean + summed) / np.maximum(prior + count, 1e-12)
        return signed_log(self._weight[items]), self.config.rating_weight * (average - mean)

    def _item_scores(self, items: slice | int = slice(None)) -> np.ndarray:
        activity, rating = self._parts(items)
        return activity + rating

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        return self._item_scores()

    def _explain(self, user: int, item: int) -> Explanation:
        activity, rating = self._parts()
        count = int(self._rating_count[item])
        rated = (
            f"rated {self._rating_sum[item] / count:.1f}★ by {count}" if count else "no ratings yet"
        )
        return Explanation(
            float(activity[item] + rating[item]),
            {"all-time activity": float(activity[item]), "rating vs average": float(rating[item])},
            f"popular: activity {activity[item]:+.2f} all time, {rated}",
        )

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "weight": self._weight.copy(),
            "rating_sum": self._rating_sum.copy(),
            "rating_count": self._rating_count.copy(),
        }

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self._weight = state["weight"].copy()
        self._rating_sum = state["rating_sum"].copy()
        self._rating_count = state["rating_count"].copy()
