"""Epsilon-greedy: rank by estimated success rate, but lift a random `epsilon` share of the
catalog to the top so that items with few pulls get shown and learned about."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.algorithms.bandit import Bandit
from recsys.algorithms.config import Config, param


@dataclass(frozen=True)
class EpsilonGreedyConfig(Config):
    epsilon: float = param(0.05, 0.0, 1.0, "share of items explored (lifted to the top) per round")
    redraw_every: int = param(50, 1, 100_000, "pulls between two draws of the explored items")


class EpsilonGreedy(Bandit):
    name = "epsilon_greedy"
    config_class = EpsilonGreedyConfig
    summary = "Bandit: exploit the best success rate, explore a random epsilon share."
    config: EpsilonGreedyConfig

    def _bonus(self) -> np.ndarray:
        # An explored item jumps above every exploited one (rates are below 1).
        return np.where(self._round_draws(self.config.redraw_every) < self.config.epsilon, 1.0, 0.0)
