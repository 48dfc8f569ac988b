"""Matrix factorisation for what people choose (implicit ALS), with a rating head for stars.

Ranking uses the confidence-weighted implicit preference model of Hu, Koren & Volinsky
("Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008), with an item bias:

    preference(u, i) = item_bias[i] + x_u . y_i        (about -1 .. 1: the score's scale)

Each (user, item) pair the user touched has a summed signed event weight W (`EventWeights`:
views and clicks a little, likes and favourites more, ratings relative to the user's own
average, dislikes and skips negative). Its preference is sign(W) with confidence 1 + alpha |W|;
untouched items enter in closed form through the Gram matrix Y'Y (below). Nothing is a fixed
star target, so a like can only pull the item's preference up toward +1, a dislike down to -1.

A user's vector is x_u = m + d_u, where m is `average_start` (default 1/2) times the average
person's vector: a user with no history is scored by m (`_cold_scores`, popularity on the same
scale), and the first event moves them from there by the exact ridge solve

    (w0 Y'Y + sum_j (c_j - w0) y_j y_j' + user_reg I) d_u = sum_j [c_j (p_j - s_j) + w0 s_j] y_j,
    s_j = item_bias[j] + m . y_j

over the items j the user touched, where y_j are the item rows the user's vector multiplies
(learned factors, then the item's genres as fixed features, so a taste for a genre reaches its
rarely seen items too) and w0 is `unobserved_weight`: every untouched item counts as the preference
m gives it, with confidence w0. With m = 0 this is iALS on top of the item bias; with the whole
average person a newcomer would stay near that person's list for long. The same system is the user
step of a full retrain (ALS, deterministic for a seed, solved directly) and of the online update,
which keeps each user's A^-1 and solution and adds a new history item by a Sherman-Morrison update:
O(d^2) instead of a re-solve over the history (`als.RankOneInverses`; the two agree to rounding,
and a replay learns bit for bit what the live model learned). The item step is iALS's own
(untouched pairs count as 0 for [y_i, item_bias[i]]), so the two half-steps do not minimise one
loss: alternating them is a heuristic, deterministic and stable in practice. Online, only the user
is re-solved by default (`learning_rate` 0: items change at retrains); should an update move the
acted-on item's score against the feedback (only possible when it already lies beyond +1 or -1) it
is held back, and the learning log says so. The score of item i splits exactly into what m gives it
plus one contribution per history item j, y_i' A^-1 y_j [c_j (p_j - s_j) + w0 s_j] (section 5 of
the paper): that is the breakdown and the reason each card shows (`mf_explain`). Ratings are also
fitted by the rating head (`mf_ratings.py`), which `predict` answers in stars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import blas
from threadpoolctl import threadpool_limits

from recsys.algorithms.als import RankOneInverses, pair_dots, ridge_rows
from recsys.algorithms.base import Explanation, Recommender, UpdateInfo
from recsys.algorithms.config import Config, flag, param
from recsys.algorithms.mf_explain import (
    cold_explanations,
    description,
    explanations,
    held_update,
    label,
    star_explanations,
)
from recsys.algorithms.mf_ratings import RatingHead
from recsys.events import Event, EventFrame


@dataclass(frozen=True)
class MFConfig(Config):
    factors: int = param(32, 2, 256, "size of the latent taste space")
    alpha: float = param(10.0, 0.0, 200.0, "confidence added per unit of event weight")
    reg: float = param(100.0, 0.0, 10000.0, "L2 penalty of the item vectors")
    user_reg: float = param(40.0, 0.0, 10000.0, "L2 pull of a user's vector to the average person")
    epochs: int = param(8, 1, 100, "ALS sweeps in a full retrain")
    learning_rate: float = param(
        0.0, 0.0, 0.1, "online SGD step of the acted-on item (0: items change at retrains only)"
    )
    rating_learning_rate: float = param(
        0.05, 0.0, 0.5, "online SGD step of the rating head's user and item per rating"
    )
    rating_reg: float = param(0.1, 0.0, 10.0, "L2 penalty of the rating head (ALS-WR)")
    rating_epochs: int = param(
        3, 1, 100, "ALS sweeps of the rating head, from the preference head's item vectors"
    )
    warm_start: bool = flag(False, "a retrain starts from the current item vectors")
    init_std: float = param(0.1, 0.001, 1.0, "spread of the random initial vectors")
    genre_weight: float = param(1.0, 0.0, 10.0, "scale of the genre features users weigh (0: off)")
    average_start: float = param(
        0.5, 0.0, 1.0, "how much of the average person a newcomer starts from (0: item bias only)"
    )
    unobserved_weight: float = param(
        1.0, 0.001, 1.0, "confidence of 'not chosen' for every untouched item (Rendle's alpha0)"
    )


class MatrixFactorization(Recommender):
    name = "mf"
    config_class = MFConfig
    summary = "Implicit-feedback matrix factorisation (iALS): what you choose, explained by items."
    scale = "preference"
    config: MFConfig
    fits_ratings = True  # False: no rating head (a semi-synthetic truth reads preference only)
    memo_scores = True

    def _reset(self) -> None:
        rng = np.random.default_rng(self.seed)
        k, std = self.config.factors, self.config.init_std
        # Each item's genre row of unit length: a fixed feature a user's vector weighs beside
        # the learned factors, so a taste for a genre reaches its rarely seen items too.
        genres = self.catalog.genre_matrix[1]
        unit = genres / np.sqrt(np.maximum(genres.sum(1, keepdims=True), 1))
        genres = unit * self.config.genre_weight
        # One matrix [factors | genres] per item (what a user's vector multiplies); the factors
        # are a view into it, so every update of them is an update of it.
        self._items = np.hstack([rng.normal(0.0, std, (self.catalog.n, k)), genres])
        self._item_factors = self._items[:, :k]
        self._genres = self._items[:, k:]
        self._item_bias = np.zeros(self.catalog.n)
        self._gram = self._items.T @ self._items
        d = self._items.shape[1]
        self._mean_user = np.zeros(d)
        self._user_factors = np.zeros((0, d))
        self._online: RankOneInverses | None = None  # per-user inverses while items stay fixed
        self._ratings = RatingHead(self.catalog.n, k, self.config.rating_reg, rng, std)
        self._held(False)

    def _design(self, items: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Item rows as a user's vector sees them: [learned factors, fixed genre features]."""
        return self._items[items]

    def _grow(self, n_users: int) -> None:
        have = len(self._user_factors)
        if n_users > have:
            capacity = max(n_users, 2 * have, 64)
            factors = np.tile(self._mean_user, (capacity, 1))
            factors[:have] = self._user_factors[:have]
            self._user_factors = factors
        self._ratings.grow(n_users)

    def warm_from(self, other: Recommender) -> None:
        # Only the item side: a warm retrain re-solves every user from it anyway.
        if self.config.warm_start and other.catalog.n == self.catalog.n:
            warm = other._item_factors, other._item_bias, other._mean_user
            self._warm = tuple(array.copy() for array in warm)

    def minibatch_config(self) -> dict:
        return {"epochs": 1, "rating_epochs": 1, "warm_start": True}  # a sweep from the vectors

    def fit(self, events: EventFrame, catalog=None) -> None:
        # One BLAS thread (for the whole process while the fit runs): ALS makes thousands of
        # small products, which a thread pool only slows down, several times over on a busy
        # machine, where its threads wait for cores.
        try:
            with threadpool_limits(1, "blas"):
                super().fit(events, catalog)  # resets the state, then calls _fit
        finally:
            self._warm = None

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        warm = getattr(self, "_warm", None)
        if warm is not None and warm[0].shape == self._item_factors.shape:
            self._item_factors[:] = warm[0]
            self._item_bias, self._mean_user = warm[1].copy(), warm[2].copy()
            self._gram = self._items.T @ self._items
        # The base class sums W per pair (`History`): the pairs with a weight.
        users, items, summed = self._seen.arrays()
        weighted = summed != 0.0
        self._sweeps(users[weighted], items[weighted], summed[weighted], len(self._user_ids))
        rated = (events.kind == "rating") & self.fits_ratings
        users, items, stars = user_rows[rated], events.item[rated], events.value[rated]
        self._ratings.fit(users, items, stars, self.config.rating_epochs, self._item_factors)

    def _sweeps(self, users, items, summed, n_users) -> None:
        """The preference head's ALS sweeps, then a user step (its pair arrays die on return)."""
        k, w0 = self.config.factors, self.config.unobserved_weight
        preference, confidence = self._preference(summed)
        by_item = np.argsort(items, kind="stable")  # the item step's pairs, grouped once
        iu, ii, ip, ic = (a[by_item] for a in (users, items, preference, confidence))
        for _ in range(self.config.epochs):
            self._solve_users(users, items, preference, confidence, n_users)
            # The item step: [y_i, b_i] against users' [x_u, 1]; a user's genre taste theta_u
            # is a fixed offset o_ui = theta_u . phi_i, for the unobserved zeros too (in closed
            # form: - sum_u z_u theta_u' phi_i).
            taste = self._user_factors[:n_users]
            design = np.hstack([taste[:, :k], np.ones((n_users, 1))])
            offset = pair_dots(taste[:, k:], self._genres, iu, ii)
            solution = ridge_rows(
                ii,
                iu,
                ic - w0,
                ic * (ip - offset) + w0 * offset,
                design,
                self.catalog.n,
                np.full(self.catalog.n, self.config.reg),
                base=w0 * (design.T @ design),
                extra=-w0 * (self._genres @ (taste[:, k:].T @ design)),
            )
            self._item_factors[:] = solution[:, :-1]
            self._item_bias = solution[:, -1].copy()
            self._gram = self._items.T @ self._items
            if n_users:
                self._mean_user = self.config.average_start * taste.mean(axis=0)
        self._solve_users(users, items, preference, confidence, n_users)

    def _preference(self, summed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Preference sign(W) and confidence 1 + alpha |W| of summed event weights."""
        return np.sign(summed), 1.0 + self.config.alpha * np.abs(summed)

    def _solve_users(self, users, items, preference, confidence, n_users) -> None:
        """The user step for every user at once: u = mean_user + d_u (module docstring)."""
        design, w0 = self._design(), self.config.unobserved_weight
        average = self._item_bias + design @ self._mean_user
        target = confidence * (preference - average[items]) + w0 * average[items]
        deviation = ridge_rows(
            users,
            items,
            confidence - w0,
            target,
            design,
            n_users,
            np.full(n_users, self.config.user_reg),
            base=w0 * self._gram,
        )
        self._user_factors = np.tile(self._mean_user, (max(n_users, 1), 1))
        self._user_factors[:n_users] += deviation
        self._grow(n_users)

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        if self._explicit:  # star-scale vectors: the preference solve below would wipe them
            return held_update(self.name, self._score_one(user, event.item), weight)
        item, x = event.item, self._user_factors[user]
        y, bias = self._items[item], self._item_bias.item(item)
        before, saved, undo = bias + blas.ddot(y, x), x.copy(), None
        summed = self._seen[user][item]  # the base class has added this event's weight
        if self.config.learning_rate:  # a re-solve (the items move), then the item's own step
            undo = (self._item_factors[item].copy(), bias, self._gram.copy())
            self._online = None
            items, lhs, contribution = self._system(user)
            solved = np.linalg.solve(lhs, contribution.sum(axis=0)) if len(items) else 0.0
            x[:] = self._mean_user + solved
            if summed != 0.0:
                self._step_item(user, item, summed)
            bias = self._item_bias.item(item)
        else:
            self._solve_user(user, item, summed, x)
        if event.kind == "rating":
            self._ratings.learn(user, item, float(event.value), self.config.rating_learning_rate)
        after = bias + blas.ddot(y, x)
        held = weight * (after - before) < 0  # beyond +-1 already: keep the direction
        if held:
            x[:], after = saved, before
            if undo:
                self._item_factors[item], self._item_bias[item], self._gram = undo
        return UpdateInfo(
            self.name,
            user_change=blas.dnrm2(x - saved),
            item_change=blas.dnrm2(self._item_factors[item] - undo[0]) if undo else 0.0,
            score_before=before,
            score_after=after,
            details={
                "weight": weight,
                "preference": 1.0 if summed > 0 else -1.0 if summed < 0 else 0.0,
                "confidence": 1.0 + self.config.alpha * abs(summed),
                "held back": held,
            },
        )

    def _solve_user(self, user: int, item: int, summed: float, x: np.ndarray) -> None:
        """x = m + A^-1 b after an event on `item`, by a rank-one update of the user's inverse
        (`RankOneInverses`; the items stay fixed between retrains while learning_rate is 0)."""
        if self._online is None:
            base = self.config.unobserved_weight * self._gram
            base[np.diag_indices_from(base)] += self.config.user_reg
            self._online = RankOneInverses(base)
            self._average = self._item_bias + self._items @ self._mean_user  # s_j, fixed too
        book = self._seen[user]
        # A new item is the history's last entry (`solution` checks that it is also new).
        last = self._term(item, summed) if next(reversed(book)) == item else False
        deviation = self._online.solution(user, len(book), last, book.items(), self._term)
        np.add(self._mean_user, deviation, out=x)

    def _term(self, item: int, summed: float) -> tuple[np.ndarray, float, float] | None:
        """The term a history item adds to the user's system: its row y, the confidence above
        the unobserved weight, and its target c (p - s) + w0 s (None: no weight, no term)."""
        if summed == 0.0:
            return None
        w0, average = self.config.unobserved_weight, self._average.item(item)
        confidence = 1.0 + self.config.alpha * abs(summed)
        preference = 1.0 if summed > 0 else -1.0
        return (
            self._items[item],
            confidence - w0,
            confidence * (preference - average) + w0 * average,
        )

    def _system(self, user: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The user's history, their ridge matrix A, and each history item's term r_j y_j."""
        items, summed = self._seen.pairs(user)
        items, summed = items[summed != 0.0].astype(np.int64), summed[summed != 0.0]
        preference, confidence = self._preference(summed)
        y, w0 = self._design(items), self.config.unobserved_weight
        average = self._item_bias[items] + y @ self._mean_user
        lhs = w0 * self._gram + (y.T * (confidence - w0)) @ y
        lhs[np.diag_indices_from(lhs)] += self.config.user_reg
        return items, lhs, y * (confidence * (preference - average) + w0 * average)[:, None]

    def _step_item(self, user: int, item: int, summed: float) -> None:
        """One step of the item's [vector, bias] toward the pair's preference, capped so the
        pair's prediction never overshoots it."""
        preference, confidence = self._preference(np.array([summed]))
        x = self._user_factors[user, : self.config.factors]
        error = preference[0] - self._score_one(user, item)
        step = min(self.config.learning_rate * confidence[0], 1.0 / (1.0 + x @ x)) * error
        old = self._design([item])[0]
        self._item_factors[item] += step * x
        self._item_bias[item] += step
        new = self._design([item])[0]
        self._gram += np.outer(new, new) - np.outer(old, old)

    def _score_one(self, user: int, item: int) -> float:
        return float(self._item_bias[item] + blas.ddot(self._items[item], self._user_factors[user]))

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        return self._item_bias + self._design() @ self._user_factors[user]

    def _cold_scores(self) -> np.ndarray:
        return self._item_bias + self._design() @ self._mean_user

    def _taste(self, user: int) -> np.ndarray:
        return self._design() @ (self._user_factors[user] - self._mean_user)

    def predict(self, user: str, items: np.ndarray) -> np.ndarray:
        """Predicted stars (rating head); a stranger gets the mean plus the item's bias."""
        row = self._users.get(user)
        return self._ratings.predict(row, np.asarray(items, dtype=np.int64))

    def predict_one(self, user: str, item: int) -> float:
        """`predict` of one item, as a float (River's `predict_one`)."""
        return self._ratings.predict_one(self._users.get(user), item)

    def preference_model(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """The fitted preference model as arrays: item rows (items x d, learned factors then
        genre features), item bias (items,), user vectors (users x d) and the user ids, so
        that preference = user . item + bias (what `dataset_world` turns into a truth)."""
        n = len(self._user_ids)
        return self._items.copy(), self._item_bias.copy(), self._user_factors[:n].copy(), self.users

    def embedding(self, user: str | None = None) -> np.ndarray | None:
        if user is None:
            return self._item_factors.copy()
        row = self._users.get(user)
        return None if row is None else self._user_factors[row, : self.config.factors].copy()

    def _describe(self, user: int) -> dict[str, float]:
        deviation = self._user_factors[user] - self._mean_user
        return description(deviation, self._seen[user], self._ratings.user_bias[user])

    def _cold_explain(self, item: int) -> Explanation:
        return cold_explanations(self._cold_scores(), [item], self._explicit)[0]

    def _cold_reasons(self, items: list[int]) -> list[str]:
        return [e.reason for e in cold_explanations(self._memo(None, None), items, self._explicit)]

    def _explain(self, user: int, item: int) -> Explanation:
        return self._explanations(user, [item])[0]

    def _reasons(self, user: int, items: list[int]) -> list[str]:
        return [e.reason for e in self._explanations(user, items)]

    def _explanations(self, user: int, items: list[int]) -> list[Explanation]:
        wanted = np.asarray(items, dtype=np.int64)
        if self._explicit:  # Spark's vectors, which no event of the history moved
            return star_explanations(self._memo(user, None)[wanted])
        history, lhs, terms = self._system(user)
        if not len(history):
            return cold_explanations(self._memo(None, None), wanted)
        seen = self._seen[user]
        return explanations(
            self._memo(user, None)[wanted],
            self._memo(None, None)[wanted],
            history,
            np.linalg.solve(lhs, self._design(wanted).T).T @ terms.T,
            lambda item, taken: label(self.catalog, item, seen.get(item, 0.0), taken),
        )

    _COPIED = ("item_bias", "gram", "mean_user", "user_factors")  # arrays the state holds whole

    def _state(self) -> dict[str, np.ndarray]:
        n, held = len(self._user_ids), {"explicit_import": np.array(True)} if self._explicit else {}
        state = {k: getattr(self, f"_{k}").copy() for k in ("item_factors", *self._COPIED[:3])}
        state["user_factors"] = self._user_factors[:n].copy()
        return state | held | {f"rating.{k}": v for k, v in self._ratings.state(n).items()}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        n = len(self._user_ids)
        self._item_factors[:] = state["item_factors"]  # in place: `_items` is a view on it
        for name in self._COPIED:
            setattr(self, f"_{name}", state[name].copy())
        self._grow(n)
        self._ratings.load_state({k[7:]: v for k, v in state.items() if k.startswith("rating.")}, n)
        self._held(bool(state.get("explicit_import", False)))

    def _held(self, explicit: bool) -> None:
        """Explicit ALS's vectors (`mf_factors`) score stars, kept still until a retrain."""
        self._explicit, self.scale = explicit, "stars" if explicit else type(self).scale
