"""UCB1 (Auer et al. 2002): optimism in the face of uncertainty.

    score(i) = estimate(i) + exploration * sqrt(2 ln N / (n_i + 1))

where N is the number of pulls of all arms and n_i those of arm i: rarely pulled arms get a
large bonus that shrinks as evidence accumulates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.algorithms.bandit import Bandit
from recsys.algorithms.config import Config, param


@dataclass(frozen=True)
class UCB1Config(Config):
    exploration: float = param(1.0, 0.0, 10.0, "weight of the confidence bonus (1 is UCB1)")


class UCB1(Bandit):
    name = "ucb1"
    config_class = UCB1Config
    summary = "Bandit: success rate plus an upper-confidence bonus for rarely pulled items."
    config: UCB1Config

    def _bonus(self) -> np.ndarray:
        total = max(self._pulls.sum(), 1.0)
        return self.config.exploration * np.sqrt(2.0 * np.log(total + 1.0) / (self._pulls + 1.0))
