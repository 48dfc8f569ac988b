"""Rankings, the before/after diff of one learning step, and the step itself.

These are the objects the UI, the CLI (`--json`) and the tests all read.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from recsys.algorithms.base import Catalog, Recommender, UpdateInfo
from recsys.errors import RecsysError
from recsys.events import Event

MAX_K = 100


@dataclass(frozen=True)
class RankedItem:
    item: int
    rank: int  # 1-based
    score: float
    title: str
    genres: tuple[str, ...]
    year: int | None
    region: str | None
    reason: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ranking:
    user: str
    algorithm: str
    seq: int  # the last event the model had learned from
    items: tuple[RankedItem, ...]
    scale: str = ""  # what the scores mean: a key of recsys.algorithms.SCALES

    @classmethod
    def of(
        cls,
        model: Recommender,
        catalog: Catalog,
        user: str,
        k: int,
        context: dict | None,
        algorithm: str,
        seq: int,
    ) -> Ranking:
        """`model`'s top-k for `user` over `catalog`, each item with its one-line reason,
        labelled with the algorithm it serves and the seq of the state it reflects."""
        items, scores = model.recommend(user, k, context)
        reasons = model.reasons(user, items.tolist(), context)
        ranked = tuple(
            RankedItem(
                item,
                rank,
                score,
                catalog.titles[item],
                catalog.genres[item],
                catalog.years[item] if catalog.years else None,
                catalog.regions[item] if catalog.regions else None,
                reason,
                catalog.tags[item] if catalog.tags else (),
            )
            for rank, (item, score, reason) in enumerate(
                zip(items.tolist(), scores.tolist(), reasons, strict=True), 1
            )
        )
        return cls(user, algorithm, seq, ranked, model.scale)

    def item_ids(self) -> list[int]:
        return [r.item for r in self.items]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Move:
    """An item present before and after: its rank (1-based) and score at both ends."""

    item: int
    title: str
    old_rank: int
    new_rank: int
    old_score: float
    new_score: float

    @property
    def places(self) -> int:
        """Places gained (positive) or lost (negative)."""
        return self.old_rank - self.new_rank

    @property
    def score_delta(self) -> float:
        return self.new_score - self.old_score


@dataclass(frozen=True)
class Diff:
    entered: tuple[RankedItem, ...]
    left: tuple[RankedItem, ...]
    moved: tuple[Move, ...]
    unchanged: tuple[Move, ...]

    @property
    def changed(self) -> bool:
        return bool(self.entered or self.left or self.moved)

    def summary(self) -> str:
        """The step in one plain sentence, by the genre most of the entering (and leaving)
        items share: "Your list moved toward Sci-Fi: 3 entered, all Sci-Fi; 3 left, 2 of them
        Drama." A genre is named only when more than half of the items have it."""
        if not self.changed:
            return "Your list kept its items and its order."
        if not self.entered:
            return f"Your list kept its items; {len(self.moved)} moved."
        toward, away = _majority_genre(self.entered), _majority_genre(self.left)
        if toward and toward == away:
            head = f"Your list changed within {toward}"
        elif toward:
            head = f"Your list moved toward {toward}"
        elif away:
            head = f"Your list moved away from {away}"
        else:
            head = "Your list changed"
        return (
            f"{head}: {len(self.entered)} entered{_share(self.entered, toward)}; "
            f"{len(self.left)} left{_share(self.left, away)}."
        )

    def to_dict(self) -> dict[str, Any]:
        def moves(ms):
            return [asdict(m) | {"places": m.places, "score_delta": m.score_delta} for m in ms]

        return {
            "entered": [asdict(r) for r in self.entered],
            "left": [asdict(r) for r in self.left],
            "moved": moves(self.moved),
            "unchanged": moves(self.unchanged),
        }


def _majority_genre(items: tuple[RankedItem, ...]) -> str | None:
    """The genre more than half of `items` have (the most common; ties by name), or None."""
    counts: dict[str, int] = {}
    for r in items:
        for genre in set(r.genres):
            counts[genre] = counts.get(genre, 0) + 1
    if not counts:
        return None
    genre = min(counts, key=lambda g: (-counts[g], g))
    return genre if counts[genre] * 2 > len(items) else None


def _share(items: tuple[RankedItem, ...], genre: str | None) -> str:
    if genre is None:
        return ""
    n = sum(genre in r.genres for r in items)
    if len(items) == 1:
        return f" ({genre})"
    return f", all {genre}" if n == len(items) else f", {n} of them {genre}"


def diff(before: Ranking, after: Ranking) -> Diff:
    old = {r.item: r for r in before.items}
    new = {r.item: r for r in after.items}
    moved, unchanged = [], []
    for r in after.items:
        if r.item in old:
            o = old[r.item]
            move = Move(r.item, r.title, o.rank, r.rank, o.score, r.score)
            (moved if o.rank != r.rank else unchanged).append(move)
    return Diff(
        entered=tuple(r for r in after.items if r.item not in old),
        left=tuple(r for r in before.items if r.item not in new),
        moved=tuple(moved),
        unchanged=tuple(unchanged),
    )


@dataclass
class LearningStep:
    """Everything one interaction did: the event, the rankings around it, what the models
    changed and how long each stage took (milliseconds)."""

    event: Event
    title: str
    before: Ranking
    after: Ranking
    diff: Diff
    updates: list[UpdateInfo]
    timings: dict[str, float] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)  # retrains, alarms it caused

    @property
    def update(self) -> UpdateInfo:
        """The update of the algorithm that produced the rankings."""
        return next(u for u in self.updates if u.algorithm == self.after.algorithm)

    @property
    def message(self) -> str:
        e, d, u = self.event, self.diff, self.update
        what = f"rating {e.value:g}★" if e.kind == "rating" else e.kind
        if u.details.get("held back because"):
            learned = f"it kept its vectors ({u.details['held back because']})"
        elif u.user_change:
            learned = f"your taste vector moved {u.user_change:.3f}"
        elif u.score_after != u.score_before:
            learned = f"the item's score moved {u.score_after - u.score_before:+.3f}"
        else:
            learned = "its components learned from it"
        changes = (
            f"{len(d.entered)} entered, {len(d.left)} left, {len(d.moved)} moved"
            if d.changed
            else "your top list kept its order"
        )
        if any(r.item == e.item for r in d.left):
            changes += " (the item itself left: what you have seen is not recommended again)"
        message = (
            f"Learned from your {what} of “{self.title}” in {self.timings['total']:.1f} ms "
            f"({self.after.algorithm}): {learned}; {changes}."
        )
        for action in self.actions:
            message += " " + describe_action(action)
        return message

    @property
    def summary(self) -> str:
        return self.diff.summary()

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event.to_dict(),
            "title": self.title,
            "message": self.message,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "diff": self.diff.to_dict(),
            "updates": [asdict(u) for u in self.updates],
            "timings_ms": self.timings,
            "actions": self.actions,
        }


@dataclass
class UndoStep:
    """An undone interaction (`Engine.undo_last`): the forgotten event and the list before and
    after forgetting it, read by the page like a `LearningStep`."""

    event: Event
    title: str
    before: Ranking
    after: Ranking
    diff: Diff

    @property
    def message(self) -> str:
        what = f"rating {self.event.value:g}★" if self.event.kind == "rating" else self.event.kind
        return f"Undid your {what} of “{self.title}”: the model forgot it."

    @property
    def summary(self) -> str:
        return self.diff.summary()


def describe_action(action: dict[str, Any]) -> str:
    """One sentence for something a policy did after an event."""
    if action.get("error"):
        return f"The {action['trigger']} policy wanted a {action['kind']}: {action['error']}."
    if action["kind"] == "alarm":
        return f"Drift alarm: {action['detail']}."
    if action.get("started"):  # a background worker runs it; the page follows it
        what = "A retrain" if action["kind"] == "retrain" else "A mini-batch"
        fate = "it serves"  # a mini-batch refits what serves
        if action["kind"] == "retrain":
            gated = action.get("gated", True)
            fate = "the gate decides whether it serves" if gated else "it becomes the candidate"
        return (
            f"{what} of {action['algorithm']} started ({action['trigger']}: {action['detail']}); "
            f"when it lands, {fate}."
        )
    if action["kind"] == "retrain":
        fate = "now serves" if action.get("promoted") else "is the candidate"
        return (
            f"Retrained ({action['trigger']}: {action['detail']}) in {action['seconds']:.2f} s: "
            f"{action['label']} {fate}."
        )
    if action["kind"] == "minibatch":
        return f"Mini-batch update ({action['trigger']}) in {action['seconds']:.2f} s."
    return f"Rolled back to {action['label']} ({action['detail']})."


class Stopwatch:
    """Milliseconds per stage of one request, for `LearningStep.timings`: `lap(name)` records
    the time since the previous lap (or the start); `lap(None)` starts the next stage without
    recording the one that ended."""

    def __init__(self) -> None:
        self.started = self._mark = time.perf_counter()
        self.timings: dict[str, float] = {}

    def lap(self, name: str | None) -> None:
        now = time.perf_counter()
        if name:
            self.timings[name] = (now - self._mark) * 1000.0
        self._mark = now

    def total(self) -> dict[str, float]:
        """The stages recorded plus `total`, the whole request including waits."""
        self.timings["total"] = (time.perf_counter() - self.started) * 1000.0
        return self.timings


def validate_k(k: object) -> int:
    """`k` as an int; raises `RecsysError` unless it is a whole number from 1 to `MAX_K`."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise RecsysError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
    return int(k)
