"""Popularity: all-time event weights plus a Bayesian-averaged rating. Not personalised.

    score(i) = signed_log(sum of weights of events on i) + rating_weight * (rating(i) - mean)
    rating(i) = Bayesian-averaged rating (recsys/algorithms/ratings.py)

The Bayesian average keeps an item with one 5-star rating from outranking one with two hundred
4.5-star ratings. `trending` is the same with time decay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.algorithms.base import Explanation, Recommender, UpdateInfo
from recsys.algorithms.config import Config, param
from recsys.algorithms.ratings import RatingAverage
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
        self._weight = np.zeros(self.catalog.n)
        self._ratings = RatingAverage(self.catalog.n)

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        np.add.at(self._weight, events.item, weights)
        self._ratings.fit(events)

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        before = float(self._item_scores(event.item))
        self._weight[event.item] += weight
        self._ratings.learn(event)
        after = float(self._item_scores(event.item))
        return UpdateInfo(
            self.name,
            item_change=abs(after - before),
            score_before=before,
            score_after=after,
            details={"weight": weight},
        )

    def _parts(self, items: slice | int = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        return (
            signed_log(self._weight[items]),
            self.config.rating_weight * self._ratings.lift(self.config.prior_strength, items),
        )

    def _item_scores(self, items: slice | int = slice(None)) -> np.ndarray:
        activity, rating = self._parts(items)
        return activity + rating

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        return self._item_scores()

    def _explain(self, user: int, item: int) -> Explanation:
        activity, rating = self._parts(item)
        return Explanation(
            float(activity + rating),
            {"all-time activity": float(activity), "rating vs average": float(rating)},
            f"popular: activity {activity:+.2f} all time, {self._ratings.describe(item)}",
        )

    def _state(self) -> dict[str, np.ndarray]:
        return {"weight": self._weight.copy(), **self._ratings.state()}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self._weight = state["weight"].copy()
        self._ratings.load_state(state)
