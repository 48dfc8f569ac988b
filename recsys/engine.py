"""The engine facade: one object per process that every page, the CLI and the tests share.

`Engine.open(path)` opens (and on first use seeds) a lab database, loads the newest snapshot of
every registered algorithm and replays the events after its watermark, so the state in memory is
always a function of the event log. `interact` validates, commits the event, lets every model
learn online and returns a `LearningStep`; `recommend` ranks. One lock serialises state changes,
which keeps `seq` gap-free and the models consistent across Streamlit's threads.

>>> engine = Engine.create(":memory:", n_users=30, sessions_per_user=10)
>>> step = engine.interact("ada", engine.recommend("ada").items[0].item, "like")
>>> step.event.seq == engine.last_seq
True
"""

from __future__ import annotations

import bisect
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.algorithms import (
    DEFAULT_ALGORITHM,
    REGISTRY,
    Catalog,
    Recommender,
    UpdateInfo,
    algorithm_class,
)
from recsys.errors import RecsysError
from recsys.events import (
    WEIGHT_PRESETS,
    Event,
    EventFrame,
    parse_item,
    validate_context,
    validate_kind,
    validate_user,
    validate_value,
)
from recsys.experiments.assignment import Arm, Experiment, Experiments
from recsys.lifecycle.versions import Lifecycle, canary_bucket
from recsys.ranking import LearningStep, RankedItem, Ranking, diff
from recsys.store.database import Store
from recsys.store.versions import VersionStore
from recsys.world import DEFAULT_PACK, DEFAULT_SEED, World, generate_world

DEFAULT_DB = Path(__file__).resolve().parent.parent / "data" / "lab.duckdb"
MAX_K = 100
SNAPSHOT_EVERY = 5000  # on close, snapshot models when this many events were replayed/learned
MAX_CLOCK_STEP = 3600.0  # the lab clock follows the wall clock, but never jumps over an hour


def database_path(path: str | Path | None = None) -> str:
    """`path`, else $RECSYS_DB, else data/lab.duckdb in the repository."""
    return str(path or os.environ.get("RECSYS_DB") or DEFAULT_DB)


class Engine:
    def __init__(self, store: Store):
        self.store = store
        self._lock = threading.RLock()
        self._cache: dict[tuple, Ranking] = {}
        self._load()

    # -- opening and creating -------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        world: str | World = DEFAULT_PACK,
        seed: int = DEFAULT_SEED,
        weights: str = "default",
    ) -> Engine:
        """Open a lab database; an empty or missing one is seeded with `world` first (a
        pack's name, generated from `seed`, or a built World such as an imported dataset)."""
        store = Store.open(database_path(path))
        try:
            if store.is_empty():
                if isinstance(world, World):
                    install_world(store, world, weights)
                else:
                    seed_world(store, world, seed, weights)
            return cls(store)
        except BaseException:
            store.close()
            raise

    @classmethod
    def create(
        cls,
        path: str | Path,
        world: str = DEFAULT_PACK,
        seed: int = DEFAULT_SEED,
        weights: str = "default",
        *,
        reset: bool = False,
        **sizes: Any,
    ) -> Engine:
        """A new lab database at `path` with a freshly generated world."""
        path = str(path)
        if path != ":memory:" and Path(path).exists():
            if not reset:
                raise RecsysError(f"{path} already exists; add --reset to recreate it")
            Store.open(path).close()  # fails with a clear message if another process holds it
            for leftover in (Path(path), Path(path + ".wal")):
                leftover.unlink(missing_ok=True)
        store = Store.open(path)
        try:
            seed_world(store, world, seed, weights, **sizes)
            return cls(store)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        """Snapshot if many events were learned since the last one, then close the store."""
        with self._lock:
            if self.store.closed:
                return
            if self.last_seq - self._snapshot_seq >= SNAPSHOT_EVERY:
                self._snapshot("snapshot")
            self.store.close()

    def _load(self) -> None:
        """(Re)build every served model from its lineage (the production version, or a newer
        checkpoint of it) plus a replay of the log after it."""
        with self._lock:
            self.meta = self.store.meta()
            self.weights = WEIGHT_PRESETS[self.meta.get("weights", "default")]
            items = self.store.items()
            self.items = items
            self.personas = self.store.personas()  # static per world; read once
            self.catalog = Catalog.from_frame(items)
            self._years = [None if pd.isna(y) else int(y) for y in items["year"]]
            self._regions = [None if pd.isna(r) else str(r) for r in items["region"]]
            self._users = {
                u: k for u, k in self.store.users()[["user_id", "kind"]].itertuples(index=False)
            }
            self.last_seq = self.store.max_seq()
            self._last_ts = self.store.last_ts()
            self._last_wall = time.monotonic()
            self.version_store = VersionStore(self.store)
            self.holdout = self.store.holdout()
            self._logged = self.store.logged_through()  # per model: the newest seq logged
            self.models: dict[str, Recommender] = {}
            self._applied: dict[str, int] = {}  # the last seq each model has learned
            self._lineage: dict[str, dict] = {}  # what each served model started from
            for name in REGISTRY:
                self._ensure_lineage(name, "production")
                model, through, lineage = self._build(name, "production", self.last_seq + 1)
                self.models[name], self._applied[name], self._lineage[name] = (
                    model,
                    through,
                    lineage,
                )
            for model in self.models.values():
                if hasattr(model, "attach"):
                    model.attach(self.models)  # a blend reads the engine's own models
            self.lifecycle = Lifecycle(self)
            self._sync_canary()
            self.experiments = Experiments(self.store)
            self._live = self.experiments.live()
            self._shown: dict[tuple, tuple] = {}  # (experiment, user) -> the last logged list
            oldest = min(self._applied.values(), default=self.last_seq)
            # The tail of the log some model has not learned yet; each model replays it when it
            # is next used, so neither opening nor an interaction waits for idle algorithms.
            self._tail: list[Event] = list(self.store.events(after_seq=oldest).rows())
            self.replay = {"events": len(self._tail)}
            self._snapshot_seq = oldest
            self._cache.clear()
            # Bumped whenever the state is rebuilt from the log (open, reset, forgetting a
            # user): caches of the past key on it.
            self.generation = getattr(self, "generation", 0) + 1

    def _ensure_lineage(self, name: str, arm: str) -> bool:
        """The version `arm`'s alias points at has a lineage that starts from it, and
        production always has a version: a new algorithm, an old database, a reset or a
        forgotten user can leave either missing. Returns whether anything was restored."""
        version = self.version_store.alias(name, arm)
        lineage = self.version_store.lineage_at(name, arm, self.last_seq + 1)
        if lineage is not None and lineage["version_id"] == version:
            return False
        reason = "restored after the log changed"
        if version is None:
            if arm != "production":
                return False
            version = self.version_store.latest_version_id(name)
            reason = "restored: the newest remaining version"
        if version is None:
            model = REGISTRY[name](catalog=self.catalog, weights=self.weights, seed=0)
            if hasattr(model, "attach"):
                model.attach(self.models)
            started = time.perf_counter()
            model.fit(self.store.events(), self.catalog)
            version = save_model(
                self.store, model, self.last_seq, "first-load", time.perf_counter() - started
            )
            reason = "first version of a new algorithm"
        effective = self.last_seq + 1
        if lineage is None and arm == "production":  # it has served since it was trained
            effective = self.version_store.version(version)["trained_through_seq"] + 1
            reason = "first production: the newest version"
        self.version_store.move_alias(
            name,
            arm,
            version,
            actor="system",
            reason=reason,
            at_seq=self.last_seq,
            ts=self._last_ts,
            effective_seq=effective,
        )
        return True

    def _build(self, name: str, arm: str, seq: int) -> tuple[Recommender, int, dict]:
        """The newest saved state of `name`'s `arm` as it served event `seq`, not replayed:
        returns the model, the seq it is trained through and its lineage."""
        lineage = self.version_store.lineage_at(name, arm, seq)
        if lineage is None:
            raise RecsysError(f"{name} has no {arm} model at seq {seq}")
        base = self.version_store.base_state(lineage, seq)
        model = self._holding(
            name, base["config"], base["seed"], base["params"], base["through_seq"]
        )
        return model, base["through_seq"], lineage

    def _holding(
        self, name: str, config: dict, seed: int, params: dict, through_seq: int
    ) -> Recommender:
        """A model holding saved parameters. A state saved by older code (parameters this
        version no longer has, or another layout of arrays) cannot be loaded as it is: it is
        rebuilt from the same events, with the parameters both versions share."""
        cls = REGISTRY[name]
        known = {f.name for f in fields(cls.config_class)}
        try:
            config_obj = cls.config_class.from_dict({k: v for k, v in config.items() if k in known})
        except RecsysError:  # a bound that changed: today's defaults
            config_obj = cls.config_class()
        model = cls(config_obj, catalog=self.catalog, weights=self.weights, seed=seed)
        if set(config) <= known:
            try:
                model.load_state(params)
                return model
            except (KeyError, ValueError):
                model = cls(config_obj, catalog=self.catalog, weights=self.weights, seed=seed)
        if hasattr(model, "attach"):
            model.attach(self.models)
        model.fit(self.store.events(through_seq=through_seq), self.catalog)
        return model

    def _from_version(self, version: dict) -> Recommender:
        """A model holding exactly a stored version's parameters."""
        model = self._holding(
            version["algorithm"],
            version["config"],
            version["seed"],
            version["params"],
            version["trained_through_seq"],
        )
        if hasattr(model, "attach"):
            model.attach(self.models)
        return model

    def _install(self, name: str, arm: str, model: Recommender | None = None) -> None:
        """Serve a new state for `name`'s `arm`: `model` if it is already up to date with the
        log, else the lineage's saved state plus a replay of the events after it."""
        key = name if arm == "production" else f"{name}@{arm}"
        lineage = self.version_store.lineage_at(name, arm, self.last_seq + 1)
        if model is None:
            model, through, lineage = self._build(name, arm, self.last_seq + 1)
            if hasattr(model, "attach"):
                model.attach(self.models)  # before the replay: no private components learn
            for event in self.store.events(after_seq=through).rows():
                model.learn_one(event)
        elif hasattr(model, "attach"):
            model.attach(self.models)
        self.models[key] = model
        self._applied[key] = self.last_seq
        self._lineage[key] = lineage
        self._cache.clear()

    def _sync_canary(self) -> None:
        """Serve candidates while the canary share is above zero, and only then."""
        share = self.lifecycle.policy.canary_share
        for name in REGISTRY:
            key = f"{name}@candidate"
            candidate = self.version_store.alias(name, "candidate")
            serving = self._lineage.get(key, {}).get("version_id") if key in self.models else None
            if share > 0 and candidate is not None:
                if self._ensure_lineage(name, "candidate") or serving != candidate:
                    self._install(name, "candidate")
            elif key in self.models:
                del self.models[key], self._applied[key], self._lineage[key]
        self._cache.clear()

    def _serving(self, user: str, algorithm: str) -> str:
        """Which model serves `user`: a live experiment's version arm for users assigned to
        it, else the canary's candidate for users in its share, else production."""
        arm = self._live.assign(user) if self._live else None
        if arm is not None and arm.algorithm == algorithm:  # the experiment's arm, no canary
            return self._version_arm(arm) if arm.version is not None else algorithm
        key = f"{algorithm}@candidate"
        if key in self.models and canary_bucket(user) < self.lifecycle.policy.canary_share:
            return key
        return algorithm

    def serving(self, user: str, algorithm: str | None = None) -> dict[str, Any]:
        """The arm and version that serve `user` (what the page shows next to the list)."""
        name = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
        with self._lock:
            key = self._serving(user, name)
            arm = key.partition("@")[2] or "production"
            return {"algorithm": name, "arm": arm, "version": self._lineage[key]["version_id"]}

    def _version_arm(self, arm: Arm) -> str:
        """Serve a stored version as an experiment arm: its parameters plus everything the log
        holds after it, learning online from then on like production does."""
        key = f"{arm.algorithm}@v{arm.version}"
        if key not in self.models:
            version = self.version_store.version(arm.version, params=True)
            model = self._from_version(version)
            for event in self.store.events(after_seq=version["trained_through_seq"]).rows():
                model.learn_one(event)
            self.models[key] = model
            self._applied[key] = self.last_seq
            self._lineage[key] = {"version_id": arm.version, "lineage_id": None}
        return key

    def experiment_changed(self) -> None:
        """A live experiment started or stopped: reread it and drop arms nobody serves."""
        with self._lock:
            self._live = self.experiments.live()
            keep = {f"{a.algorithm}@v{a.version}" for a in self._live.arms} if self._live else set()
            for key in [k for k in self.models if "@v" in k and k not in keep]:
                del self.models[key], self._applied[key], self._lineage[key]
            self._shown.clear()
            self._cache.clear()

    def stop_experiment(self, name: str | int) -> Experiment:
        with self._lock:
            experiment = self.experiments.stop(name, self.lab_time)
            if experiment.mode == "live":
                self.experiment_changed()
            return experiment

    @property
    def live_experiment(self) -> Experiment | None:
        return self._live

    def show(
        self, user: str, k: int = 10, algorithm: str | None = None, context: dict | None = None
    ) -> tuple[Ranking, dict[str, Any] | None]:
        """The list a person sees: in a live experiment, their arm's list (of the experiment's
        length, not `k`), logged as impressions once per distinct list, not once per page
        rerun. Returns the ranking and the exposure (experiment, arm, request id) to pass back
        with the events on it."""
        validate_user(user)
        with self._lock:
            experiment = self._live
            if experiment is None:
                return self.recommend(user, k, algorithm, context), None
            arm = experiment.assign(user)
            # The experiment fixes the list's length, so every arm is judged on the same slate.
            ranking = self.recommend(user, experiment.slate, arm.algorithm, context)
            key = (experiment.experiment_id, user)
            # The same list re-drawn (a rerun, or someone else's event that did not change it)
            # is the same impression; a changed list is a new one.
            shown = (ranking.item_ids(), json.dumps(context, sort_keys=True))
            last = self._shown.get(key)
            if last is not None and last[0] == shown:
                request = last[1]
            else:
                request = self.experiments.reserve_requests(1)
                self.experiments.log(
                    _impressions(experiment, arm, user, ranking, request, self.lab_time)
                )
                self._shown[key] = (shown, request)
            return ranking, {
                "experiment": experiment.name,
                "arm": arm.name,
                "label": arm.label,
                "algorithm": arm.algorithm,
                "slate": experiment.slate,
                "request_id": request,
            }

    def _served_by(self, key: str) -> str:
        name, _, arm = key.partition("@")
        return f"{name}:{arm or 'production'}:{self._lineage[key]['version_id']}"

    def _catch_up(self, name: str) -> list[UpdateInfo]:
        """Let one model learn, in order, every event of the tail it has not seen yet; each
        update is written to the learning log."""
        for dependency in self.models[name].depends_on():
            self._catch_up(dependency)
        done = self._applied[name]
        if done >= self.last_seq:
            return []
        model = self.models[name]
        start = bisect.bisect_right(self._tail, done, key=lambda e: e.seq)
        updates, rows = [], []
        logged = self._logged.get(name, 0)
        for event in self._tail[start:]:
            update = model.learn_one(event)
            updates.append(update)
            if event.seq > logged:  # a replay after reopening does not log an event twice
                rows.append(_log_row(event, update, name))
            self._applied[name] = event.seq
        self._logged[name] = max(logged, self._applied[name])
        self.store.log_learning(rows)
        self._trim_tail()
        return updates

    def _trim_tail(self) -> None:
        oldest = min(self._applied.values())
        drop = bisect.bisect_right(self._tail, oldest, key=lambda e: e.seq)
        if drop:
            del self._tail[:drop]

    def catch_up(self) -> None:
        """Bring every model up to the newest event (before a snapshot, an export...)."""
        with self._lock:
            for name in self.models:
                self._catch_up(name)

    # -- reading --------------------------------------------------------------------------

    @property
    def lab_time(self) -> float:
        """The lab clock: seconds since the world's epoch of the newest event."""
        return self._last_ts

    @property
    def world(self) -> str:
        return self.meta.get("world", "")

    def users(self) -> dict[str, str]:
        """Every user id the lab knows, with its kind (simulated, demo, persona, visitor)."""
        with self._lock:
            return dict(self._users)

    def item_title(self, item: int) -> str:
        return self.catalog.titles[item]

    @property
    def default_algorithm(self) -> str:
        return DEFAULT_ALGORITHM

    def model(self, algorithm: str | None = None) -> Recommender:
        """An algorithm's production model, up to date with the log."""
        name = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
        with self._lock:
            self._catch_up(name)
            return self.models[name]

    def recommend(
        self, user: str, k: int = 10, algorithm: str | None = None, context: dict | None = None
    ) -> Ranking:
        """The top-k for `user` with scores and a one-line reason each (cold users get the
        algorithm's fallback, never an error)."""
        validate_user(user)
        k = _validate_k(k)
        algorithm = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
        context = validate_context(context)
        key = (user, k, algorithm, json.dumps(context, sort_keys=True))
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            serving = self._serving(user, algorithm)
            self._catch_up(serving)
            ranking = self._rank(self.models[serving], user, k, context, algorithm, self.last_seq)
            self._cache[key] = ranking
            return ranking

    def _rank(
        self,
        model: Recommender,
        user: str,
        k: int,
        context: dict | None,
        algorithm: str,
        seq: int,
    ) -> Ranking:
        items, scores = model.recommend(user, k, context)
        reasons = model.reasons(user, items.tolist())
        ranked = tuple(
            RankedItem(
                item,
                rank,
                score,
                self.catalog.titles[item],
                self.catalog.genres[item],
                self._years[item],
                self._regions[item],
                reason,
                self.catalog.tags[item] if self.catalog.tags else (),
            )
            for rank, (item, score, reason) in enumerate(
                zip(items.tolist(), scores.tolist(), reasons, strict=True), 1
            )
        )
        return Ranking(user, algorithm, seq, ranked, model.scale)

    def explain(self, user: str, item: int, algorithm: str | None = None):
        validate_user(user)
        return self.model(algorithm).explain(user, self._validate_item(item))

    def history(self, user: str, limit: int = 50):
        validate_user(user)
        return self.store.user_history(user, limit)

    # -- learning -------------------------------------------------------------------------

    def interact(
        self,
        user: str,
        item: int | str,
        kind: str,
        value: float | None = None,
        context: dict | None = None,
        *,
        algorithm: str | None = None,
        k: int = 10,
        source: str = "live",
        ts: float | None = None,
        user_kind: str = "visitor",
        persona: str | None = None,
        request_id: int | None = None,
    ) -> LearningStep:
        """Validate, commit the event, learn online everywhere, and report before/after.
        `request_id` is the logged list the event came from (`show`): it attributes the event
        to that impression."""
        started = time.perf_counter()
        validate_user(user)
        item = self._validate_item(item)
        kind = validate_kind(kind)
        value = validate_value(kind, value)
        context = validate_context(context)
        algorithm = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
        k = _validate_k(k)
        if request_id is not None and (
            isinstance(request_id, bool) or not isinstance(request_id, int | np.integer)
        ):
            raise RecsysError(f"request_id must be a whole number, got {request_id!r}")
        timings = {"validate": _ms(started)}
        with self._lock:
            mark = time.perf_counter()
            before = self.recommend(user, k, algorithm, context)
            timings["before"] = _ms(mark)
            mark = time.perf_counter()
            event = Event(user, item, kind, value, self._clock(ts), self.last_seq + 1, context)
            new_user = None if user in self._users else (user_kind, persona)
            serving = self._serving(user, algorithm)
            self.store.append_event(
                event,
                source,
                new_user,
                self._served_by(serving),
                None if request_id is None else int(request_id),
            )
            self.last_seq = event.seq
            self._last_ts = event.ts
            if new_user:
                self._users[user] = user_kind
            timings["commit"] = _ms(mark)
            mark = time.perf_counter()
            self._tail.append(event)
            try:
                updates = self._catch_up(serving)  # the others learn it when next used
            except Exception:
                self._load()  # the event is committed: rebuild from the log, then report
                raise
            self._cache.clear()
            timings["learn"] = _ms(mark)
            mark = time.perf_counter()
            arm = serving.partition("@")[2] or "production"  # candidate, or vN of an experiment
            actions = self.lifecycle.observe(algorithm, arm, kind, value, event.ts, context)
            if actions:
                self._cache.clear()
                timings["policies"] = _ms(mark)
            mark = time.perf_counter()
            # The `after` list comes from the arm that served the event, even if a policy just
            # gave the canary a new candidate: that is the list time travel rebuilds for N.
            if serving not in self.models:
                serving = algorithm
            self._catch_up(serving)
            after = self._rank(self.models[serving], user, k, context, algorithm, self.last_seq)
            timings["after"] = _ms(mark)
            mark = time.perf_counter()
            changes = diff(before, after)
            timings["diff"] = _ms(mark)
            timings["total"] = _ms(started)
            return LearningStep(
                event, self.catalog.titles[item], before, after, changes, updates, timings, actions
            )

    def retrain(self, algorithm: str | None = None, trigger: str = "manual") -> dict[str, Any]:
        """Full retrain of one algorithm on the whole log, stored as a new version that serves
        at once (`versions train` goes through the promotion gate instead)."""
        return self.lifecycle.train(algorithm, trigger, promote="always")

    def load_world(
        self,
        world: World,
        weights: str = "default",
        configs: dict[str, dict] | None = None,
        progress: Callable[[float, str], None] | None = None,
    ) -> dict[str, Any]:
        """Replace the whole lab with `world` (generated or imported): every algorithm is
        trained on its history (with `configs` by name), then the world and the trained
        versions are written in one transaction. On any failure the previous lab stays as
        it was. Experiments, versions and the log of the old world go with it."""
        with self._lock:
            fitted = install_world(self.store, world, weights, configs, progress)
            self._shown = {}
            self._load()
        return self.summary() | {
            "held_out": len(world.holdout),
            "seconds": {m.name: round(s, 3) for m, s in fitted},
        }

    def summary(self) -> dict[str, Any]:
        """What the lab holds: the world's label and its items, users and events."""
        return {
            "world": self.meta.get("label", self.world),
            "items": self.catalog.n,
            "users": len(self._users),
            "events": self.last_seq,
        }

    def reset_lab(self) -> None:
        """Back to the seeded world: drop every event after the generated history."""
        with self._lock:
            self.store.truncate_after(int(self.meta["history_through_seq"]))
            self._load()

    def configure(
        self, algorithm: str, changes: dict[str, Any], trigger: str = "parameters"
    ) -> dict[str, Any]:
        """New parameters for an algorithm: validated, then the model is rebuilt from the whole
        event log, stored as a new version and served. Out-of-range values change nothing."""
        cls = algorithm_class(algorithm)
        cls.config_class.from_dict(self.models[cls.name].config.to_dict() | dict(changes))
        result = self.lifecycle.train(cls.name, trigger, promote="always", config=changes)
        return result | {"config": self.models[cls.name].config.to_dict()}

    def reset_user(self, user: str) -> int:
        """Forget what `user` did in the lab (a demo user keeps the seeded history); returns the
        number of events forgotten. Models are rebuilt from the remaining log."""
        validate_user(user)
        with self._lock:
            # Forgetting drops the versions trained after the user's first event: not one a live
            # experiment's arm serves.
            first = self.store.first_live_seq(user)
            for version, experiment in self.experiments.live_versions().items():
                if (
                    first is not None
                    and self.version_store.version(version)["trained_through_seq"] >= first
                ):
                    raise RecsysError(
                        f"live experiment {experiment!r} serves a version trained after {user} "
                        "acted; forgetting them would delete it. Stop the experiment first"
                    )
            before = self.store.count_events()
            if self.store.forget_user(user) is None:
                self._shown = {key: v for key, v in self._shown.items() if key[1] != user}
                return 0
            self._load()
            return before - self.store.count_events()

    def genre_affinity(self, user: str, algorithm: str | None = None) -> pd.Series:
        """What the model holds about `user`: the mean personal part of its score per genre
        (for MF the dot product of the user's vector with each item's), centred on zero."""
        model = self.model(algorithm)
        taste = model.taste(user)
        if taste is None:
            return pd.Series(dtype=float)
        genres = self._genre_matrix()
        affinity = (genres.T @ taste) / np.maximum(genres.sum(axis=0), 1) - taste.mean()
        return pd.Series(affinity, index=self._genre_names).sort_values(ascending=False)

    def _genre_matrix(self) -> np.ndarray:
        if getattr(self, "_genres", None) is None or len(self._genres) != self.catalog.n:
            self._genre_names = sorted({g for gs in self.catalog.genres for g in gs})
            index = {g: i for i, g in enumerate(self._genre_names)}
            self._genres = np.zeros((self.catalog.n, len(self._genre_names)))
            for item, gs in enumerate(self.catalog.genres):
                self._genres[item, [index[g] for g in gs]] = 1.0
        return self._genres

    def _snapshot(self, reason: str) -> None:
        """Checkpoint every served model (a shortcut for the next open's replay)."""
        self.catch_up()
        for key, model in self.models.items():
            name, _, arm = key.partition("@")
            if arm.startswith("v"):  # an experiment's version arm: rebuilt from its version
                continue
            self.version_store.save_checkpoint(
                name,
                arm or "production",
                self._lineage[key]["lineage_id"],
                self.last_seq,
                model.config.to_dict(),
                model.seed,
                model.state(),
                reason,
            )
        self._snapshot_seq = self.last_seq

    def _clock(self, ts: float | None) -> float:
        """The lab clock: simulated time from the log, advanced by real time while people use
        it (capped, so a week away does not age the whole world)."""
        now = time.monotonic()
        if ts is None:
            ts = self._last_ts + min(max(now - self._last_wall, 0.001), MAX_CLOCK_STEP)
        self._last_wall = now
        return round(max(float(ts), self._last_ts), 3)

    def _validate_item(self, item: object) -> int:
        number = parse_item(item)
        if not 0 <= number < self.catalog.n:
            raise RecsysError(f"unknown item {number}: item ids run from 0 to {self.catalog.n - 1}")
        return number


def seed_world(
    store: Store,
    world: str = DEFAULT_PACK,
    seed: int = DEFAULT_SEED,
    weights: str = "default",
    **sizes: Any,
) -> None:
    """Generate a world into an empty store and snapshot every algorithm trained on it."""
    _check_weights(weights)
    install_world(store, generate_world(world, seed, **sizes), weights)


def install_world(
    store: Store,
    world: World,
    weights: str = "default",
    configs: dict[str, dict] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> list[tuple[Recommender, float]]:
    """Train every algorithm on `world`'s history (with `configs` by name) in memory, then
    write the world and their versions as the seed versions in one transaction, replacing
    whatever the store held: a failure anywhere leaves the store as it was."""
    _check_weights(weights)
    for name, config in (configs or {}).items():
        algorithm_class(name).config_class.from_dict(config)  # bounds, before any work
    frame = EventFrame.from_frame(world.events)
    through = int(frame.seq[-1]) if len(frame) else 0
    seed = int(world.meta["seed"])
    fitted = fit_models(Catalog.from_frame(world.items), frame, weights, seed, configs, progress)
    if progress:
        progress(0.95, "writing the new lab")
    with store._write_lock:
        _, inserts = VersionStore(store).new_versions(
            [  # no parent; metrics are measured when first asked for
                (
                    m.name,
                    m.config.to_dict(),
                    m.seed,
                    through,
                    through,
                    m.state(),
                    "seed",
                    s,
                    None,
                    None,
                )
                for m, s in fitted
            ]
        )
        store.replace_world(
            world.meta | {"weights": weights},
            world.items,
            world.personas,
            world.users,
            world.events,
            world.holdout,
            then=inserts,
        )
    return fitted


def fit_models(
    catalog: Catalog,
    events: EventFrame,
    weights: str,
    seed: int,
    configs: dict[str, dict] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> list[tuple[Recommender, float]]:
    """Every registered algorithm fitted on `events` (with `configs` by name where given),
    with its fit time in seconds. Holdout metrics are measured when first asked for
    (Lifecycle.measured): the first start of the app should not wait for ten evaluations."""
    models = {
        name: cls(
            cls.config_class.from_dict((configs or {}).get(name, {})),
            catalog=catalog,
            weights=WEIGHT_PRESETS[weights],
            seed=seed,
        )
        for name, cls in REGISTRY.items()
    }
    for model in models.values():
        if hasattr(model, "attach"):
            model.attach(models)  # a blend reads these models: no private copies to fit
    fitted = []
    for i, model in enumerate(models.values()):  # the registry lists a blend after its parts
        if progress:
            progress(i / len(models), f"training {model.name}")
        started = time.perf_counter()
        model.fit(events, catalog)
        fitted.append((model, time.perf_counter() - started))
    return fitted


def _check_weights(weights: str) -> None:
    if weights not in WEIGHT_PRESETS:
        raise RecsysError(f"unknown weights {weights!r}; choose one of {', '.join(WEIGHT_PRESETS)}")


def _impressions(
    experiment: Experiment, arm: Arm, user: str, ranking: Ranking, request: int, ts: float
) -> pd.DataFrame:
    """One shown list as impression rows (a deterministic ranker: propensity 1)."""
    n = len(ranking.items)
    return pd.DataFrame(
        {
            "experiment_id": experiment.experiment_id,
            "request_id": request,
            "arm": arm.name,
            "user_id": user,
            "item_id": np.array(ranking.item_ids(), dtype=np.int32),
            "position": np.arange(1, n + 1, dtype=np.int16),
            "score": [r.score for r in ranking.items],
            "propensity": 1.0,
            "ts": ts,
            "at_seq": ranking.seq,
            "clicked": False,
            "liked": False,
            "disliked": False,
            "favorited": False,
            "rating": np.full(n, np.nan),
            "true_click": np.full(n, np.nan),
        }
    )


def _log_row(event: Event, update: UpdateInfo, key: str) -> tuple:
    """`key` names the served model: `mf`, or `mf@candidate` for the canary's arm."""
    return (
        event.seq,
        key,
        event.user,
        event.item,
        event.kind,
        update.user_change,
        update.item_change,
        update.score_before,
        update.score_after,
        update.duration_ms,
        json.dumps(update.details),
    )


def save_model(
    store: Store,
    model: Recommender,
    through_seq: int,
    trigger: str,
    fit_seconds: float | None = None,
    metrics: dict[str, float | None] | None = None,
) -> int:
    """Store a model as a version trained on events 1..through_seq (seq has no gaps)."""
    return VersionStore(store).save_version(
        model.name,
        model.config.to_dict(),
        model.seed,
        through_seq,
        through_seq,
        model.state(),
        trigger,
        fit_seconds,
        metrics=metrics,
    )


def _validate_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise RecsysError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
    return int(k)


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000.0
