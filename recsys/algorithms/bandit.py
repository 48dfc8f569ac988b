"""What the multi-armed bandits share: every item is an arm, every event a pull.

A pull's reward is 1 when the event signals interest (its weight is at least
`REWARD_THRESHOLD`: a click, like, favourite or a rating of 3.5 or more under the default
weights) and 0 otherwise (a view, a skip, a dislike, a low rating). A bandit ranks by its
estimate of each arm's success rate plus an exploration term; subclasses give the term.
Bandits are not personalised: they learn which items work for everyone.
"""

from __future__ import annotations

import numpy as np

from recsys.algorithms.base import Explanation, Recommender, UpdateInfo
from recsys.events import Event, EventFrame

REWARD_THRESHOLD = 0.25


class Bandit(Recommender):
    personalized = False
    explores = True

    def _reset(self) -> None:
        self._pulls = np.zeros(self.catalog.n)
        self._rewards = np.zeros(self.catalog.n)

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        np.add.at(self._pulls, events.item, 1.0)
        np.add.at(self._rewards, events.item, (weights >= REWARD_THRESHOLD).astype(float))

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        item = event.item
        before = self._estimates(np.array([item]))[0]
        reward = float(weight >= REWARD_THRESHOLD)
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

    def _reasons(self, user: int, items: list[int]) -> list[str]:
        estimate, bonus = self._estimates(), self._bonus()
        return [self._reason(i, estimate[i], bonus[i]) for i in items]

    def _explain(self, user: int, item: int) -> Explanation:
        estimate, bonus = self._estimates()[item], self._bonus()[item]
        return Explanation(
            float(estimate + bonus),
            {"estimated success rate": float(estimate), "exploration": float(bonus)},
            self._reason(item, estimate, bonus),
        )

    def _reason(self, item: int, estimate: float, bonus: float) -> str:
        return (
            f"{self.name}: success rate {estimate:.2f} over {int(self._pulls[item])} pulls"
            f", exploration {bonus:+.2f}"
        )

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
