"""The Bayesian-averaged rating that `popularity` and `trending` both add to their activity.

    average(i) = (prior_strength * mean + sum of ratings of i) / (prior_strength + n_i)
    lift(i)    = average(i) - mean

so an item with one 5-star rating does not outrank one with two hundred 4.5-star ratings.
"""

from __future__ import annotations

import numpy as np

from recsys.events import Event, EventFrame


class RatingAverage:
    def __init__(self, n_items: int):
        self.total = np.zeros(n_items)
        self.count = np.zeros(n_items)

    def fit(self, events: EventFrame) -> None:
        rated = events.kind == "rating"
        np.add.at(self.total, events.item[rated], events.value[rated])
        np.add.at(self.count, events.item[rated], 1.0)

    def learn(self, event: Event) -> None:
        if event.kind == "rating":
            self.total[event.item] += event.value
            self.count[event.item] += 1.0

    def lift(self, prior_strength: float, items: slice | int = slice(None)) -> np.ndarray:
        """Each item's Bayesian-averaged rating minus the global mean (3 stars if none)."""
        rated = self.count.sum()
        mean = self.total.sum() / rated if rated else 3.0
        count, total = self.count[items], self.total[items]
        weight = prior_strength + count
        # With no prior and no ratings an item is simply average: no lift either way.
        return np.where(
            weight > 0, (prior_strength * mean + total) / np.maximum(weight, 1e-12) - mean, 0.0
        )

    def describe(self, item: int) -> str:
        count = int(self.count[item])
        return f"rated {self.total[item] / count:.1f}★ by {count}" if count else "no ratings yet"

    def state(self) -> dict[str, np.ndarray]:
        return {"rating_sum": self.total.copy(), "rating_count": self.count.copy()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.total = state["rating_sum"].copy()
        self.count = state["rating_count"].copy()
