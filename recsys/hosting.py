"""Hosting served models: which model serves which arm, kept up to date with the event log.

The engine facade (`recsys.engine.Engine`) owns one `ModelHost`; the lifecycle (promotion,
rollback, retrains), time travel, the A/B simulator, export and the report use this interface
instead of the engine's internals:

- `Served(algorithm, arm)` names a served model (arm `production`, `candidate` or `v12`).
- `host.lock` is the one re-entrant lock around state changes: hold it while reading models
  that must not move in between (another session's event would move them).
- `host.model(served)` is a served model caught up with the log (`host.config(served)` its
  config, without building it); `host.production` the production models by name.
- `install`, `install_version`, `route`, `keep_versions` and `sync_canary` change what
  serves; `from_version` builds a stored version as it was saved.

Every served model is a saved state (its *lineage*: a version or a checkpoint, from some seq
on) plus an online replay of the events after it, so what serves is a function of the log.
Models are built when first used; models not in use replay what they missed when next used.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import fields

import pandas as pd

from recsys.algorithms import (
    ABSENT,
    REGISTRY,
    Catalog,
    ModelSpec,
    Recommender,
    UpdateInfo,
    build_model,
    validate_config,
)
from recsys.errors import RecsysError
from recsys.events import Event, EventWeights
from recsys.ranking import Ranking
from recsys.snapshots import (
    CANDIDATE,
    PRODUCTION,
    SNAPSHOT_EVERY,
    Hosted,
    ProductionModels,
    Served,
    Tail,
)
from recsys.store.database import Store
from recsys.store.versions import VersionStore

MAX_CLOCK_STEP = 3600.0  # the lab clock follows the wall clock, but never jumps over an hour


class ModelHost:
    """The served models of one lab, up to date with its event log.

    Built by the engine on open (and rebuilt on a reset); `lock` is the engine's own lock,
    which outlives rebuilds. `last_seq` and `last_ts` are the log's newest event as the host
    has it; `append` moves them.
    """

    def __init__(
        self,
        store: Store,
        version_store: VersionStore,
        items: pd.DataFrame,
        weights: EventWeights,
        lock: threading.RLock,
        adopt: Mapping[str, Recommender] | None = None,
    ):
        self.store, self.version_store, self.weights = store, version_store, weights
        self.lock, self.items = lock, items
        self.catalog = Catalog.from_frame(items)
        self.last_seq = store.max_seq()
        self.last_ts = store.last_ts()
        self._last_wall = time.monotonic()
        self.cache: dict[tuple, Ranking] = {}  # rankings of the current state; cleared on change
        self._hosted: dict[Served, Hosted] = {}
        self.production: Mapping[str, Recommender] = ProductionModels(self._hosted)
        self._logged = store.logged_through()  # per model: the newest seq in the learning log
        # The events some built model has not learned yet; each model replays them when it is
        # next used, so neither opening nor an interaction waits for idle algorithms.
        self._tail = Tail(store, self.last_seq)
        ABSENT.update({a for a, _ in version_store.version_catalog()} - set(REGISTRY))
        for name in REGISTRY:
            served = Served(name)
            self.ensure_lineage(served)
            if name in (adopt or {}):  # just trained for this store's seed version: no reload
                lineage = self.version_store.lineage_at(name, PRODUCTION, self.last_seq + 1)
                adopt[name].attach(self.production)
                self._hosted[served] = Hosted(lineage, self.last_seq, self.last_seq, adopt[name])
            else:
                self._hosted[served] = self._saved(served)
        # Events the models have to replay: what a reopen costs once each model is used.
        self.replayed = self.last_seq - min(h.applied for h in self._hosted.values())

    @functools.cached_property
    def holdout(self) -> pd.DataFrame:
        """The world's holdout, read when a version is first measured (not on open)."""
        return self.store.holdout()

    # -- what serves ----------------------------------------------------------------------

    def __contains__(self, served: Served) -> bool:
        return served in self._hosted

    def model(self, served: Served) -> Recommender:
        """The served model, caught up with the log (with its components)."""
        self.catch_up(served)
        return self._hosted[served].model

    def lineage(self, served: Served) -> dict:
        return self._hosted[served].lineage

    def set_lineage(self, served: Served, lineage: dict) -> None:
        """A served model's state was replaced in place (a mini-batch refit)."""
        self._hosted[served].lineage = lineage
        self.cache.clear()

    def served_by(self, served: Served) -> str:
        return served.served_by(self._hosted[served].lineage["version_id"])

    def clock(self, ts: float | None = None) -> float:
        """The lab clock for a new event: `ts` if given (never before the newest event), else
        simulated time advanced by real time while people use the lab (capped, so a week
        away does not age the whole world)."""
        now = time.monotonic()
        if ts is None:
            ts = self.last_ts + min(max(now - self._last_wall, 0.001), MAX_CLOCK_STEP)
        self._last_wall = now
        return round(max(float(ts), self.last_ts), 3)

    def append(self, event: Event) -> None:
        """A committed event: the log moved on; models learn it when next used."""
        self.last_seq, self.last_ts = event.seq, event.ts
        self._tail.append(event)
        self.cache.clear()

    def built(self) -> list[str]:
        """The served models built so far (`mf`, `mf@candidate`): the others were not used."""
        return [str(s) for s, h in self._hosted.items() if h.built]

    def config(self, served: Served) -> dict:
        """The served model's config; read from its saved state while it is not built (a new
        lab's deferred seed versions stay deferred)."""
        if self._hosted[served].built:
            return self._hosted[served].model.config.to_dict()
        return self._base(served, self.last_seq + 1)[1]["config"]

    # -- building -------------------------------------------------------------------------

    def ensure_lineage(self, served: Served) -> bool:
        """The version `served`'s alias points at has a lineage that starts from it, and
        production always has a version: a new algorithm, an old database, a reset or a
        forgotten user can leave either missing. Returns whether anything was restored."""
        name, arm, versions = served.algorithm, served.arm, self.version_store
        version = versions.alias(name, arm)
        lineage = versions.lineage_at(name, arm, self.last_seq + 1)
        if lineage is not None and lineage["version_id"] == version:
            return False
        reason = "restored after the log changed"
        if version is None:
            if arm != PRODUCTION:
                return False
            version = versions.latest_version_id(name)
            reason = "restored: the newest remaining version"
        if version is None:
            # Deferred (no state yet): fitted on the log when first used, as a new lab's seed
            # versions are, so a plugin or a new built-in does not slow down every open.
            config = validate_config(name, {}).to_dict()
            version = versions.save_version(
                name, config, 0, self.last_seq, self.last_seq, None, "first-load", None
            )
            reason = "first version of a new algorithm"
        effective = self.last_seq + 1
        if lineage is None and arm == PRODUCTION:  # it has served since it was trained
            effective = versions.version(version)["trained_through_seq"] + 1
            reason = "first production: the newest version"
        versions.move_alias(
            name,
            arm,
            version,
            actor="system",
            reason=reason,
            at_seq=self.last_seq,
            ts=self.last_ts,
            effective_seq=effective,
        )
        return True

    def saved_state(self, served: Served, seq: int) -> tuple[Recommender, int, dict]:
        """The newest saved state of `served` as it served event `seq`, not replayed: the
        model (components not attached), the seq it is trained through and its lineage."""
        lineage, base = self._base(served, seq)
        return self._holding(served.algorithm, base), base["through_seq"], lineage

    def _base(self, served: Served, seq: int) -> tuple[dict, dict]:
        lineage = self.version_store.lineage_at(served.algorithm, served.arm, seq)
        if lineage is None:
            raise RecsysError(f"{served.algorithm} has no {served.arm} model at seq {seq}")
        return lineage, self.version_store.base_state(lineage, seq, params=False)

    def _holding(self, name: str, base: dict) -> Recommender:
        table, row = base["saved_in"]
        version = row if table == "model_versions" else 0  # a deferred state is stored once fitted
        state = (base["config"], base["seed"], self.version_store.state_params(base))
        return self.holding(name, *state, base["through_seq"], version)

    def _saved(self, served: Served) -> Hosted:
        """`served` as its newest saved state stands, read and built (its components attached)
        when first used; it then replays the log after that state."""
        lineage, base = self._base(served, self.last_seq + 1)

        def build() -> Recommender:
            model = self._holding(served.algorithm, base)
            model.attach(self.production)  # before any replay: no private components learn
            return model

        through = base["through_seq"]
        return Hosted(lineage, through, through, build=build)

    def holding(
        self, name: str, config: dict, seed: int, params: dict, through: int, version: int = 0
    ) -> Recommender:
        """A model holding saved parameters. A state saved by older code (parameters this
        version no longer has, or another layout of arrays) is rebuilt from the same events,
        with the parameters both versions share. A deferred state (no params, see
        `lifecycle.seeding`) is fitted as at the lab's creation, stored as `version`'s (if
        not 0)."""
        known = {f.name for f in fields(REGISTRY[name].config_class)}
        shared = {k: v for k, v in config.items() if k in known}
        try:
            validate_config(name, shared)
        except RecsysError:  # a bound that changed: today's defaults
            shared = {}
        spec = ModelSpec(name, shared, seed, self.weights)
        if params and set(config) <= known:
            try:
                return build_model(spec, self.catalog, params)
            except (KeyError, ValueError):
                pass
        model = build_model(spec, self.catalog, components=self.production)
        started = time.perf_counter()
        model.fit(self.store.events(through_seq=through), self.catalog)
        if not params and version and set(config) <= known:
            seconds = time.perf_counter() - started
            self.version_store.fill_state(version, model.state(), seconds)
        return model

    def from_version(self, version: dict) -> Recommender:
        """A model holding exactly a stored version's parameters (`VersionStore.version(...,
        params=True)`), its components the production models."""
        model = self.holding(
            version["algorithm"],
            version["config"],
            version["seed"],
            version["params"],
            version["trained_through_seq"],
            version["version_id"],
        )
        model.attach(self.production)
        return model

    # -- changing what serves -------------------------------------------------------------

    def install(self, served: Served, model: Recommender | None = None) -> None:
        """Serve a new state for `served`: `model` if it is already up to date with the log,
        else the lineage's saved state plus a replay of the events after it."""
        if model is None:
            hosted = self._saved(served)
            for event in self.store.events(after_seq=hosted.applied).rows():
                hosted.model.learn_one(event)
            hosted.applied = self.last_seq
        else:
            lineage = self.version_store.lineage_at(served.algorithm, served.arm, self.last_seq + 1)
            model.attach(self.production)
            hosted = Hosted(lineage, self.last_seq, self.last_seq, model)
        self._hosted[served] = hosted
        self.cache.clear()

    def install_version(self, served: Served) -> None:
        """Serve stored version `served.arm` (`v12`) as an experiment arm: its parameters plus
        everything the log holds after it, learning online from then on like production."""
        if served in self._hosted:
            return
        version = self.version_store.version(int(served.arm[1:]), params=True)
        model = self.from_version(version)
        for event in self.store.events(after_seq=version["trained_through_seq"]).rows():
            model.learn_one(event)
        lineage = {"version_id": version["version_id"], "lineage_id": None}
        self._hosted[served] = Hosted(lineage, self.last_seq, self.last_seq, model)

    def route(self, algorithm: str, version: int | None, in_canary: bool) -> Served:
        """Which model serves a request for `algorithm`: stored `version` when an experiment's
        arm asks for one, else the canary's candidate for a user in its share (while one
        serves), else production."""
        if version is not None:
            served = Served(algorithm, f"v{version}")
            self.install_version(served)
            return served
        if in_canary and Served(algorithm, CANDIDATE) in self._hosted:
            return Served(algorithm, CANDIDATE)
        return Served(algorithm)

    def keep_versions(self, arms: Iterable[tuple[str, int | None]]) -> None:
        """Stop serving stored versions that no live experiment's arm (algorithm, version)
        serves any more."""
        keep = {Served(a, f"v{v}") for a, v in arms if v is not None}
        for served in [s for s in self._hosted if s.is_version and s not in keep]:
            del self._hosted[served]
        self.cache.clear()

    def sync_canary(self, share: float) -> None:
        """Serve candidates while the canary share is above zero, and only then."""
        for name in REGISTRY:
            served = Served(name, CANDIDATE)
            candidate = self.version_store.alias(name, CANDIDATE)
            hosted = self._hosted.get(served)
            serving = hosted.lineage.get("version_id") if hosted else None
            if share > 0 and candidate is not None:
                if self.ensure_lineage(served) or serving != candidate:
                    self.install(served)
            elif hosted is not None:
                del self._hosted[served]
        self.cache.clear()

    # -- learning -------------------------------------------------------------------------

    def catch_up(self, served: Served) -> list[UpdateInfo]:
        """Let one model learn, in order, every event of the tail it has not seen yet (its
        components first); each update is written to the learning log. Returns the updates
        (of a long replay, the newest thousand)."""
        hosted = self._hosted[served]
        for dependency in hosted.model.depends_on():
            self.catch_up(Served(dependency))
        if hosted.applied >= self.last_seq:
            return []
        key = str(served)
        logged = self._logged.get(key, 0)
        # A long replay keeps only its newest updates: what a step reports is the last event's.
        model, updates, rows, learned = hosted.model, deque(maxlen=1000), [], 0
        for event in self._tail.after(hosted.applied):
            update = model.learn_one(event)
            updates.append(update)
            learned += 1
            if event.seq > logged:  # a replay after reopening does not log an event twice
                rows.append(update.log_row(event, key))
                if len(rows) >= 10_000:  # a long replay: written as it goes, not all at the end
                    self.store.log_learning(rows)
                    rows = []
            hosted.applied = event.seq
        self._logged[key] = max(logged, hosted.applied)
        self.store.log_learning(rows)
        self._tail.trim(min(h.applied for h in self._hosted.values() if h.built))
        if learned >= SNAPSHOT_EVERY and not served.is_version:
            self._save(served, hosted, "after a long replay")  # the next open need not repeat it
        return list(updates)

    def catch_up_all(self) -> None:
        for served in list(self._hosted):
            self.catch_up(served)

    def checkpoint(self, reason: str, every: int = SNAPSHOT_EVERY) -> list[str]:
        """Checkpoint, as it stands, every built model that learned at least `every` events
        since its newest saved state (a shortcut for the next open's replay); a model nobody
        used has not moved. Returns the models checkpointed."""
        done = []
        for served, hosted in self._hosted.items():
            # A version arm is rebuilt from its version, never checkpointed.
            if served.is_version or not hosted.built or hosted.applied - hosted.saved < every:
                continue
            self._save(served, hosted, reason)
            done.append(str(served))
        return done

    def _save(self, served: Served, hosted: Hosted, reason: str) -> None:
        model = hosted.model
        self.version_store.save_checkpoint(
            served.algorithm,
            served.arm,
            hosted.lineage["lineage_id"],
            hosted.applied,
            model.config.to_dict(),
            model.seed,
            model.state(),
            reason,
        )
        hosted.saved = hosted.applied
