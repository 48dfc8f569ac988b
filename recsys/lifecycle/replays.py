"""Replayed states of the past, kept so time travel replays a few events instead of hundreds.

Time travel rebuilds a model as it was after event N: a saved state (a version or checkpoint)
plus an online replay of the log up to N. Replaying is deterministic, so the state after event
M of a replay from a given saved state is a fixed value: `Replays` keeps such states (every
`EVERY` events of a replay, and where it stopped), and the next question about the same saved
state starts from the nearest kept one at or before its seq.

A kept state is the model pickled in memory (never written anywhere: stored parameters are
arrays, `recsys.store`), with the catalog and event weights left out and shared: unpickling
gives a private copy that can learn on without touching the kept one, in a few milliseconds
where `copy.deepcopy` takes tens. The cache lives as long as the model host it belongs to:
the engine builds a new host whenever the log is rewritten (a reset, a forgotten user).
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from weakref import WeakKeyDictionary

from recsys.algorithms import Recommender

EVERY = 64  # keep the state every this many replayed events
BUDGET = 128 * 2**20  # bytes of kept states per model host; the oldest go first


class Replays:
    """Kept replay states of one model host, by saved state: `(algorithm, arm, lineage id,
    the saved state's seq)`."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple, dict[int, bytes]] = OrderedDict()
        self._bytes = 0

    def nearest(self, key: tuple, seq: int, shared: list) -> tuple[Recommender, int] | None:
        """A private copy of the newest kept state of `key` at or before `seq`, and its seq."""
        states = self._kept.get(key)
        at = max((s for s in states or () if s <= seq), default=None)
        if at is None:
            return None
        self._kept.move_to_end(key)
        return _load(states[at], shared), at

    def keep(self, key: tuple, seq: int, model: Recommender, shared: list) -> None:
        """Keep `model` as the state of `key` after event `seq` (unless kept already)."""
        states = self._kept.setdefault(key, {})
        if seq in states:
            return
        try:
            data = _dump(model, shared)
        except (pickle.PicklingError, TypeError, AttributeError):
            return  # a model that cannot be pickled is replayed from its saved state each time
        states[seq] = data
        self._kept.move_to_end(key)
        self._bytes += len(data)
        while self._bytes > BUDGET and self._kept:
            oldest = next(iter(self._kept))
            self._bytes -= sum(len(d) for d in self._kept.pop(oldest).values())


_BY_HOST: WeakKeyDictionary = WeakKeyDictionary()


def replays_of(host: object) -> Replays:
    """The kept states of `host` (a `recsys.hosting.ModelHost`), created on first use."""
    found = _BY_HOST.get(host)
    if found is None:
        found = _BY_HOST[host] = Replays()
    return found


def _dump(model: Recommender, shared: list) -> bytes:
    """The model's attributes pickled, those that are one of `shared` by reference (a
    `persistent_id` hook would run in Python for every object pickled: ten times slower)."""
    links, state = {}, {}
    for name, value in vars(model).items():
        index = next((i for i, obj in enumerate(shared) if value is obj), None)
        if index is None:
            state[name] = value
        else:
            links[name] = index
    return pickle.dumps((type(model), state, links), protocol=pickle.HIGHEST_PROTOCOL)


def _load(data: bytes, shared: list) -> Recommender:
    cls, state, links = pickle.loads(data)  # bytes this module pickled in this process
    model = cls.__new__(cls)
    model.__dict__.update(state)
    for name, index in links.items():
        setattr(model, name, shared[index])
    return model
