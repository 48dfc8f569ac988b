"""What changes the lab as a whole, as methods of `Engine`: a new world, a reset, new
parameters, a full retrain, forgetting a user, and a block of changes kept all or nothing.

A mixin (the engine's attributes: `lock`, `store`, `lifecycle`, `models`, `retrainer`, `meta`,
`catalog`, `_load`), so `recsys/engine.py` keeps to the request path: recommend, show, interact.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd

from recsys.algorithms import algorithm_class, validate_config
from recsys.errors import RecsysError
from recsys.events import Event, validate_user
from recsys.experiments.assignment import Experiment
from recsys.lifecycle.seeding import FIRST_PAGE, install_world
from recsys.world import World


class WholeLab:
    """The lab-wide operations of `Engine` (see the module docstring)."""

    @contextlib.contextmanager
    def all_or_nothing(self) -> Iterator[None]:
        """Every write of the block in ONE transaction of the store, under the engine lock
        (other sessions wait): if the block raises, or the process dies in it, the lab is as
        it was before the block, and the served models are rebuilt from that log. Background
        retrains stay off meanwhile (their state would be written beside the block). A scenario
        load runs in one: world swap, experiments, scripted runs and claims."""
        with self.retrainer.suspended(), self.lock:  # suspended() waits for the worker: first
            try:
                with self.store.batch():
                    yield
            except BaseException:
                self._load()  # the models learned what was rolled back
                raise

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
        """Replace the whole lab with `world` (generated or imported): the first page's
        algorithms (`FIRST_PAGE`) are trained on its history (with `configs` by name) and the
        others' seed versions deferred, fitted when first used (a 25M-event log would wait
        minutes for all ten), then the world and the versions are written in one transaction.
        On any failure the previous lab stays as it was. Experiments, versions and the log of
        the old world go with it."""
        with self.lock:
            self.retrainer.discard()  # before the store changes: see lifecycle.jobs.save
            fitted = install_world(self.store, world, weights, configs, progress, FIRST_PAGE)
            self._load({m.name: m for m, _ in fitted})
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
        with self.lock:
            self.retrainer.discard()
            self.store.truncate_after(int(self.meta["history_through_seq"]))
            self._load()

    def configure(
        self,
        algorithm: str,
        changes: dict[str, Any],
        trigger: str = "parameters",
        promote: str = "gate",
    ) -> dict[str, Any]:
        """New parameters for an algorithm: validated, then a model is rebuilt from the whole
        event log with them and stored as a new version, which serves as a retrain's would
        (`promote` "gate": if the policy auto-promotes and it passes the gate, else it is the
        candidate; "always": at once). Out-of-range values change nothing (RecsysError).
        Returns `Lifecycle.train`'s record (`outcome`: what happened, in a sentence) with
        `config`, the new version's parameters, and `serving_config`, production's now."""
        name = algorithm_class(algorithm).name
        validate_config(name, self.models[name].config.to_dict() | dict(changes))
        result = self.lifecycle.train(name, trigger, promote=promote, config=changes)
        config = self.version_store.version(result["version"])["config"]
        return result | {"config": config, "serving_config": self.models[name].config.to_dict()}

    def reset_user(self, user: str) -> int:
        """Forget what `user` did in the lab (a demo user keeps the seeded history); returns the
        number of events forgotten. Models are rebuilt from the remaining log."""
        validate_user(user)
        with self.lock:
            self._check_forgettable(user)
            before = self.store.count_events()
            self.retrainer.discard()
            if self.store.forget_user(user) is None:
                self.exposure.forget(user)
                return 0
            self._load()
            return before - self.store.count_events()

    def undo_last(self, user: str) -> Event | None:
        """Forget `user`'s newest live event, through the same erasure path as `reset_user`
        (later events renumbered, versions trained past it dropped, models rebuilt from the
        log). Returns the forgotten event, or None when the user has nothing to undo (a seeded
        history is never undone). Raises `RecsysError` for an invalid user, or when a live
        experiment serves a version trained after the event."""
        validate_user(user)
        with self.lock:
            seq = self.store.last_live_seq(user)
            if seq is None:
                return None
            self._check_forgettable(user, newest_only=True)
            (event,) = self.store.events(seq - 1, seq).rows()
            self.retrainer.discard()
            self.store.forget_user(user, newest_only=True)
            self._load()
            return event

    def genre_affinity(self, user: str, algorithm: str | None = None) -> pd.Series:
        """What the model holds about `user`: the mean personal part of its score per genre
        (for MF the dot product of the user's vector with each item's), centred on zero."""
        model = self.model(algorithm)
        taste = model.taste(user)
        if taste is None:
            return pd.Series(dtype=float)
        return self.catalog.genre_affinity(taste)

    def _check_forgettable(self, user: str, newest_only: bool = False) -> None:
        """Forgetting a user (or, with `newest_only`, their newest event) drops the versions
        trained after it: raises `RecsysError` if a live experiment's arm serves one of those."""
        first = (self.store.last_live_seq if newest_only else self.store.first_live_seq)(user)
        if first is None:
            return
        for version, experiment in self.experiments.live_versions().items():
            if self.version_store.version(version)["trained_through_seq"] >= first:
                raise RecsysError(
                    f"live experiment {experiment!r} serves a version trained after {user} "
                    "acted; forgetting them would delete it. Stop the experiment first"
                )

    # -- experiments that change what serves ---------------------------------------------

    def experiment_changed(self) -> None:
        """A live experiment started or stopped: reread it and drop arms nobody serves."""
        with self.lock:
            self.exposure.refresh()
            live = self.exposure.live
            self.host.keep_versions({(a.algorithm, a.version) for a in live.arms} if live else ())

    def stop_experiment(self, name: str | int) -> Experiment:
        with self.lock:
            experiment = self.experiments.stop(name, self.lab_time)
            if experiment.mode == "live":
                self.experiment_changed()
            return experiment

    @property
    def live_experiment(self) -> Experiment | None:
        return self.exposure.live
