"""Thompson sampling with a Beta-Bernoulli model of each item's success rate.

Each arm's rate has the posterior Beta(prior_alpha + rewards, prior_beta + failures); the ranking
uses one draw per arm. The draw is the posterior quantile of a uniform number that is redrawn
every `redraw_every` pulls, so the same log gives the same ranking and a reward always raises
its arm's draw (inverse-CDF sampling with common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaincinv

from recsys.algorithms.bandit import Bandit
from recsys.algorithms.config import Config, param


@dataclass(frozen=True)
class ThompsonConfig(Config):
    prior_alpha: float = param(1.0, 0.01, 100.0, "Beta prior: pseudo-successes per item")
    prior_beta: float = param(1.0, 0.01, 100.0, "Beta prior: pseudo-failures per item")
    redraw_every: int = param(50, 1, 100_000, "pulls between two posterior draws")


class Thompson(Bandit):
    name = "thompson"
    config_class = ThompsonConfig
    summary = "Bandit: rank by a draw from each item's Beta posterior of its success rate."
    config: ThompsonConfig

    def _posterior(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            self.config.prior_alpha + self._rewards,
            self.config.prior_beta + self._pulls - self._rewards,
        )

    def _estimates(self, items=slice(None)) -> np.ndarray:
        alpha, beta = self._posterior()
        return (alpha / (alpha + beta))[items]

    def _bonus(self) -> np.ndarray:
        alpha, beta = self._posterior()
        draw = betaincinv(alpha, beta, self._round_draws(self.config.redraw_every))
        return draw - alpha / (alpha + beta)
