"""Popularity: all-time event weights plus the share of good ratings. Not personalised.

    score(i) = signed_log(sum of weights of events on i) + rating_weight * lift(i)
    lift(i)  = Bayesian-averaged share of good ratings, -1..1 (recsys/algorithms/rating_lift.py)

Each event moves only its own item, in the direction of its weight. `trending` is the same with
time decay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.algorithms.base import Explanation, Recommender, UpdateInfo, lead_part
from recsys.algorithms.config import Config, param
from recsys.algorithms.rating_lift import LIFT, RatingShare, activity_reason
from recsys.algorithms.trending import signed_log
from recsys.events import Event, EventFrame

ACTIVITY = "all-time activity"


@dataclass(frozen=True)
class PopularityConfig(Config):
    prior_strength: float = param(5.0, 0.0, 1000.0, "pseudo-ratings per item, half of them good")
    rating_weight: float = param(1.0, 0.0, 10.0, "how much the share of good ratings adds")


class Popularity(Recommender):
    name = "popularity"
    config_class = PopularityConfig
    summary = "All-time favourites: summed event weights plus the share of good ratings."
    personalized = False
    scale = "popularity"
    config: PopularityConfig

    def _reset(self) -> None:
        self._weight = np.zeros(self.catalog.n)
        self._ratings = RatingShare(self.catalog.n)

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        np.add.at(self._weight, events.item, weights)
        self._ratings.fit(events, weights)

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        before = float(self._item_scores(event.item))
        self._weight[event.item] += weight
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
        return (
            signed_log(self._weight[items]),
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
        reason = activity_reason(
            ACTIVITY, parts, int(self._popularity[item]), self._ratings.describe(item)
        )
        return Explanation(float(activity + rating), parts, reason, lead=lead_part(parts))

    def _cold_explain(self, item: int) -> Explanation:
        return self._explain(-1, item)

    def _state(self) -> dict[str, np.ndarray]:
        return {"weight": self._weight.copy(), **self._ratings.state()}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self._weight = state["weight"].copy()
        self._ratings.load_state(state)
