"""The ground truth's behaviour: a person's true utility for an item, and how a person facing a
ranked slate turns utilities into a pick and reactions.

Utilities come from a hidden taste vector (one weight per item feature, the last weighing the
item's quality) and are never shown to the algorithms. The simulator, simulated A/B tests,
interleaving, off-policy logs, time travel's true click-through and world generation all act
through this one model, so "truth" means the same thing everywhere.

>>> model = ChoiceModel()
>>> p = model.probabilities(np.array([2.0, 2.0, 0.0]))  # three ranks, then no click
>>> bool(p[0] > p[1] > p[2]), round(float(p.sum()), 6)  # equal utility: the higher rank wins
(True, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.events import RATING_MAX, RATING_MIN


def true_utilities(features: np.ndarray, quality: np.ndarray, tastes: np.ndarray) -> np.ndarray:
    """Hidden utility of every item for each taste vector (last entry weighs quality).

    features: (items, dims); quality: (items,); tastes: (dims + 1,) or (people, dims + 1).
    Returns (people, items).
    """
    tastes = np.atleast_2d(tastes)
    return tastes[:, :-1] @ features.T + tastes[:, -1:] * quality[None, :]


class Utilities:
    """The true utilities of many people over a catalog, as `true_utilities` would give them,
    without ever holding the people x items matrix (100,000 simulated people on a 50,000-item
    import would need 40 GB): a block of people's rows is computed when asked for, in memory
    bounded by `block_bytes`.

    Index it like the dense matrix with integer arrays, `utilities[people, items]` (any shapes
    that broadcast: only those pairs are computed), read `shape` and `len()`, or walk its rows
    with `blocks()`. Values equal
    the dense matrix's up to rounding (BLAS may sum a block's products in another order).

    >>> rng = np.random.default_rng(0)
    >>> features, quality, tastes = rng.normal(size=(40, 3)), rng.normal(size=40), rng.normal(
    ...     size=(25, 4))
    >>> lazy = Utilities(features, quality, tastes, block_bytes=800)  # 2 people per block
    >>> dense = true_utilities(features, quality, tastes)
    >>> people, items = np.array([[3], [24]]), np.array([[0, 39, 7]])
    >>> np.allclose(lazy[people, items], dense[people, items], rtol=1e-12, atol=0)
    True
    """

    def __init__(
        self,
        features: np.ndarray,
        quality: np.ndarray,
        tastes: np.ndarray,
        block_bytes: int = 32 * 2**20,
    ):
        self.features, self.quality = features, quality
        self.tastes = np.atleast_2d(tastes)
        self.shape = (len(self.tastes), len(quality))
        self.block = max(1, int(block_bytes) // (8 * max(1, len(quality))))
        self.block_bytes = int(block_bytes)

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, start: int, stop: int) -> np.ndarray:
        """The dense rows of people start..stop-1."""
        return true_utilities(self.features, self.quality, self.tastes[start:stop])

    def blocks(self):
        """(first person, their rows) for consecutive blocks of people, in order."""
        for start in range(0, self.shape[0], self.block):
            yield start, self.rows(start, start + self.block)

    def __getitem__(self, index: tuple) -> np.ndarray:
        # Only the pairs asked for, a dot product each (a slate of 10 of 1,600 items costs
        # 1/160 of its people's rows), in passes of at most `block_bytes` of gathered vectors.
        people, items = np.broadcast_arrays(*(np.asarray(i) for i in index))
        flat_people, flat_items = people.ravel(), items.ravel()
        out = np.empty(flat_people.shape)
        step = max(1, self.block_bytes // (16 * self.tastes.shape[1]))
        for lo in range(0, len(flat_people), step):
            taste = self.tastes[flat_people[lo : lo + step]]
            item = flat_items[lo : lo + step]
            out[lo : lo + step] = (
                np.einsum("nd,nd->n", taste[:, :-1], self.features[item])
                + taste[:, -1] * self.quality[item]
            )
        return out.reshape(people.shape)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class ChoiceModel:
    """Multinomial logit over a slate, with a no-click option and position bias.

    P(pick the item at rank r) ∝ exp(utility / temperature - position_decay * log(r + 1)),
    P(no click) ∝ exp(no_click / temperature). After a pick the person views the item, may click
    through, and may like, dislike, favourite or rate it, each more likely the higher its utility.
    """

    temperature: float = 1.0
    no_click: float = 1.0
    position_decay: float = 0.8
    rating_probability: float = 0.45

    def logits(self, utilities: np.ndarray) -> np.ndarray:
        """Logits of each slate position (last axis) plus the no-click option appended last."""
        ranks = np.arange(utilities.shape[-1])
        item_logits = utilities / self.temperature - self.position_decay * np.log1p(ranks)
        outside = np.full((*utilities.shape[:-1], 1), self.no_click / self.temperature)
        return np.concatenate([item_logits, outside], axis=-1)

    def probabilities(self, utilities: np.ndarray) -> np.ndarray:
        logits = self.logits(utilities)
        logits -= logits.max(axis=-1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=-1, keepdims=True)

    def choose(self, utilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Index of the picked position per slate (Gumbel-max), or -1 for no click."""
        logits = self.logits(utilities)
        picked = np.argmax(logits + rng.gumbel(size=logits.shape), axis=-1)
        return np.where(picked == utilities.shape[-1], -1, picked)

    def reactions(self, utility: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """What follows a pick, per picked item: booleans per kind and a rating (NaN if none)."""
        n = len(utility)
        felt = utility + rng.normal(0.0, 0.3, n)
        stars = np.clip(
            np.round(2 * (3.3 + 0.9 * felt + rng.normal(0.0, 0.5, n))) / 2, RATING_MIN, RATING_MAX
        )
        rated = rng.random(n) < self.rating_probability
        like = rng.random(n) < 0.6 * sigmoid(1.5 * (felt - 1.0))
        dislike = (rng.random(n) < 0.6 * sigmoid(1.5 * (-felt - 0.5))) & ~like
        return {
            "click": rng.random(n) < sigmoid(felt),
            "like": like,
            "dislike": dislike,
            "favorite": like & (rng.random(n) < sigmoid(2.0 * (felt - 2.0))),
            "rating": np.where(rated, stars, np.nan),
        }
