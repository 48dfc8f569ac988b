"""Served models and what keeps reopening a lab cheap: models built when first used, a tail.

- `Served(algorithm, arm)` names a served model; `ProductionModels` reads the production ones
  by algorithm name (what a blend attaches).
- `Hosted` is one served model. Opening a lab reads only where each model's newest saved state
  (a version or a checkpoint) stands; the state itself is read and deserialised when the model
  is first used, so an algorithm nobody asks for costs nothing.
- `Tail` holds in memory the events that some built model has not learned yet (at most
  `TAIL_LIMIT` of them); a model further behind (not built yet, or idle for long) reads the
  older part back from the event log, in the same order, so its replay is the same.
- A served model that learned `SNAPSHOT_EVERY` events since its newest saved state is
  checkpointed on close (`ModelHost.checkpoint`), and at once after a replay that long (its
  first use after opening a lab with a long tail), so the next open replays a short tail.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from recsys.algorithms import Recommender
from recsys.events import Event
from recsys.store.database import Store

PRODUCTION, CANDIDATE = "production", "candidate"
SNAPSHOT_EVERY = 5000  # events learned since the newest saved state that make a checkpoint due
TAIL_LIMIT = 50_000  # events kept in memory for lagging models; older ones are read back


@dataclass(frozen=True)
class Served:
    """The key of a served model: an algorithm and the arm it serves."""

    algorithm: str
    arm: str = PRODUCTION

    @property
    def is_version(self) -> bool:
        """A stored version serving an experiment's arm (rebuilt from it, never checkpointed)."""
        return self.arm.startswith("v")

    def served_by(self, version: int) -> str:
        """The events table's `served_by` text: `mf:production:12`."""
        return f"{self.algorithm}:{self.arm}:{version}"

    @classmethod
    def parse(cls, served_by: str | None) -> Served | None:
        """The served model an events row's `served_by` names (None for an event logged
        before serving was recorded)."""
        if not served_by:
            return None
        algorithm, arm, _ = served_by.split(":")
        return cls(algorithm, arm)

    def __str__(self) -> str:
        """The learning log's model name: `mf`, `mf@candidate`, `mf@v12`."""
        return self.algorithm if self.arm == PRODUCTION else f"{self.algorithm}@{self.arm}"


class ProductionModels(Mapping[str, Recommender]):
    """Production models by algorithm name, read live from the host (what a blend attaches)."""

    def __init__(self, hosted: dict[Served, Hosted]):
        self._hosted = hosted

    def __getitem__(self, name: str) -> Recommender:
        return self._hosted[Served(name)].model

    def __iter__(self) -> Iterator[str]:
        return (s.algorithm for s in self._hosted if s.arm == PRODUCTION)

    def __len__(self) -> int:
        return sum(s.arm == PRODUCTION for s in self._hosted)


class Hosted:
    """A served model: `applied` is the last seq it has learned, `saved` the seq its newest
    saved state is trained through, `lineage` what it started from (version_id, lineage_id;
    no lineage id for a version arm). Built by `build` when `model` is first read."""

    def __init__(
        self,
        lineage: dict,
        applied: int,
        saved: int,
        model: Recommender | None = None,
        build: Callable[[], Recommender] | None = None,
    ):
        self.lineage, self.applied, self.saved = lineage, applied, saved
        self._model, self._build = model, build

    @property
    def built(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> Recommender:
        if self._model is None:
            assert self._build is not None
            self._model, self._build = self._build(), None
        return self._model


class Tail:
    """The log after `start` as `Event`s in memory; `after(seq)` reads what is older from the
    store. `start` only moves forward (`trim`)."""

    def __init__(self, store: Store, start: int):
        self.store, self.start = store, start
        self.events: list[Event] = []

    def __len__(self) -> int:
        return len(self.events)

    def append(self, event: Event) -> None:
        self.events.append(event)

    def after(self, seq: int) -> Iterator[Event]:
        """Every event after `seq`, in seq order."""
        if seq < self.start:
            yield from self.store.events(after_seq=seq, through_seq=self.start).rows()
            seq = self.start
        first = bisect.bisect_right(self.events, seq, key=lambda e: e.seq)
        yield from self.events[first:]

    def trim(self, oldest: int) -> None:
        """Forget the events every built model has learned (through `oldest`), and keep at
        most TAIL_LIMIT: a model further behind reads them back from the store."""
        drop = bisect.bisect_right(self.events, oldest, key=lambda e: e.seq)
        drop = max(drop, len(self.events) - TAIL_LIMIT)
        if drop > 0:
            self.start = self.events[drop - 1].seq
            del self.events[:drop]
