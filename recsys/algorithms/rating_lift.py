"""What `popularity` and `trending` share: the rating evidence both add to their activity,
and the reason built from the two.

A rating is good when its event weight is not negative: under the default weights, when it is
no more than 1.25 stars below the rater's own average of their earlier ratings (having chosen
the item counts for something). An item's lift is its Bayesian-averaged share of good ratings,
read from -1 (every rating low for its rater) to +1 (none low):

    lift(i) = (good_i - bad_i) / (n_i + prior_strength)

so an item with one good rating does not outrank one with two hundred. A share averages 0s and
1s: a good rating never lowers it and a bad one never raises it, and it moves no other item.
An average of stars would not keep that promise (a 4-star rating from a stingy rater lowers a
4.8-star item's average), nor would a lift against the global mean (every rating moves it).
"""

from __future__ import annotations

import numpy as np

from recsys.algorithms.base import lead_part
from recsys.algorithms.reasons import NOTHING_POSITIVE
from recsys.events import Event, EventFrame

LIFT = "rating lift"


class RatingShare:
    def __init__(self, n_items: int):
        self.good = np.zeros(n_items)
        self.count = np.zeros(n_items)

    def fit(self, events: EventFrame, weights: np.ndarray) -> None:
        rated = events.kind == "rating"
        np.add.at(self.good, events.item[rated], (weights[rated] >= 0).astype(float))
        np.add.at(self.count, events.item[rated], 1.0)

    def learn(self, event: Event, weight: float) -> None:
        if event.kind == "rating":
            self.good[event.item] += float(weight >= 0)
            self.count[event.item] += 1.0

    def lift(self, prior_strength: float, items: slice | int = slice(None)) -> np.ndarray:
        """Each item's share of good ratings, shrunk towards half, on -1..1 (0 if unrated)."""
        good, count = self.good[items], self.count[items]
        return (2.0 * good - count) / np.maximum(count + prior_strength, 1e-12)

    def describe(self, item: int) -> str:
        count = int(self.count[item])
        if not count:
            return "no ratings yet"
        return f"{int(self.good[item])} of {count} ratings not low for their rater"

    def state(self) -> dict[str, np.ndarray]:
        return {"rating_good": self.good.copy(), "rating_count": self.count.copy()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.count = state["rating_count"].copy()
        # States saved from the star average have no good counts: their ratings start neutral.
        self.good = state["rating_good"].copy() if "rating_good" in state else self.count / 2


def activity_reason(activity_part: str, parts: dict[str, float], count: int, rated: str) -> str:
    """The reason of popularity or trending, about the larger positive of its two parts."""
    activity, lift = parts[activity_part], parts[LIFT]
    lead = lead_part(parts)
    if lead == activity_part:
        return f"popular: {activity_part} {activity:+.2f} ({count} positive events), {rated}"
    if lead == LIFT:
        return f"well rated: {LIFT} {lift:+.2f} ({rated}), {activity_part} {activity:+.2f}"
    return f"{NOTHING_POSITIVE}: {activity_part} {activity:+.2f}, {LIFT} {lift:+.2f} ({rated})"
