"""mf's state from factors trained elsewhere: Spark MLlib's ALS (`python -m recsys spark-train`,
then `versions import-factors`; the file schema is in docs/spark.md).

Spark's ALS predicts r(u, i) = x_u . y_i. mf scores item_bias[i] + [y_i, genres_i] . x_u, so
the imported state makes the two equal: the item vectors are Spark's, every item bias is zero,
and each user vector is Spark's followed by zeros on the genre features. An item without a
Spark vector (explicit ALS never saw it rated) gets the zero vector, so it scores 0 for
everyone. A user of the log without one (explicit ALS trains on ratings only: someone who only
clicked has none) starts from the average person m = `average_start` x the mean of Spark's user
vectors, as a newcomer to the lab's own mf does (for explicit ALS the whole mean: half of it
would predict half the stars).

Everything else is what mf's own fit leaves: the base's bookkeeping (histories, popularity,
rating means) from the log the factors were trained on, and the rating head fitted from the
imported item vectors. Vectors from implicit ALS score a preference, as mf's own: online
learning goes on the lab's way (a user's next event re-solves their vector against the imported
item vectors, mf.py's user step). Vectors from explicit ALS score stars, which that solve (a
preference from -1 to 1) would overwrite with a few events' worth: such a version scores on the
star scale and keeps its vectors until it is trained again (`held_update`; a retrain fits a
normal mf).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.algorithms.build import ModelSpec, validate_config
from recsys.algorithms.catalog import Catalog
from recsys.algorithms.mf import MatrixFactorization
from recsys.errors import RecsysError
from recsys.events import EventFrame


@dataclass(frozen=True)
class Factors:
    """Vectors trained elsewhere, keyed the lab's way. Shapes: `users` (n_users,) ids,
    `user_vectors` (n_users, k); `items` (n_items,) the lab's item rows, `item_vectors`
    (n_items, k). Ids are unique and vectors finite (`recsys.data.factors` checks)."""

    users: list[str]
    user_vectors: np.ndarray
    items: np.ndarray
    item_vectors: np.ndarray
    explicit: bool = False  # trained on stars (explicit ALS): scores stars, see `MF._held`

    @property
    def rank(self) -> int:
        return int(self.item_vectors.shape[1])


def imported_state(
    spec: ModelSpec, catalog: Catalog, events: EventFrame, factors: Factors
) -> dict[str, np.ndarray]:
    """The state of an mf model (`spec`, whose `factors` must be the vectors' rank) that
    scores exactly x_u . y_i, with the bookkeeping of `events` (the log the vectors were
    trained on). Raises `RecsysError` if the algorithm is not mf, the config is out of bounds,
    or a user of `factors` has no event in `events`."""
    if spec.algorithm != MatrixFactorization.name:
        raise RecsysError(f"factors import into mf only, not {spec.algorithm!r}")
    config = validate_config(spec.algorithm, spec.config)
    if config.factors != factors.rank:
        raise RecsysError(f"the config has {config.factors} factors, the vectors {factors.rank}")
    model = _Installer(config, catalog=catalog, weights=spec.weights, seed=int(spec.seed))
    model.factors = factors
    model.fit(events, catalog)
    return model.state()


class _Installer(MatrixFactorization):
    """mf whose fit installs `factors` instead of solving for them (the base class's part of
    the fit, the bookkeeping, runs as for any fit)."""

    factors: Factors

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        f, k = self.factors, self.config.factors
        missing = [u for u in f.users if u not in self._users]
        if missing:
            raise RecsysError(
                f"user {missing[0][:40]!r} has factors but no event in the log they were trained on"
            )
        self._item_factors[:] = 0.0
        self._item_factors[f.items] = f.item_vectors
        self._item_bias = np.zeros(self.catalog.n)
        self._gram = self._items.T @ self._items
        self._mean_user = np.zeros(self._items.shape[1])
        if len(f.users):
            # A newcomer starts halfway to the average preference (mf's own rule), but on the
            # star scale half the average person would predict half the stars: the whole mean.
            start = 1.0 if f.explicit else self.config.average_start
            self._mean_user[:k] = start * f.user_vectors.mean(axis=0)
        n_users = len(self._user_ids)
        self._user_factors = np.tile(self._mean_user, (max(n_users, 1), 1))
        rows = np.fromiter((self._users[u] for u in f.users), np.int64, len(f.users))
        self._user_factors[rows] = 0.0  # no genre taste: Spark's dot product, nothing else
        self._user_factors[rows, :k] = f.user_vectors
        self._grow(n_users)
        rated = events.kind == "rating"
        users, items, stars = user_rows[rated], events.item[rated], events.value[rated]
        self._ratings.fit(users, items, stars, self.config.rating_epochs, self._item_factors)
        self._held(f.explicit)
