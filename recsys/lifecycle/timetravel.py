"""Time travel: the models, and so the rankings, exactly as they were right after event N.

The served state after event N is the saved state of the lineage that served N (a version or
a checkpoint) plus an online replay of the events after the seq it is trained through, up to
N. Learning is deterministic given the event (random draws are seeded by the event's seq), so
the replay reproduces what the person saw. `journey` walks one user's events once, for the
history page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from threading import RLock
from typing import Protocol

import numpy as np
import pandas as pd

from recsys.algorithms import DEFAULT_ALGORITHM, Catalog, Recommender, algorithm_class
from recsys.choice import true_utilities
from recsys.errors import RecsysError
from recsys.events import validate_user
from recsys.hosting import PRODUCTION, ModelHost, Served
from recsys.lifecycle.replays import EVERY, replays_of
from recsys.ranking import Ranking
from recsys.store.database import Store
from recsys.store.versions import VersionStore


class Engine(Protocol):
    """What time travel reads of a lab: `recsys.engine.Engine` (a protocol, so this package
    does not import the facade above it)."""

    store: Store
    version_store: VersionStore
    host: ModelHost
    personas: pd.DataFrame

    @property
    def catalog(self) -> Catalog: ...

    @property
    def last_seq(self) -> int: ...

    @property
    def lock(self) -> RLock: ...


def first_seq(engine: Engine, algorithm: str) -> int:
    """The first event time travel can reach for `algorithm` (before it the lab served a
    model trained in one batch on the seeded history: there is no online state to rebuild)."""
    row = engine.version_store.first_lineage_seq(algorithm)
    return max(int(row or 1), 1)


def models_at(engine: Engine, algorithm: str, arm: str, seq: int) -> Recommender:
    """`algorithm`'s `arm` (with its components) as it was right after event `seq`."""
    return _replayed(engine, algorithm, arm, seq)[0]


def _replayed(
    engine: Engine, algorithm: str, arm: str, seq: int
) -> tuple[Recommender, dict[str, Recommender]]:
    """`models_at`, and the private replays of its components that it reads (a version arm
    reads the live production models: none of its own)."""
    served = Served(algorithm, arm)
    if served.is_version:  # an experiment's version arm: the version plus the log after it
        version = engine.version_store.version(int(arm[1:]), params=True)
        model = engine.host.from_version(version)
        for event in engine.store.events(
            after_seq=version["trained_through_seq"], through_seq=seq
        ).rows():
            model.learn_one(event)
        return model, {}
    if algorithm_class(algorithm).components:  # a blend reads private replays of its parts
        model, through, _ = engine.host.saved_state(served, seq)
        components = {c: models_at(engine, c, PRODUCTION, seq) for c in model.components}
        model.attach(components)
        for event in engine.store.events(after_seq=through, through_seq=seq).rows():
            model.learn_one(event)
        return model, components
    return _from_kept(engine, served, seq), {}


def _from_kept(engine: Engine, served: Served, seq: int) -> Recommender:
    """`served` after event `seq`: its saved state (what `ModelHost.saved_state` loads) plus a
    replay, started from the nearest state a replay from that saved state kept (`Replays`)."""
    versions = engine.version_store
    lineage = versions.lineage_at(served.algorithm, served.arm, seq)
    if lineage is None:
        raise RecsysError(f"{served.algorithm} has no {served.arm} model at seq {seq}")
    base = versions.base_state(lineage, seq)
    key = (served.algorithm, served.arm, lineage["lineage_id"], base["through_seq"])
    replays, shared = replays_of(engine.host), [engine.catalog, engine.host.weights]
    kept = replays.nearest(key, seq, shared)
    if kept is None:
        model = engine.host.holding(
            served.algorithm, base["config"], base["seed"], base["params"], base["through_seq"]
        )
        model.attach({})
        kept = model, base["through_seq"]
    model, at = kept
    for event in engine.store.events(after_seq=at, through_seq=seq).rows():
        model.learn_one(event)
        if (event.seq - base["through_seq"]) % EVERY == 0:
            replays.keep(key, event.seq, model, shared)
    return model


def _arm(served_by: str | None, algorithm: str) -> str:
    """The arm named in `served_by` (`mf:candidate:12`, `mf:v11:11` for an experiment's
    version arm), if it served `algorithm`."""
    served = Served.parse(served_by)
    return served.arm if served is not None and served.algorithm == algorithm else PRODUCTION


def _check_seq(engine: Engine, algorithm: str, seq: object) -> int:
    if isinstance(seq, bool) or not isinstance(seq, int | np.integer):
        raise RecsysError(f"seq must be a whole number, got {seq!r}")
    first = first_seq(engine, algorithm)
    if engine.last_seq < first:
        raise RecsysError(
            f"time travel starts at seq {first:,}, after the seeded history, and nothing has "
            "happened since: interact first"
        )
    if not first <= seq <= engine.last_seq:
        raise RecsysError(
            f"time travel reaches seq {first:,} to {engine.last_seq:,} for {algorithm}, "
            f"got {seq:,}"
            + (" (before it the model was trained in one batch)" if 0 < seq < first else "")
        )
    return int(seq)


def recommend_as_of(
    engine: Engine, user: str, seq: int, k: int = 10, algorithm: str | None = None
) -> Ranking:
    """The top-k `user` saw (or would have seen) right after event `seq` was applied: for the
    event's own user, exactly the `after` list of that learning step."""
    validate_user(user)
    name = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
    with engine.lock:
        seq = _check_seq(engine, name, seq)
        event = engine.store.event(seq)
        own = event is not None and event["user"] == user
        arm = _arm(event["served_by"], name) if own else "production"
        model = models_at(engine, name, arm, seq)
        context = event["context"] if own else None
        return Ranking.of(model, engine.catalog, user, k, context, name, seq)


@dataclass
class Stop:
    """One of the user's events and what the model held right after it."""

    seq: int
    item: int
    kind: str
    value: float | None
    ranking: Ranking
    vector: np.ndarray | None  # the user's latent vector, for algorithms that have one
    scores: dict[int, float]  # scores of the items the user touched so far
    regret: float | None  # mean true utility lost against the ideal top-k (personas only)


def journey(
    engine: Engine, user: str, algorithm: str | None = None, k: int = 10, limit: int = 200
) -> list[Stop]:
    """Walk the user's last `limit` events once, keeping one replayed model in step."""
    validate_user(user)
    name = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
    with engine.lock:
        start = first_seq(engine, name)
        served = {s: by for s, by in engine.store.served_by(user).items() if s >= start}
        seqs = sorted(served)[-limit:]
        if not seqs:
            return []
        utility = _utility(engine, user)
        stops: list[Stop] = []
        model, components, identity, at = None, {}, None, 0
        touched: list[int] = []
        for seq in seqs:
            arm = _arm(served[seq], name)
            now = _identity(engine, name, arm, seq)
            if model is None or now != identity:
                (model, components), identity = _replayed(engine, name, arm, seq), now
            else:
                for event in engine.store.events(after_seq=at, through_seq=seq).rows():
                    _learn(model, components, event)
            at = seq
            event = engine.store.event(seq)
            if event["item"] not in touched:
                touched.append(event["item"])
            ranking = Ranking.of(model, engine.catalog, user, k, event["context"], name, seq)
            scores = model.score(user, np.array(touched))
            stops.append(
                Stop(
                    seq,
                    event["item"],
                    event["kind"],
                    event["value"],
                    ranking,
                    model.embedding(user),
                    dict(zip(touched, scores.tolist(), strict=True)),
                    _regret(model, user, ranking, utility(seq), k) if utility else None,
                )
            )
        return stops


def _learn(model: Recommender, components: dict[str, Recommender], event) -> None:
    """One event for a replayed model and its private component replays (nobody else
    teaches them)."""
    for component in components.values():
        component.learn_one(event)
    model.learn_one(event)


def _identity(engine: Engine, name: str, arm: str, seq: int) -> tuple:
    if Served(name, arm).is_version:
        return (arm,)
    names = [(name, arm)] + [(c, PRODUCTION) for c in algorithm_class(name).components]
    return tuple(engine.version_store.lineage_at(n, a, seq)["lineage_id"] for n, a in names)


def _utility(engine: Engine, user: str):
    """For a persona: seq -> its hidden utility of every item at that time (taste shifts of
    a drift scenario included); None for everybody else."""
    personas = engine.personas.set_index("name")
    if user not in personas.index:
        return None
    features, quality = engine.store.ground_truth()
    shifts = engine.version_store.marks("taste shift")
    changes = []
    for at_seq, details in zip(shifts["at_seq"], shifts["details"], strict=True):
        now_like = json.loads(details).get("shifts", {}).get(user)
        if now_like:
            changes.append((int(at_seq), now_like))

    def at(seq: int) -> np.ndarray:
        persona = user
        for shift_seq, now_like in changes:
            if shift_seq < seq:
                persona = now_like
        taste = np.asarray(personas.loc[persona, "taste"], dtype=np.float64)
        return true_utilities(features, quality, taste)[0]

    return at


def _regret(model: Recommender, user: str, ranking: Ranking, utility: np.ndarray, k: int) -> float:
    available = utility.copy()
    seen = model.seen(user)
    if seen:
        available[list(seen)] = -np.inf
    ideal = np.sort(available[np.isfinite(available)])[::-1][:k]
    shown = utility[ranking.item_ids()]
    return float(ideal.mean() - shown.mean()) if len(shown) and len(ideal) else 0.0
