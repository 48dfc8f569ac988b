"""The engine facade: one object per process that every page, the CLI and the tests share.

`Engine.open(path)` opens (and on first use seeds) a lab database, loads the newest saved state
of every registered algorithm and replays the events after the seq it is trained through, so
the state in memory is always a function of the event log. `interact` validates, commits the
event, lets every model learn online and returns a `LearningStep`; `recommend` ranks. One lock
serialises state changes, which keeps `seq` gap-free and the models consistent across
Streamlit's threads. The served models themselves live in a `ModelHost` (`recsys.hosting`).

>>> engine = Engine.create(":memory:", n_users=30, sessions_per_user=10)
>>> step = engine.interact("ada", engine.recommend("ada").items[0].item, "like")
>>> step.event.seq == engine.last_seq
True
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from recsys.algorithms import DEFAULT_ALGORITHM, Recommender, algorithm_class
from recsys.events import (
    WEIGHT_PRESETS,
    Event,
    ItemIds,
    parse_item,
    validate_context,
    validate_kind,
    validate_request_id,
    validate_user,
    validate_value,
)
from recsys.experiments.assignment import Experiments
from recsys.experiments.exposure import Exposure
from recsys.hosting import ModelHost, Served
from recsys.labwide import WholeLab
from recsys.lifecycle.background import Retrainer, unsettle
from recsys.lifecycle.policies import canary_bucket
from recsys.lifecycle.seeding import FIRST_PAGE, Fitted, new_store, seeded_store
from recsys.lifecycle.versions import Lifecycle
from recsys.ranking import LearningStep, Ranking, Stopwatch, diff, validate_k
from recsys.store.connection import database_path
from recsys.store.database import Store
from recsys.store.versions import VersionStore
from recsys.world import DEFAULT_PACK, DEFAULT_SEED, World


class Engine(WholeLab):
    def __init__(self, store: Store, adopt: Mapping[str, Recommender] | None = None):
        """The engine of an open store. `adopt`: models just trained for the store's seed
        versions (`lifecycle.seeding`), served as they are instead of read back."""
        self.store = store
        # The one lock around state changes (shared by the model host, which a reset rebuilds).
        self.lock = threading.RLock()
        self.retrainer = Retrainer(self.lock)  # policy retrains off the request path, when on
        self._load(adopt)
        with self.lock:
            self.lifecycle.finish_interrupted()

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
        return cls._over(seeded_store(database_path(path), world, seed, weights))

    @classmethod
    def create(
        cls,
        path: str | Path,
        world: str = DEFAULT_PACK,
        seed: int = DEFAULT_SEED,
        weights: str = "default",
        *,
        reset: bool = False,
        eager: bool = False,
        **sizes: Any,
    ) -> Engine:
        """A new lab database at `path` with a freshly generated world (an existing file is
        replaced only with `reset`); `eager` fits every seed version now, not when first used."""
        fit = None if eager else FIRST_PAGE
        return cls._over(new_store(str(path), world, seed, weights, reset, fit, **sizes))

    @classmethod
    def _over(cls, opened: tuple[Store, Fitted | None]) -> Engine:
        store, fitted = opened
        try:
            return cls(store, {m.name: m for m, _ in fitted or ()})
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        """Let background retrains land, checkpoint the models that learned much since their
        saved state, then close the store (and undo `settle`)."""
        self.retrainer.wait()
        with self.lock:
            if self.store.closed:
                return
            self.host.checkpoint("on close")
            self.store.close()
        unsettle()

    def _load(self, adopt: Mapping[str, Recommender] | None = None) -> None:
        """(Re)load the lab; each served model is built from its lineage when first used."""
        with self.lock:
            self.retrainer.discard()  # trained on a log that is being rebuilt
            self.meta = self.store.meta()
            self.weights = WEIGHT_PRESETS[self.meta.get("weights", "default")]
            self.personas = self.store.personas()  # static per world; read once
            self._users = {
                u: k for u, k in self.store.users()[["user_id", "kind"]].itertuples(index=False)
            }
            self.version_store = VersionStore(self.store)
            self.host = ModelHost(
                self.store, self.version_store, self.store.items(), self.weights, self.lock, adopt
            )
            self.items, self.catalog = self.host.items, self.host.catalog
            self.ids = ItemIds.of(self.items["external_id"].tolist())  # the dataset's own
            self.experiments = Experiments(self.store)
            self.lifecycle = Lifecycle(self.host, self.experiments, self.meta, self.retrainer)
            self.host.sync_canary(self.lifecycle.policy.canary_share)
            self.exposure = Exposure(self.experiments)
            self.replay = {"events": self.host.replayed}
            # Bumped whenever the state is rebuilt from the log (open, reset, forgetting a
            # user): caches of the past key on it.
            self.generation = getattr(self, "generation", 0) + 1

    @property
    def holdout(self) -> pd.DataFrame:
        return self.host.holdout

    @property
    def last_seq(self) -> int:
        """The seq of the newest event in the log."""
        return self.host.last_seq

    @property
    def models(self) -> Mapping[str, Recommender]:
        """The production models by algorithm name (not caught up: use `model`)."""
        return self.host.production

    def _serving(self, user: str, algorithm: str) -> Served:
        """Which model serves `user`: a live experiment's version arm for users assigned to
        it, else the canary's candidate for users in its share, else production."""
        live = self.exposure.live
        arm = live.assign(user) if live else None
        if arm is not None and arm.algorithm == algorithm:  # the experiment's arm, no canary
            return self.host.route(algorithm, arm.version, in_canary=False)
        share = self.lifecycle.policy.canary_share  # 0 unless a canary runs: no hash then
        return self.host.route(algorithm, None, share > 0 and canary_bucket(user) < share)

    def serving(self, user: str, algorithm: str | None = None) -> dict[str, Any]:
        """The arm and version that serve `user` (what the page shows next to the list):
        algorithm, arm, version (the key) and label (`v3`, its algorithm's number)."""
        name = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
        with self.lock:
            served = self._serving(user, name)
            version = self.host.lineage(served)["version_id"]
            label = self.version_store.label_of(version)
            return {"algorithm": name, "arm": served.arm, "version": version, "label": label}

    def show(
        self, user: str, k: int = 10, algorithm: str | None = None, context: dict | None = None
    ) -> tuple[Ranking, dict[str, Any] | None]:
        """The list a person sees: in a live experiment, their arm's list (of the experiment's
        length, not `k`), logged as impressions once per distinct list, not once per page
        rerun. Returns the ranking and the exposure (experiment, arm, request id) to pass back
        with the events on it."""
        validate_user(user)
        with self.lock:
            experiment = self.exposure.live
            if experiment is None:
                return self.recommend(user, k, algorithm, context), None
            arm = experiment.assign(user)
            # The experiment fixes the list's length, so every arm is judged on the same slate.
            ranking = self.recommend(user, experiment.slate, arm.algorithm, context)
            return ranking, self.exposure.log(arm, user, ranking, context, self.lab_time)

    def catch_up(self) -> None:
        """Bring every model up to the newest event (before a checkpoint, an export...)."""
        with self.lock:
            self.host.catch_up_all()

    # -- reading --------------------------------------------------------------------------

    @property
    def lab_time(self) -> float:
        """The lab clock: seconds since the world's epoch of the newest event."""
        return self.host.last_ts

    @property
    def world(self) -> str:
        return self.meta.get("world", "")

    def users(self) -> dict[str, str]:
        """Every user id the lab knows, with its kind (simulated, demo, persona, visitor)."""
        with self.lock:
            return dict(self._users)

    def item_title(self, item: int) -> str:
        return self.catalog.titles[item]

    def model(self, algorithm: str | None = None, user: str | None = None) -> Recommender:
        """An algorithm's production model, up to date with the log; with `user`, the model
        that serves them (an experiment's arm or the canary's candidate, as `recommend`)."""
        name = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
        with self.lock:
            return self.host.model(Served(name) if user is None else self._serving(user, name))

    def recommend(
        self, user: str, k: int = 10, algorithm: str | None = None, context: dict | None = None
    ) -> Ranking:
        """The top-k for `user` with scores and a one-line reason each (cold users get the
        algorithm's fallback, never an error)."""
        key, context = self._list_key(user, k, algorithm, context)
        user, k, algorithm, _ = key
        with self.lock:
            cached = self.host.cache.get(key)
            if cached is not None:
                return cached
            model = self.host.model(self._serving(user, algorithm))
            ranking = Ranking.of(model, self.catalog, user, k, context, algorithm, self.last_seq)
            self.host.cache[key] = ranking
            return ranking

    def top(
        self, user: str, k: int = 10, algorithm: str | None = None, context: dict | None = None
    ) -> list[int]:
        """The item ids of `recommend`'s list, in its order, without the reasons only a person
        reads (a scripted run's view of the list: mf's reasons cost more than its ranking)."""
        key, context = self._list_key(user, k, algorithm, context)
        user, k, algorithm, _ = key
        with self.lock:
            cached = self.host.cache.get(key)
            if cached is not None:
                return cached.item_ids()
            model = self.host.model(self._serving(user, algorithm))
            return model.recommend(user, k, context)[0].tolist()

    def _list_key(
        self, user: str, k: int, algorithm: str | None, context: dict | None
    ) -> tuple[tuple[str, int, str, str], dict | None]:
        """The validated request as the key of the rankings cached for the current state
        (user, k, algorithm, context as JSON), and the validated context."""
        validate_user(user)
        context = validate_context(context)
        name = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
        return (user, validate_k(k), name, json.dumps(context, sort_keys=True)), context

    def explain(self, user: str, item: int, algorithm: str | None = None):
        """The score breakdown of `item` by the model that serves `user` (the one whose list
        they see)."""
        validate_user(user)
        with self.lock:  # a click landing meanwhile would have it read a half-updated model
            return self.model(algorithm, user).explain(user, self.catalog.item(parse_item(item)))

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
        shown: Ranking | None = None,
    ) -> LearningStep:
        """Validate, commit the event, learn online everywhere, and report before/after.
        `request_id` is the logged list the event came from (`show`): it attributes the event
        to that impression. `shown`: the list the person acted on (drawn before events from
        elsewhere, perhaps), used as the step's `before`; the current list when None."""
        watch = Stopwatch()
        user, item, kind, value, context, algorithm = self._valid(
            user, item, kind, value, context, algorithm
        )
        k = validate_k(k)
        origin = (source, user_kind, persona, validate_request_id(request_id))
        watch.lap("validate")
        with self.lock:
            watch.lap(None)  # waiting for another session's request is no stage of this one
            before = shown or self.recommend(user, k, algorithm, context)
            watch.lap("before")
            event, serving, updates, actions = self._apply(
                user, item, kind, value, context, algorithm, ts, origin, watch
            )
            # The `after` list comes from the arm that served the event, even if a policy just
            # gave the canary a new candidate: that is the list time travel rebuilds for N.
            if serving not in self.host:
                serving = Served(algorithm)
            model = self.host.model(serving)
            after = Ranking.of(model, self.catalog, user, k, context, algorithm, self.last_seq)
            watch.lap("after")
            changes = diff(before, after)
            watch.lap("diff")
            title = self.catalog.titles[item]
            timings = watch.total()
            return LearningStep(event, title, before, after, changes, updates, timings, actions)

    def play(
        self,
        user: str,
        item: int | str,
        kind: str,
        value: float | None = None,
        context: dict | None = None,
        *,
        algorithm: str | None = None,
        source: str = "simulation",
        ts: float | None = None,
        user_kind: str = "persona",
        persona: str | None = None,
    ) -> Event:
        """A scripted event (autopilot, a scenario's runs): validated, committed, learned and
        seen by the policies exactly as `interact` does it, without the lists before and after
        it, their reasons and their diff, which only a person reads. Returns the event."""
        user, item, kind, value, context, algorithm = self._valid(
            user, item, kind, value, context, algorithm
        )
        with self.lock:
            self.host.model(self._serving(user, algorithm))  # caught up, as `recommend` leaves it
            origin = (source, user_kind, persona, None)
            return self._apply(user, item, kind, value, context, algorithm, ts, origin)[0]

    def _valid(self, user, item, kind, value, context, algorithm) -> tuple:
        """An event's parts validated (RecsysError for the first bad one)."""
        validate_user(user)
        item = self.catalog.item(parse_item(item))
        kind = validate_kind(kind)
        value = validate_value(kind, value)
        context = validate_context(context)
        algorithm = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
        return user, item, kind, value, context, algorithm

    def _apply(
        self, user, item, kind, value, context, algorithm, ts, origin, watch=None
    ) -> tuple[Event, Served, list, list]:
        """Commit one validated event, let the model that served it learn (the others learn
        it when next used) and run the policies; under the lock. `origin`: (source, user_kind,
        persona, request_id). Returns the event, the served model, its updates and the
        policies' actions."""
        watch = watch or Stopwatch()
        source, user_kind, persona, request_id = origin
        event = Event(user, item, kind, value, self.host.clock(ts), self.last_seq + 1, context)
        new_user = None if user in self._users else (user_kind, persona)
        serving = self._serving(user, algorithm)
        served_by = self.host.served_by(serving)
        self.store.append_event(event, source, new_user, served_by, request_id)
        self.host.append(event)
        if new_user:
            self._users[user] = user_kind
        watch.lap("commit")
        try:
            updates = self.host.catch_up(serving)
        except Exception:
            self._load()  # the event is committed: rebuild from the log, then report
            raise
        watch.lap("learn")
        actions = self.lifecycle.observe(algorithm, serving.arm, kind, value, event.ts, context)
        if actions:
            self.host.cache.clear()
        watch.lap("policies" if actions else None)
        return event, serving, updates, actions
