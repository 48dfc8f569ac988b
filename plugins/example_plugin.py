"""Neighbours' taste: a complete plugin for the Recsys Learning Lab (see docs/plugins.md).

Your score for an item is what people who agree with you did with it: user-based
collaborative filtering on one matrix of signed event weights (a like +1, a dislike -1, ...).
"""

from dataclasses import dataclass

import numpy as np

from recsys.algorithms.plugin import Config, param


@dataclass(frozen=True)
class NeighboursConfig(Config):
    shrink: float = param(5.0, 0.0, 100.0, "damps the say of people with short histories")


class Neighbours:
    name = "neighbours"
    summary = "people who agree with you on the same items: what they liked, you get"
    config_class = NeighboursConfig

    def __init__(self, config, n_items, seed):
        self.shrink = config.shrink
        self.weights = np.zeros((0, n_items))  # a row per user: summed event weights per item

    def fit(self, events):
        self.weights = np.zeros((events.n_users, events.n_items))
        np.add.at(self.weights, (events.user, events.item), events.weight)

    def learn_one(self, user, item, weight):
        if user == len(self.weights):  # a new user gets the next row
            self.weights = np.vstack([self.weights, np.zeros(self.weights.shape[1])])
        self.weights[user, item] += weight

    def _say(self, user):
        """How much each person agrees with `user` (dot product of their rows), damped."""
        agreement = self.weights @ self.weights[user]
        agreement[user] = 0.0  # not yourself
        return agreement / (np.abs(self.weights).sum(axis=1) + self.shrink)

    def score(self, user):
        return self._say(user) @ self.weights

    def explain(self, user, item):
        votes = self._say(user) * self.weights[:, item]
        return {"votes for": votes[votes > 0].sum(), "votes against": votes[votes < 0].sum()}
