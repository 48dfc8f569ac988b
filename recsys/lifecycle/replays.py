"""Replayed states of the past, kept so time travel replays a few events instead of hundreds.

Time travel rebuilds a model as it was after event N: a saved state (a version or checkpoint)
plus an online replay of the log up to N. Replaying is deterministic, so the state after event
M of a replay from a given saved state is a fixed value: `Replays` keeps such states (every
`EVERY` events of a replay), and the next question about the same saved state starts from a
copy of the nearest kept one at or before its seq.

A kept state is a deep copy that nothing learns on (the catalog and event weights stay shared),
so kept states never move. They live as long as the model host they belong to: the engine
builds a new host whenever the log is rewritten (a reset, a forgotten user).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from weakref import WeakKeyDictionary

from recsys.algorithms import Recommender

EVERY = 64  # keep the state every this many replayed events
LIMIT = 48  # kept states per model host; those of the saved state used longest ago go first


class Replays:
    """Kept replay states of one model host, by saved state: `(algorithm, arm, lineage id,
    the saved state's seq)`."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple, dict[int, Recommender]] = OrderedDict()

    def nearest(self, key: tuple, seq: int, shared: list) -> tuple[Recommender, int] | None:
        """A private copy of the newest kept state of `key` at or before `seq`, and its seq."""
        states = self._kept.get(key)
        at = max((s for s in states or () if s <= seq), default=None)
        if at is None:
            return None
        self._kept.move_to_end(key)
        return _copy(states[at], shared), at

    def keep(self, key: tuple, seq: int, model: Recommender, shared: list) -> None:
        """Keep `model` as the state of `key` after event `seq` (unless kept already)."""
        states = self._kept.setdefault(key, {})
        if seq in states:
            return
        states[seq] = _copy(model, shared)
        self._kept.move_to_end(key)
        while len(self._kept) > 1 and sum(map(len, self._kept.values())) > LIMIT:
            self._kept.popitem(last=False)
        if len(states) > LIMIT:
            del states[min(states)]


_BY_HOST: WeakKeyDictionary = WeakKeyDictionary()


def replays_of(host: object) -> Replays:
    """The kept states of `host` (a `recsys.hosting.ModelHost`), created on first use."""
    found = _BY_HOST.get(host)
    if found is None:
        found = _BY_HOST[host] = Replays()
    return found


def _copy(model: Recommender, shared: list) -> Recommender:
    """A private copy of `model` whose attributes that are one of `shared` stay shared."""
    return copy.deepcopy(model, {id(obj): obj for obj in shared})
