"""What the multi-armed bandits share: every item is an arm, an event a pull.

A pull succeeds when the event signals interest (its weight is at least `REWARD_THRESHOLD`:
under the default weights a click, like, favourite, or a rating no more than about 0.9 stars
below the person's own average) and fails when its weight is negative (a skip, a dislike, a low
rating: more than 1.25 stars below that average). Events in between (a view, a rating just
above the low mark) are no pull at all: a weak positive counted as a failure would lower the
estimate of an item someone liked a little.
A bandit ranks by its estimate of each arm's success rate plus an exploration term; subclasses
give the term. Bandits are not personalised: they learn which items work for everyone.
"""

from __future__ import annotations

import numpy as np

from recsys.algorithms.base import Explanation, Recommender, UpdateInfo, lead_part
from recsys.algorithms.reasons import NOTHING_POSITIVE
from recsys.events import Event, EventFrame

REWARD_THRESHOLD = 0.25
ESTIMATE, EXPLORATION = "estimated success rate", "exploration"


def outcome(weight: float) -> float | None:
    """A pull's reward for an event of this weight: 1, 0, or None when it is no pull."""
    if weight >= REWARD_THRESHOLD:
        return 1.0
    return 0.0 if weight < 0 else None


class Bandit(Recommender):
    personalized = False
    explores = True
    scale = "estimated reward"

    def _reset(self) -> None:
        self._pulls = np.zeros(self.catalog.n)
        self._rewards = np.zeros(self.catalog.n)

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        success = weights >= REWARD_THRESHOLD
        np.add.at(self._pulls, events.item, (success | (weights < 0)).astype(float))
        np.add.at(self._rewards, events.item, success.astype(float))

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        item = event.item
        before = self._estimates(np.array([item]))[0]
        reward = outcome(weight)
        if reward is not None:
            self._pulls[item] += 1.0
            self._rewards[item] += reward
        after = self._estimates(np.array([item]))[0]
        return UpdateInfo(
            self.name,
            item_change=abs(after - before),
            score_before=before,
            score_after=after,
            details={"reward": reward},
        )

    def _estimates(self, items: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Each arm's estimated success rate (smoothed, so an unpulled arm reads 0.5)."""
        return (self._rewards[items] + 0.5) / (self._pulls[items] + 1.0)

    def _bonus(self) -> np.ndarray:
        """The exploration term per arm; a subclass's whole idea."""
        raise NotImplementedError

    def _item_scores(self) -> np.ndarray:
        return self._estimates() + self._bonus()

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        return self._item_scores()

    def _cold_scores(self) -> np.ndarray:
        return self._item_scores()  # the same for everyone, newcomers included

    def _explanation(self, item: int, estimate: float, bonus: float) -> Explanation:
        parts = {ESTIMATE: float(estimate), EXPLORATION: float(bonus)}
        lead = lead_part(parts)
        n = int(self._pulls[item])
        pulls = f"{n} pull{'s' if n != 1 else ''}, {int(self._rewards[item])} rewarded"
        if lead == ESTIMATE:
            reason = f"{ESTIMATE} {estimate:.2f} ({pulls}), {EXPLORATION} {bonus:+.2f}"
        elif lead == EXPLORATION:
            reason = f"exploring: {EXPLORATION} {bonus:+.2f} on top of a rate of {estimate:.2f}"
            reason += f" ({pulls})"
        else:
            reason = f"{NOTHING_POSITIVE}: {ESTIMATE} {estimate:.2f} ({pulls})"
        return Explanation(float(estimate + bonus), parts, reason, lead=lead)

    def _explain(self, user: int, item: int) -> Explanation:
        return self._explanation(item, self._estimates()[item], self._bonus()[item])

    def _cold_explain(self, item: int) -> Explanation:
        return self._explain(-1, item)

    def _reasons(self, user: int, items: list[int]) -> list[str]:
        estimate, bonus = self._estimates(), self._bonus()
        return [self._explanation(i, estimate[i], bonus[i]).reason for i in items]

    def _state(self) -> dict[str, np.ndarray]:
        return {"pulls": self._pulls.copy(), "rewards": self._rewards.copy()}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self._pulls = state["pulls"].copy()
        self._rewards = state["rewards"].copy()

    def _round_draws(self, every: int) -> np.ndarray:
        """One uniform number per arm, redrawn every `every` pulls: a function of the state,
        so the same log gives the same ranking, and one event rarely reshuffles the list."""
        round_ = int(self._pulls.sum()) // every
        return np.random.default_rng([self.seed, round_]).random(self.catalog.n)
