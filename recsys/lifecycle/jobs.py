"""A retrain or a mini-batch refit in three steps, so that the slow middle one can run off the
request path (`recsys.lifecycle.background`):

1. `start` (under the host lock): the model is built, warm-started from a copy of what serves,
   and the job records `through`, the last seq it learns from; a retrain reserves its version
   id (its number for the algorithm is given when it is stored).
2. `run` (no lock, unless the algorithm reads other served models): read the log through
   `through`, fit, measure on the holdout.
3. `land` (under the host lock): store the version (with its update-log row, one transaction)
   or the checkpoint, gate and promote. The events that arrived during step 2 are replayed onto
   the new state, so what serves is the saved state plus a replay of the log after it, as
   everywhere else. Off the request path, `catch_up`, `save` and `pregate` come first without
   the lock: the model learns most of those events, the version is stored and gated before
   landing, which then holds the lock only to replay the last few events and serve.

Run back to back under the lock, the three steps are the synchronous retrain, and a job run in
the background builds bit-for-bit the same version (same events, same seed, same warm start).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from recsys.algorithms import ModelSpec, Recommender, build_model
from recsys.errors import RecsysError
from recsys.hosting import ModelHost, Served
from recsys.lifecycle.measures import holdout_metrics
from recsys.lifecycle.policies import Policy, Watcher
from recsys.store.database import Store
from recsys.store.versions import VersionStore

RETRAIN, MINIBATCH = "retrain", "minibatch"


class Lifecycle(Protocol):
    """What a job needs of `recsys.lifecycle.versions.Lifecycle`."""

    host: ModelHost
    store: Store
    version_store: VersionStore
    policy: Policy
    watcher: Watcher

    def measured(
        self, algorithm: str | None = None, keep: Callable[[], bool] = lambda: True
    ) -> None: ...
    def gate(self, version: int) -> dict[str, Any]: ...
    def serve_candidate(self, name: str, version: int, actor: str, reason: str, effective: int): ...
    def serve_production(
        self, name: str, version: int, actor: str, reason: str, effective: int, model: Recommender
    ) -> None: ...


STAGES = ("queued", "reading events", "fitting", "measuring", "landing", "done")


@dataclass
class Job:
    """One retrain or mini-batch: what it learns from, and where it stands.

    `stage` is one of STAGES or "failed"/"discarded"; `expected` is how long the previous full
    update of the algorithm took (seconds), for a time-left estimate; `result` is what
    `Lifecycle.train` / `minibatch` return, once landed."""

    kind: str
    algorithm: str
    trigger: str
    detail: str
    model: Recommender
    through: int
    promote: str = "gate"
    version: int | None = None
    warm: bool = False
    actor: str = "policy"
    expected: float | None = None
    stage: str = "queued"
    started: float = field(default_factory=time.monotonic)
    fit_started: float = 0.0  # time.monotonic() when the fit began
    ended: float | None = None  # time.monotonic() when it landed, failed or was dropped
    events: int = 0
    seconds: float = 0.0
    metrics: dict[str, float | None] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    discarded: bool = False  # the lab was rebuilt while it ran: it must not land
    state: dict[str, np.ndarray] | None = None  # the fitted state, kept by `catch_up`
    learned_through: int | None = None  # the model has learned the log up to here
    saved: int | None = None  # the version id, once `save` stored it
    parent: int | None = None  # the production version when it started
    verdict: tuple[Any, dict[str, Any]] | None = None  # (policy, gate verdict), by `pregate`

    @property
    def finished(self) -> bool:
        return self.stage in ("done", "failed", "discarded")

    @property
    def label(self) -> str:
        """`retrain of mf` or `mini-batch of mf` (a retrain's number is given when it is
        stored: its reserved key is no number anyone reads)."""
        if self.kind == RETRAIN:
            return f"retrain of {self.algorithm}"
        return f"mini-batch of {self.algorithm}"

    def progress(self) -> float:
        """A share in [0, 1]: by stage, and within the fit by the time the previous one took."""
        if self.finished:
            return 1.0
        if self.stage != "fitting" or not self.expected:
            return {"queued": 0.0, "reading events": 0.05, "fitting": 0.1}.get(self.stage, 0.9)
        return 0.1 + 0.8 * min((time.monotonic() - self.fit_started) / self.expected, 1.0)


def _copy(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    # The served model keeps learning while the job fits: the job must not share its arrays.
    return {key: np.array(value, copy=True) for key, value in state.items()}


def start(
    life: Lifecycle,
    kind: str,
    algorithm: str,
    trigger: str,
    detail: str = "",
    *,
    promote: str = "gate",
    config: dict[str, Any] | None = None,
) -> Job:
    """Build the job's model from what serves now (call under the host lock)."""
    h = life.host
    served = h.model(Served(algorithm))
    if kind == RETRAIN:
        changes = config or {}
        spec = ModelSpec(algorithm, served.config.to_dict() | changes, served.seed, h.weights)
        warm = not changes  # same config: a warm-starting algorithm starts from what it knows
    else:
        light = served.config.to_dict() | served.minibatch_config()
        spec, warm = ModelSpec(algorithm, light, served.seed, h.weights), True
    model = build_model(spec, h.catalog, components=h.production)
    if warm:  # a copy of what the served model knows (it goes on learning while the job fits)
        model.warm_from(served)
    job = Job(kind, algorithm, trigger, detail, model, h.last_seq, promote)
    job.parent = life.version_store.alias(algorithm, "production")
    job.warm = kind == RETRAIN and warm and bool(getattr(model.config, "warm_start", False))
    job.actor = "policy" if trigger not in ("manual", "parameters") else "user"
    if kind == RETRAIN:
        job.version = life.version_store.reserve_version_id()
        # A drift retrain starts the detector over; other retrains must not, or a routine
        # retrain right after a shift would hide it.
        life.watcher.retrained(algorithm, h.last_ts, fresh_detector=trigger == "drift")
    return job


def run(life: Lifecycle, job: Job) -> None:
    """Fit the job's model on the log through `job.through` and measure it. Raises
    `RecsysError` (after logging the failure) if the fit fails."""
    job.stage = "reading events"
    job.expected = _expected(life, job)
    events = life.store.events(through_seq=job.through)
    job.events = len(events)
    job.stage, job.fit_started = "fitting", time.monotonic()
    started = time.perf_counter()
    try:
        job.model.fit(events, life.host.catalog)
    except Exception as error:  # the log keeps a failed update too
        job.seconds = time.perf_counter() - started
        with life.store.db.write_lock:  # not into a lab that was rebuilt meanwhile
            if not job.discarded:
                _log(life, job, status="error", error=str(error))
        raise RecsysError(f"retraining {job.algorithm} failed: {error}") from error
    job.seconds = time.perf_counter() - started
    if job.kind == RETRAIN:
        job.stage = "measuring"
        h = life.host
        job.metrics = holdout_metrics(job.model, h.holdout, events, h.catalog, h.weights)
        # Production's metrics, for the gate (not written once the lab was rebuilt).
        life.measured(job.algorithm, keep=lambda: not job.discarded)


def _expected(life: Lifecycle, job: Job) -> float | None:
    """How long the fit should take: the algorithm's last update of this kind, else (a
    retrain never run here) its production version's own fit."""
    full = job.kind == RETRAIN
    expected = life.version_store.last_fit_seconds(job.algorithm, full)
    if expected is None and full:
        version = life.version_store.alias(job.algorithm, "production")
        expected = life.version_store.version(version).get("fit_seconds") if version else None
    return expected


def catch_up(life: Lifecycle, job: Job) -> None:
    """Before landing, without the lock: keep the fitted state (the version to save) and let
    the retrained model learn the events that arrived meanwhile, so that landing replays only
    the last few and holds the lock a few milliseconds. The model learns the same events in the
    same order as a replay under the lock: the result is bit for bit the same.

    Not for a mini-batch (its light config must not learn; the served model replays) nor an
    algorithm that reads other served models (those change under the lock)."""
    if job.kind != RETRAIN or job.model.components:
        return
    job.state = _copy(job.model.state())
    through = job.through
    for event in life.store.events(after_seq=through).rows():
        job.model.learn_one(event)
        through = event.seq
    job.learned_through = through


def land(life: Lifecycle, job: Job, during_event: bool = False) -> dict[str, Any]:
    """Store and serve what the job built (call under the host lock). `during_event`: the job
    ran inside the event it was triggered by, so the new state serves that event's `after`
    list; otherwise it serves from the next event on."""
    job.stage = "landing"
    h = life.host
    if (
        job.kind == MINIBATCH
        and life.version_store.alias(job.algorithm, "production") != job.parent
    ):
        # A refit of a version that no longer serves (or of other parameters): dropped.
        job.discarded, job.stage = True, "discarded"
        return {"algorithm": job.algorithm, "dropped": "another version serves since it started"}
    effective = h.last_seq if during_event else h.last_seq + 1
    if job.kind == RETRAIN:
        result = _land_version(life, job, effective)
    else:
        result = _land_checkpoint(life, job, effective)
    job.result, job.stage = result, "done"
    return result


def _replay(life: Lifecycle, job: Job, model: Recommender) -> None:
    """The events that arrived while the job ran, learned online by `model` (after those
    `catch_up` already taught the job's model)."""
    caught_up = model is job.model and job.learned_through is not None
    after = job.learned_through if caught_up else job.through
    if life.host.last_seq > after:
        for event in life.store.events(after_seq=after).rows():
            model.learn_one(event)


def save(life: Lifecycle, job: Job) -> None:
    """Store a retrain's version with its update-log row, in one transaction, unless it is
    stored already or the lab discarded the job. Its state is stored just before, without the
    store's write lock (a click's commit does not wait for its megabyte); a state left unnamed
    by a discarded job is dropped. The background worker calls it without the engine lock, so
    that landing only gates and serves: the store's write lock covers the check and the
    version's write, and a reset discards its jobs before it takes that lock to rebuild
    (a version stored just before is dropped with the rest, or outlives it as a retrain the
    log records but nothing serves, as after a crash before landing)."""
    if job.kind != RETRAIN or job.saved or job.discarded:
        return
    model = job.model
    state = model.state() if job.state is None else job.state
    # The state's rows first, beside the clicks' commits; then the version, under the lock.
    stored = life.version_store.store_state(state)
    with life.store.db.write_lock:
        if job.discarded:
            life.version_store.drop_state(stored)
            return
        job.saved = life.version_store.save_version(
            job.algorithm,
            model.config.to_dict(),
            model.seed,
            job.through,
            job.events,
            state,
            job.trigger,
            job.seconds,
            job.parent,  # the production it was trained beside
            job.metrics,
            version_id=job.version,
            log=_log_fields(life, job),
            stored=stored,
        )


def pregate(life: Lifecycle, job: Job) -> None:
    """Before landing, without the lock: the saved version's gate verdict against the
    production it was trained beside. Landing reuses it if that production still serves under
    the same policy, and holds the lock only to move the aliases and serve."""
    if job.kind != RETRAIN or not job.saved or job.discarded or job.promote != "gate":
        return
    policy = life.policy
    if policy.auto_promote and not job.model.components:
        job.verdict = (policy, life.gate(job.saved))


def _land_version(life: Lifecycle, job: Job, effective: int) -> dict[str, Any]:
    name, model = job.algorithm, job.model
    save(life, job)
    version = job.saved
    result = {
        "algorithm": name,
        "version": version,
        "events": job.events,
        "seconds": job.seconds,
        "metrics": job.metrics,
        "promoted": False,
        "gate": None,
    }
    promote = job.promote
    why = f"trained ({job.trigger})"
    newer = life.version_store.alias(name, "production")
    serving = life.label(newer)
    if newer != job.parent:  # e.g. Train now or new parameters while this one fitted
        promote, why = "never", f"{serving} serves since this retrain started"
    elif promote == "gate" and not life.policy.auto_promote:
        why = f"trained ({job.trigger}); auto_promote is off"
    if promote == "gate" and life.policy.auto_promote:
        pregated = job.verdict is not None and job.verdict[0] is life.policy
        result["gate"] = job.verdict[1] if pregated else life.gate(version)
        promote = "always" if result["gate"]["passed"] else "never"
        why = result["gate"]["message"]
    label = life.label(version)
    result |= {"number": life.version_store.number_of(version), "label": label}
    if promote == "always":
        _replay(life, job, model)  # built with the live components attached: only it learns
        life.serve_production(name, version, job.actor, why, effective, model)
        result |= {"promoted": True, "production": version}
        result["outcome"] = f"{label} now serves {name} ({why})"
    else:
        life.serve_candidate(name, version, job.actor, why, effective)
        share = life.policy.canary_share
        result["production"] = newer
        result["outcome"] = (
            f"{label} is the candidate and {serving} still serves {name} ({why}); "
            + (
                f"the canary serves {label} to {share:g} % of users"
                if share > 0
                else f"promote {label} or give it a canary share on the Model versions page"
            )
        )
    return result


def _land_checkpoint(life: Lifecycle, job: Job, effective: int) -> dict[str, Any]:
    h, name = life.host, job.algorithm
    served = h.model(Served(name))
    state = job.model.state()
    served.load_state(_copy(state))  # the served model keeps its own config
    _replay(life, job, served)
    lineage = h.lineage(Served(name))
    checkpoint = life.version_store.save_checkpoint(
        name,
        "production",
        None,
        job.through,
        served.config.to_dict(),
        served.seed,
        state,
        "mini-batch",
    )
    why = f"mini-batch ({job.trigger})"
    life.version_store.start_checkpoint_lineage(
        name, "production", effective, checkpoint, lineage["version_id"], why
    )
    h.set_lineage(Served(name), life.version_store.lineage_at(name, "production", effective))
    _log(life, job, version_id=lineage["version_id"])
    h.cache.clear()
    return {"algorithm": name, "checkpoint": checkpoint, "seconds": job.seconds}


def _log(life: Lifecycle, job: Job, **fields) -> None:
    """Log the job's update (with `fields`: status, error, version_id, metrics)."""
    life.version_store.log_update(**_log_fields(life, job), **fields)


def _log_fields(life: Lifecycle, job: Job) -> dict[str, Any]:
    """The update log row of a job, at the seq it learned through (where the policy fired)."""
    if job.kind == RETRAIN:
        kind = "full retrain (warm start)" if job.warm else "full retrain"
    else:
        kind = "mini-batch"
    ts = life.host.last_ts
    if job.through < life.host.last_seq:  # landed later: logged where the policy fired
        ts = (life.store.event(job.through) or {"ts": ts})["ts"]
    return {
        "at_seq": job.through,
        "ts": ts,
        "algorithm": job.algorithm,
        "update_type": kind,
        "trigger": job.trigger,
        "events": job.events,
        "seconds": job.seconds,
    }
