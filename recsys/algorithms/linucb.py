"""LinUCB (Li et al. 2010): a contextual bandit with one linear model shared by all items.

An item shown in a context is described by its genres repeated in four blocks: always, and
once more in the block of the context's time of day, day type and device. So the model can
learn "family films on weekend evenings" or "thrillers on mobile at night":

    score(i, c) = theta . phi(i, c) + alpha * sqrt(phi(i, c)' A^-1 phi(i, c))

with A = reg * I + sum of phi phi' and theta = A^-1 (sum of reward * phi). Pulls and rewards are
read as for the other bandits (`bandit.outcome`): interest is 1, a negative event 0, a weak
positive no pull. The estimate is clipped to 0..1, the range of a reward: ridge regression can
overshoot it, and a reward of 1 on an item estimated at 1.1 would otherwise lower it (each
observation moves the estimate of its own features towards its reward, never past it). Time
of day and day type come from the event's time on the lab clock; the device from the event's
context ("desktop" if absent).
A^-1 is kept up to date per event with the Sherman-Morrison formula.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from recsys.algorithms.bandit import REWARD_THRESHOLD, outcome
from recsys.algorithms.base import Explanation, Recommender, UpdateInfo, lead_part
from recsys.algorithms.config import Config, param
from recsys.algorithms.reasons import NOTHING_POSITIVE
from recsys.events import DAY_TYPES, DEVICES, TIMES_OF_DAY, Event, EventFrame

EPOCH_WEEKDAY = 1  # the lab clock starts on Tuesday 2026-09-01 (Monday is 0)
ESTIMATE, EXPLORATION = "expected reward (theta . phi)", "exploration (alpha x spread)"


def context_of(ts: float, context: dict | None = None) -> dict[str, str]:
    """The context of an event: given values win, the rest comes from the lab clock."""
    given = context or {}
    hour = (ts / 3600.0) % 24
    day = (EPOCH_WEEKDAY + int(ts // 86400)) % 7
    return {
        "time_of_day": str(given.get("time_of_day", TIMES_OF_DAY[int(hour // 6)])),
        "day_type": str(given.get("day_type", DAY_TYPES[day >= 5])),
        "device": str(given.get("device", "desktop")),
    }


@dataclass(frozen=True)
class LinUCBConfig(Config):
    alpha: float = param(0.5, 0.0, 10.0, "weight of the confidence bonus (exploration)")
    reg: float = param(1.0, 0.01, 100.0, "ridge penalty: A starts as reg x identity")


class LinUCB(Recommender):
    name = "linucb"
    config_class = LinUCBConfig
    summary = "Contextual bandit: genres x time of day, day type and device, with a UCB bonus."
    personalized = False
    explores = True
    scale = "estimated reward"
    config: LinUCBConfig

    def _reset(self) -> None:
        # An item without genres (an imported catalog) gets the one feature "(none)".
        item_genres = [gs or ("(none)",) for gs in self.catalog.genres]
        genres = sorted({g for gs in item_genres for g in gs})
        index = {g: i for i, g in enumerate(genres)}
        self._genres = np.zeros((self.catalog.n, len(genres)))
        for item, gs in enumerate(item_genres):
            self._genres[item, [index[g] for g in gs]] = 1.0 / np.sqrt(len(gs))
        # Items share few distinct genre vectors: score those, then map back to items.
        self._distinct, self._item_row = np.unique(self._genres, axis=0, return_inverse=True)
        width = len(genres)
        self._offsets = {"base": 0}
        for values in (TIMES_OF_DAY, DAY_TYPES, DEVICES):
            for value in values:
                self._offsets[value] = width * len(self._offsets)
        dims = width * len(self._offsets)
        self._a_inv = np.eye(dims) / self.config.reg
        self._b = np.zeros(dims)
        self._last_context = context_of(0.0)

    def _blocks(self, context: dict[str, str]) -> np.ndarray:
        """Indices of phi's four active blocks for a context."""
        width = self._genres.shape[1]
        starts = [
            self._offsets["base"],
            self._offsets[context["time_of_day"]],
            self._offsets[context["day_type"]],
            self._offsets.get(context["device"], self._offsets["desktop"]),
        ]
        return np.concatenate([np.arange(s, s + width) for s in starts])

    def _phi(self, item: int, context: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
        return self._blocks(context), np.tile(self._genres[item], 4)

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        if len(events) == 0:
            return
        last = None if events.context is None else events.context[-1]
        given_last = json.loads(last) if isinstance(last, str) else None
        self._last_context = context_of(float(events.ts[-1]), given_last)
        pulled = (weights >= REWARD_THRESHOLD) | (weights < 0)
        events, weights = _select(events, pulled), weights[pulled]
        if len(events) == 0:
            return
        n = len(events)
        given = events.contexts()
        hours = (events.ts / 3600.0) % 24
        days = (EPOCH_WEEKDAY + (events.ts // 86400).astype(np.int64)) % 7
        tod = np.array([self._offsets[t] for t in TIMES_OF_DAY])[(hours // 6).astype(int)]
        day = np.where(days >= 5, self._offsets["weekend"], self._offsets["weekday"])
        device = np.full(n, self._offsets["desktop"])
        for row in (i for i, c in enumerate(given) if c):  # few events carry a context
            c = context_of(float(events.ts[row]), given[row])
            tod[row], day[row] = self._offsets[c["time_of_day"]], self._offsets[c["day_type"]]
            device[row] = self._offsets.get(c["device"], self._offsets["desktop"])
        # phi for every event as a sparse matrix: four blocks of the item's genre vector, built
        # from the item's own genres only (one to three), never an events x 4 genres array.
        starts = np.stack([np.full(n, self._offsets["base"]), tod, day, device], axis=1)
        genres = sparse.csr_matrix(self._genres)
        genres.sort_indices()
        per_event = np.diff(genres.indptr)[events.item]
        total = 4 * per_event
        rows = np.repeat(np.arange(n), total)
        k = np.arange(int(total.sum())) - np.repeat(np.cumsum(total) - total, total)
        size = per_event[rows]
        block, j = k // np.maximum(size, 1), k % np.maximum(size, 1)
        where = genres.indptr[events.item[rows]] + j
        phi = sparse.csr_matrix(
            (genres.data[where], (rows, starts[rows, block] + genres.indices[where])),
            shape=(n, len(self._b)),
        )
        rewards = (weights >= REWARD_THRESHOLD).astype(float)
        a = np.eye(len(self._b)) * self.config.reg + (phi.T @ phi).toarray()
        self._a_inv = np.linalg.inv(a)
        self._b = phi.T @ rewards

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        context = context_of(event.ts, event.context)
        idx, values = self._phi(event.item, context)
        before = self._estimate(event.item, context)
        reward = outcome(weight)
        if reward is not None:
            shared = self._a_inv[:, idx] @ values  # A^-1 phi (A^-1 is symmetric)
            self._a_inv -= np.outer(shared, shared) / (1.0 + values @ shared[idx])
            self._b[idx] += reward * values
        self._last_context = context
        after = self._estimate(event.item, context)
        return UpdateInfo(
            self.name,
            item_change=abs(after - before),
            score_before=before,
            score_after=after,
            details={"reward": reward, **context},
        )

    def _estimate(self, item: int, context: dict[str, str]) -> float:
        idx, values = self._phi(item, context)
        return float(np.clip(values @ (self._a_inv[idx] @ self._b), 0.0, 1.0))

    def _chosen(self, context: dict | None) -> dict[str, str]:
        """The visit's context, its missing parts those of the newest event."""
        return (
            self._last_context
            if context is None
            else context_of(0.0, {**self._last_context, **context})
        )

    def _parts(self, context: dict | None) -> tuple[np.ndarray, np.ndarray]:
        idx = self._blocks(self._chosen(context))
        features = np.tile(self._distinct, 4)
        theta = self._a_inv[idx] @ self._b
        spread = ((features @ self._a_inv[np.ix_(idx, idx)]) * features).sum(axis=1)
        estimate = np.clip(features @ theta, 0.0, 1.0)
        bonus = self.config.alpha * np.sqrt(np.maximum(spread, 0.0))
        return estimate[self._item_row], bonus[self._item_row]

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        estimate, bonus = self._parts(context)
        return estimate + bonus

    def _cold_scores(self) -> np.ndarray:
        return self._scores(-1, None)  # the same for everyone, newcomers included

    def score(
        self, user: str, items: np.ndarray | None = None, context: dict | None = None
    ) -> np.ndarray:
        """As `Recommender.score`; one model serves everyone, so a newcomer's scores read the
        visit's context too (the base class gives unknown users context-free cold scores)."""
        scores = self._scores(-1, context)
        return scores if items is None else scores[np.asarray(items, dtype=np.int64)]

    def reasons(self, user: str, items: list[int], context: dict | None = None) -> list[str]:
        """The ranking's reasons in the context it was scored in, for anyone."""
        estimate, bonus = self._parts(context)
        return [self._explanation(estimate[i], bonus[i], context).reason for i in items]

    def _explanation(self, estimate: float, bonus: float, context=None) -> Explanation:
        parts = {ESTIMATE: float(estimate), EXPLORATION: float(bonus)}
        lead = lead_part(parts)
        c = self._chosen(context)
        when = f"for {c['time_of_day']}, {c['day_type']}, {c['device']}"
        if lead == ESTIMATE:
            reason = f"{when}: {ESTIMATE} {estimate:.2f}, exploration {bonus:+.2f}"
        elif lead == EXPLORATION:
            reason = f"{when}: exploring, {EXPLORATION} {bonus:+.2f} on top of {estimate:.2f}"
        else:
            reason = f"{when}: {NOTHING_POSITIVE} (expected reward {estimate:.2f})"
        return Explanation(float(estimate + bonus), parts, reason, lead=lead)

    def _explain(self, user: int, item: int) -> Explanation:
        estimate, bonus = self._parts(None)
        return self._explanation(estimate[item], bonus[item])

    def _cold_explain(self, item: int) -> Explanation:
        return self._explain(-1, item)

    def _state(self) -> dict[str, np.ndarray]:
        c = self._last_context
        return {
            "a_inv": self._a_inv.copy(),
            "b": self._b.copy(),
            "last_context": np.array([c["time_of_day"], c["day_type"], c["device"]]),
        }

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self._a_inv = state["a_inv"].copy()
        self._b = state["b"].copy()
        t, d, device = (str(x) for x in state["last_context"])
        self._last_context = {"time_of_day": t, "day_type": d, "device": device}


def _select(events: EventFrame, keep: np.ndarray) -> EventFrame:
    """The events where `keep` is true."""
    context = None if events.context is None else events.context[keep]
    return EventFrame(
        events.seq[keep],
        events.ts[keep],
        events.user[keep],
        events.item[keep],
        events.kind[keep],
        events.value[keep],
        context,
    )
