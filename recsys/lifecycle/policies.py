"""Retrain policies: when the lab retrains, promotes or rolls back on its own.

Online learning on every event is always on (the engine does it). On top of it, after each
event the `Watcher` checks, for the algorithm that served it:

- mini-batch: every N events or T seconds of the lab clock, a light refit (a checkpoint);
- every N new ratings: a full warm-start retrain (a new version);
- drift: a detector (Page-Hinkley or ADWIN) on the reward stream fires, then a full retrain;
- schedule: every T seconds of the lab clock, a full retrain;
- the rollback floor: production's rolling reward since its promotion falls below a floor.

The policy is one bounded config stored in the lab's meta table, so it survives restarts and is
the same for the pages and the CLI. Counters start from the log when the engine opens.
"""

from __future__ import annotations

import json
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recsys.algorithms.config import Config, choice, flag, param
from recsys.errors import RecsysError
from recsys.lifecycle.drift import Detector, make_detector
from recsys.store.database import Store
from recsys.store.versions import VersionStore

DAY = 86_400.0
GATE_METRICS = ("NDCG@10", "precision@10", "RMSE", "coverage")
LOWER_IS_BETTER = {"RMSE"}


@dataclass(frozen=True)
class Policy(Config):
    minibatch_events: int = param(0, 0, 100_000, "mini-batch refit after this many events (0: off)")
    minibatch_seconds: float = param(
        0.0, 0.0, 30 * DAY, "... or after this many seconds of the lab clock (0: off)"
    )
    retrain_ratings: int = param(
        50, 0, 100_000, "full warm-start retrain after this many new ratings (0: off)"
    )
    schedule_seconds: float = param(
        0.0, 0.0, 365 * DAY, "full retrain every this many seconds of the lab clock (0: off)"
    )
    drift_detector: str = choice(
        "page_hinkley", ("off", "page_hinkley", "adwin"), "drift detector on the reward stream"
    )
    ph_delta: float = param(0.005, 0.0001, 0.5, "Page-Hinkley: tolerated change of the mean")
    ph_threshold: float = param(50.0, 1.0, 1000.0, "Page-Hinkley: alarm threshold (lambda)")
    ph_alpha: float = param(0.9999, 0.9, 1.0, "Page-Hinkley: forgetting factor")
    ph_min_instances: int = param(30, 1, 10_000, "Page-Hinkley: rewards before it may fire")
    adwin_delta: float = param(0.002, 0.000001, 0.5, "ADWIN: confidence of a cut")
    adwin_clock: int = param(32, 1, 1024, "ADWIN: check for a cut every this many rewards")
    auto_promote: bool = flag(True, "a retrain's version goes through the gate at once")
    gate_metric: str = choice("NDCG@10", GATE_METRICS, "holdout metric the gate compares")
    gate_absolute: float = param(0.0, 0.0, 1.0, "gate: the candidate must win by this much")
    gate_relative: float = param(0.0, 0.0, 1.0, "gate: ... and by this share (0.02 = 2 %)")
    rollback_floor: float = param(
        0.0, 0.0, 1.0, "roll back when production's rolling reward falls below (0: off)"
    )
    rollback_window: int = param(200, 10, 100_000, "rewards in the rolling window")
    canary_share: float = param(0.0, 0.0, 100.0, "percent of users served by the candidate")

    @classmethod
    def load(cls, meta: dict[str, str]) -> Policy:
        return cls.from_dict(json.loads(meta.get("policy", "{}")))

    def detector(self) -> Detector | None:
        if self.drift_detector == "page_hinkley":
            return make_detector(
                "page_hinkley",
                delta=self.ph_delta,
                threshold=self.ph_threshold,
                alpha=self.ph_alpha,
                min_instances=self.ph_min_instances,
                direction="down",
            )
        if self.drift_detector == "adwin":
            return make_detector("adwin", delta=self.adwin_delta, clock=self.adwin_clock)
        return None

    def detector_params(self) -> dict[str, float]:
        """The chosen drift detector's parameters (logged with each alarm)."""
        prefix = {"page_hinkley": "ph_", "adwin": "adwin_"}.get(self.drift_detector, "-")
        return {k: v for k, v in self.to_dict().items() if k.startswith(prefix)}


def canary_bucket(user: str) -> float:
    """A stable number in [0, 100) per user: the canary serves users below its share."""
    return zlib.crc32(user.encode()) % 10_000 / 100.0


PASSED_OVER = "passed_over"  # context flag of a skip the person made on the way to a pick


def reward(kind: str, value: float | None, context: dict | None = None) -> float | None:
    """What an event says about the list the person was shown: 1 liked, 0 turned away, None
    when it says neither (a view, a click, a watch-time signal). A skip of an item passed over
    on the way to a pick further down (context `passed_over`, as autopilot logs them) is a
    relative judgement, not dissatisfaction with the list: it carries none either."""
    if kind in ("like", "favorite"):
        return 1.0
    if kind == "skip" and context and context.get(PASSED_OVER):
        return None
    if kind in ("dislike", "skip"):
        return 0.0
    if kind == "rating" and value is not None:
        return 1.0 if value >= 4 else 0.5 if value >= 3 else 0.0
    return None


def rewards(kinds, values, contexts=None) -> list[float | None]:
    """`reward` of each event of columns (None or NaN values read as none; contexts as dicts,
    JSON text or None)."""
    contexts = [None] * len(kinds) if contexts is None else list(contexts)
    return [
        reward(kind, None if value is None or value != value else float(value), _as_dict(context))
        for kind, value, context in zip(kinds, values, contexts, strict=True)
    ]


def _as_dict(context) -> dict | None:
    if isinstance(context, str):
        return json.loads(context)
    return context if isinstance(context, dict) else None


@dataclass
class Action:
    """Something a policy asks the engine to do now."""

    kind: str  # minibatch | retrain | rollback | alarm
    trigger: str  # every N events | every N ratings | drift | schedule | rollback floor
    detail: str = ""
    statistic: float | None = None


@dataclass
class Watch:
    """One algorithm's counters since its last update of each kind."""

    events: int = 0
    ratings: int = 0
    minibatch_ts: float = 0.0
    schedule_ts: float = 0.0
    detector: Detector | None = None
    rewards: deque = field(default_factory=deque)


class Watcher:
    """`start(algorithm)` gives the counters as the log has them when the lab opens: events
    and ratings since the last update, and the lab time of the last mini-batch and retrain.
    Detectors and the rollback window start empty (they are not stored)."""

    def __init__(self, policy: Policy, start: Callable[[str], dict]):
        self.policy = policy
        self._start = start
        self._watch: dict[str, Watch] = {}

    def watch(self, algorithm: str) -> Watch:
        if algorithm not in self._watch:
            self._watch[algorithm] = Watch(
                **self._start(algorithm),
                detector=self.policy.detector(),
                rewards=deque(maxlen=self.policy.rollback_window),
            )
        return self._watch[algorithm]

    def retrained(self, algorithm: str, ts: float, *, fresh_detector: bool = True) -> None:
        """A full retrain happened: counters and (after drift) the detector start over."""
        w = self.watch(algorithm)
        w.ratings = w.events = 0
        w.minibatch_ts = w.schedule_ts = ts
        if fresh_detector:
            w.detector = self.policy.detector()

    def promoted(self, algorithm: str) -> None:
        self.watch(algorithm).rewards.clear()

    def overdue(self, algorithm: str, ts: float) -> Action | None:
        """The full retrain `algorithm`'s counters ask for at lab time `ts`, if any. Asked
        after each event, and when the lab opens: a crash between an event's commit and the
        retrain it fired leaves the counters due in the log and no retrain."""
        p, w = self.policy, self.watch(algorithm)
        if p.retrain_ratings and w.ratings >= p.retrain_ratings:
            return Action("retrain", "every N ratings", f"{w.ratings} new ratings")
        if p.schedule_seconds and ts - w.schedule_ts >= p.schedule_seconds:
            hours = (ts - w.schedule_ts) / 3600
            return Action("retrain", "schedule", f"{hours:.1f} h on the clock")
        return None

    def observe(
        self, algorithm: str, arm: str, kind: str, value, ts: float, context: dict | None = None
    ) -> list[Action]:
        p = self.policy
        # Counters read from the log when a watch starts already include this event.
        fresh = algorithm not in self._watch
        w = self.watch(algorithm)
        actions: list[Action] = []
        if not fresh:
            w.events += 1
            w.ratings += kind == "rating"
        r = reward(kind, value, context)
        if r is not None and arm == "production":
            if w.detector is not None and w.detector.update(r):
                actions.append(
                    Action(
                        "alarm",
                        "drift",
                        f"reward mean now {w.detector.estimate:.3f}",
                        w.detector.statistic(),
                    )
                )
                actions.append(Action("retrain", "drift", "drift alarm"))
            w.rewards.append(r)
            if (
                p.rollback_floor > 0
                and not actions  # a drift retrain comes first; the window restarts after it
                and len(w.rewards) == w.rewards.maxlen
                and sum(w.rewards) / len(w.rewards) < p.rollback_floor
            ):
                mean = sum(w.rewards) / len(w.rewards)
                w.rewards.clear()  # a full new window before the floor is judged again
                actions.append(
                    Action(
                        "rollback",
                        "rollback floor",
                        f"rolling reward {mean:.3f} < floor {p.rollback_floor:g} "
                        f"over {len(w.rewards)} rewards",
                    )
                )
        if not any(a.kind == "retrain" for a in actions):
            if due := self.overdue(algorithm, ts):
                actions.append(due)
            elif (p.minibatch_events and w.events >= p.minibatch_events) or (
                p.minibatch_seconds and ts - w.minibatch_ts >= p.minibatch_seconds
            ):
                trigger = (
                    "every N events"
                    if p.minibatch_events and w.events >= p.minibatch_events
                    else "every T seconds"
                )
                actions.append(Action("minibatch", trigger, f"{w.events} events"))
                w.events = 0
                w.minibatch_ts = ts
        return actions


def counters(store: Store, registry: VersionStore, algorithm: str) -> dict[str, Any]:
    """Where an algorithm's policy counters stand according to the log: events and ratings
    since its last (full) update, and the lab times of the last updates (two queries:
    `VersionStore.policy_counters`; `store` is the log they are counted in)."""
    found = registry.policy_counters(algorithm)
    if found is None:
        raise RecsysError(f"{algorithm} has no production version")
    return found
