"""The model lifecycle: train versions, gate and promote them, roll back, canary, compare.

A version is trained on the whole event log (warm-started when a policy asks), measured on the
world's fixed holdout with its own parameters, stored, and pointed at by the `candidate` or
`production` alias. Promotion replaces the served model with the version's parameters plus an
online replay of the events after its trained_through_seq; rollback is a promotion of the previous
production. Policies (`recsys.lifecycle.policies`) call the same methods as the pages and the CLI.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd

from recsys.algorithms import (
    DEFAULT_ALGORITHM,
    ModelSpec,
    Recommender,
    algorithm_class,
    build_model,
)
from recsys.errors import RecsysError
from recsys.experiments.assignment import Experiments
from recsys.hosting import ModelHost, Served
from recsys.lifecycle.measures import compare_versions, gate_verdict, holdout_metrics, live_metrics
from recsys.lifecycle.policies import Action, Policy, Watcher, counters


class Lifecycle:
    """Versions, aliases and policies of one lab, acting on the served models of `host`.

    `experiments` tells which versions live experiments serve (they must not be deleted);
    `meta` is the lab's meta table, which holds the policy.
    """

    def __init__(self, host: ModelHost, experiments: Experiments, meta: dict[str, str]):
        self.host, self.store, self.experiments = host, host.store, experiments
        self.version_store = host.version_store
        self.policy = Policy.load(meta)
        self.watcher = Watcher(self.policy, self._counters)

    def _counters(self, algorithm: str) -> dict[str, Any]:
        return counters(self.store, self.version_store, algorithm)

    def _sync_canary(self) -> None:
        self.host.sync_canary(self.policy.canary_share)

    def _move(self, name, alias, version, actor, reason, effective) -> None:
        h = self.host
        self.version_store.move_alias(
            name,
            alias,
            version,
            actor=actor,
            reason=reason,
            at_seq=h.last_seq,
            ts=h.last_ts,
            effective_seq=effective,
        )

    def _log_update(self, **fields) -> None:
        self.version_store.log_update(at_seq=self.host.last_seq, ts=self.host.last_ts, **fields)

    # -- policy ---------------------------------------------------------------------------

    def set_policy(self, changes: dict[str, Any]) -> Policy:
        """Validate and store new policy values (out of range: nothing changes)."""
        h = self.host
        with h.lock:
            policy = Policy.from_dict(self.policy.to_dict() | dict(changes))
            self.store.set_meta("policy", json.dumps(policy.to_dict(), sort_keys=True))
            self.policy = policy
            self.watcher = Watcher(policy, self._counters)
            self._sync_canary()
            return policy

    def measured(self, algorithm: str | None = None) -> None:
        """Measure the versions stored without holdout metrics (the seeded ones are measured
        when first asked for), each with its own parameters. A blend is measured with the
        components as they are now."""
        h = self.host
        with h.lock:
            for version_id in self.version_store.unmeasured(algorithm):
                version = self.version_store.version(version_id, params=True)
                model = h.from_version(version)
                events = self.store.events(through_seq=version["trained_through_seq"])
                metrics = holdout_metrics(model, h.holdout, events, h.catalog, h.weights)
                self.version_store.set_metrics(version_id, metrics)

    # -- training -------------------------------------------------------------------------

    def train(
        self,
        algorithm: str | None = None,
        trigger: str = "manual",
        promote: str = "gate",
        *,
        config: dict[str, Any] | None = None,
        during_event: bool = False,
    ) -> dict[str, Any]:
        """Fit a new version on the whole log. `promote`: "always" (it serves at once),
        "gate" (serves if the policy auto-promotes and it passes the gate, else candidate) or
        "never" (candidate). `during_event`: called while an event is being applied, so the
        new state already serves that event's `after` list."""
        h = self.host
        name = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
        with h.lock:
            current = h.model(Served(name))
            spec = ModelSpec(
                name, current.config.to_dict() | (config or {}), current.seed, h.weights
            )
            model = build_model(spec, h.catalog, components=h.production)
            if not config:  # same config: a warm-starting algorithm starts from what it knows
                model.warm_from(current)
            warm = getattr(model.config, "warm_start", False) and not config
            events = self.store.events()
            started = time.perf_counter()
            try:
                model.fit(events, h.catalog)
            except Exception as error:  # the log keeps a failed retrain too
                self._log_update(
                    algorithm=name,
                    update_type="full retrain",
                    trigger=trigger,
                    events=len(events),
                    seconds=time.perf_counter() - started,
                    status="error",
                    error=str(error),
                )
                raise RecsysError(f"retraining {name} failed: {error}") from error
            seconds = time.perf_counter() - started
            metrics = holdout_metrics(model, h.holdout, events, h.catalog, h.weights)
            parent = self.version_store.alias(name, "production")
            version = self.version_store.save_version(
                name,
                model.config.to_dict(),
                model.seed,
                h.last_seq,
                len(events),
                model.state(),
                trigger,
                seconds,
                parent,
                metrics,
            )
            self._log_update(
                algorithm=name,
                update_type="full retrain (warm start)" if warm else "full retrain",
                trigger=trigger,
                events=len(events),
                seconds=seconds,
                version_id=version,
                metrics=metrics,
            )
            # A drift retrain starts the detector over; other retrains must not, or a routine
            # retrain right after a shift would hide it.
            self.watcher.retrained(name, h.last_ts, fresh_detector=trigger == "drift")
            result = {
                "algorithm": name,
                "version": version,
                "events": len(events),
                "seconds": seconds,
                "metrics": metrics,
                "promoted": False,
                "gate": None,
            }
            effective = h.last_seq if during_event else h.last_seq + 1
            actor = "policy" if trigger not in ("manual", "parameters") else "user"
            if promote == "gate" and self.policy.auto_promote:
                result["gate"] = self.gate(version)
                promote = "always" if result["gate"]["passed"] else "never"
            why = result["gate"]["message"] if result["gate"] else f"trained ({trigger})"
            if promote == "always":
                self._move_production(name, version, actor, why, effective, model)
                result["promoted"] = True
            else:
                self._move(name, "candidate", version, actor, why, effective)
                self._sync_canary()
            return result

    def minibatch(self, algorithm: str, trigger: str, during_event: bool = False) -> dict:
        """A light refit of the served model (for MF one warm-started ALS epoch; for the others
        a refit from the log), kept as a checkpoint that starts a new lineage, not a version."""
        h = self.host
        with h.lock:
            served = h.model(Served(algorithm))
            light = served.config.to_dict() | served.minibatch_config()
            spec = ModelSpec(algorithm, light, served.seed, h.weights)
            refit = build_model(spec, h.catalog, components=h.production)
            refit.warm_from(served)
            events = self.store.events()
            started = time.perf_counter()
            refit.fit(events, h.catalog)
            state = refit.state()
            served.load_state(state)  # the served model keeps its own config
            seconds = time.perf_counter() - started
            lineage = h.lineage(Served(algorithm))
            checkpoint = self.version_store.save_checkpoint(
                algorithm,
                "production",
                None,
                h.last_seq,
                served.config.to_dict(),
                served.seed,
                state,
                "mini-batch",
            )
            effective = h.last_seq if during_event else h.last_seq + 1
            self.version_store.start_checkpoint_lineage(
                algorithm,
                "production",
                effective,
                checkpoint,
                lineage["version_id"],
                f"mini-batch ({trigger})",
            )
            h.set_lineage(
                Served(algorithm), self.version_store.lineage_at(algorithm, "production", effective)
            )
            self._log_update(
                algorithm=algorithm,
                update_type="mini-batch",
                trigger=trigger,
                events=len(events),
                seconds=seconds,
                version_id=lineage["version_id"],
            )
            h.cache.clear()
            return {"algorithm": algorithm, "checkpoint": checkpoint, "seconds": seconds}

    # -- aliases --------------------------------------------------------------------------

    def gate(self, version: int) -> dict[str, Any]:
        """Would `version` beat its algorithm's production on the gate metric by the margins?"""
        name = self.version_store.version(version)["algorithm"]
        self.measured(name)
        metric = self.policy.gate_metric
        new = self.version_store.version(version)["metrics"].get(metric)
        production = self.version_store.alias(name, "production")
        old = None
        if production is not None and production != version:
            old = self.version_store.version(production)["metrics"].get(metric)
        has_holdout = bool(len(self.host.holdout))
        return gate_verdict(self.policy, version, new, production, old, has_holdout)

    def promote(self, version: int, *, force: bool = False, actor: str = "user") -> dict:
        h = self.host
        with h.lock:
            target = self.version_store.version(version)
            name = target["algorithm"]
            if self.version_store.alias(name, "production") == version:
                raise RecsysError(f"v{version} is already production for {name}")
            verdict = self.gate(version)
            if not verdict["passed"] and not force:
                raise RecsysError(
                    f"{verdict['message']}; promote anyway with --force (CLI) or the checkbox"
                )
            reason = verdict["message"] if verdict["passed"] else "forced past the gate"
            self._move_production(name, version, actor, reason, h.last_seq + 1)
            return {"algorithm": name, "production": version, "gate": verdict}

    def rollback(
        self,
        algorithm: str | None = None,
        *,
        actor: str = "user",
        reason: str = "rollback",
        during_event: bool = False,
    ) -> dict:
        """Serve the previous production again (its parameters, then the events since)."""
        h = self.host
        name = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
        with h.lock:
            current = self.version_store.alias(name, "production")
            previous = self.version_store.previous_production(name)
            if previous is None:
                raise RecsysError(
                    f"{name} has no previous production version to roll back to "
                    f"(production is v{current})"
                )
            effective = h.last_seq if during_event else h.last_seq + 1
            self._move_production(name, previous, actor, reason, effective, kind="rollback")
            return {"algorithm": name, "production": previous, "was": current}

    def delete(self, version: int) -> None:
        h = self.host
        with h.lock:
            target = self.version_store.version(version)
            name = target["algorithm"]
            if self.version_store.alias(name, "production") == version:
                raise RecsysError(
                    f"v{version} is production for {name}: promote or roll back "
                    "to another version first"
                )
            used = self.experiments.live_versions().get(version)
            if used:
                raise RecsysError(
                    f"v{version} is an arm of live experiment {used!r}; time travel and the "
                    "experiment need it, so it stays"
                )
            if self.version_store.alias(name, "candidate") == version:
                self._move(name, "candidate", None, "user", f"v{version} deleted", h.last_seq + 1)
            self.version_store.delete_version(version)
            self._sync_canary()

    def _move_production(
        self,
        name: str,
        version: int,
        actor: str,
        reason: str,
        effective: int,
        model: Recommender | None = None,
        kind: str = "promotion",
    ) -> None:
        h = self.host
        if self.version_store.alias(name, "candidate") == version:
            self._move(name, "candidate", None, actor, f"became production ({kind})", effective)
        self._move(name, "production", version, actor, f"{kind}: {reason}", effective)
        h.install(Served(name), model)
        self.watcher.promoted(name)
        self._sync_canary()

    # -- policies -------------------------------------------------------------------------

    def observe(
        self, algorithm: str, arm: str, kind: str, value, ts: float, context: dict | None = None
    ) -> list[dict]:
        """Run what the policies ask for after an event; returns what was done."""
        done = []
        for action in self.watcher.observe(algorithm, arm, kind, value, ts, context):
            done.append(self._run(algorithm, action))
        return done

    def _run(self, algorithm: str, action: Action) -> dict:
        """Do what a policy asked for (log an alarm, retrain, refit, roll back) and return a
        record of it; a failure is recorded, never raised: the event is committed."""
        h = self.host
        record = {"kind": action.kind, "trigger": action.trigger, "detail": action.detail}
        try:
            if action.kind == "alarm":
                self.version_store.log_alarm(
                    at_seq=h.last_seq,
                    ts=h.last_ts,
                    algorithm=algorithm,
                    detector=self.policy.drift_detector,
                    statistic=action.statistic or 0.0,
                    details={"detail": action.detail, **self.policy.detector_params()},
                )
            elif action.kind == "retrain":
                record |= self.train(algorithm, action.trigger, "gate", during_event=True)
            elif action.kind == "minibatch":
                record |= self.minibatch(algorithm, action.trigger, during_event=True)
            elif action.kind == "rollback":
                record |= self.rollback(
                    algorithm, actor="policy", reason=action.detail, during_event=True
                )
        except Exception as error:  # the event is committed: report, never a traceback
            record["error"] = str(error)
            if action.kind == "retrain":  # wait for the next N ratings before trying again
                self.watcher.retrained(algorithm, h.last_ts, fresh_detector=False)
        return record

    # -- reading --------------------------------------------------------------------------

    def compare(self, a: int, b: int, users: list[str] | None = None, k: int = 10) -> dict:
        """Metric deltas, config diff, and for sample users the overlap and Kendall's tau of
        the two versions' top-k (each version's parameters as stored, no replay)."""
        if int(a) == int(b):
            raise RecsysError("compare needs two different versions")
        with self.host.lock:  # a blend reads the live components
            for version in (a, b):
                self.measured(self.version_store.version(version)["algorithm"])
            first, second = (self.version_store.version(v, params=True) for v in (a, b))
            models = [self.host.from_version(v) for v in (first, second)]
            return compare_versions(first, second, models, users, k)

    def check_forgettable(self, user: str) -> None:
        """Forgetting a user drops the versions trained after their first event: raises
        `RecsysError` if a live experiment's arm serves one of those."""
        first = self.store.first_live_seq(user)
        if first is None:
            return
        for version, experiment in self.experiments.live_versions().items():
            if self.version_store.version(version)["trained_through_seq"] >= first:
                raise RecsysError(
                    f"live experiment {experiment!r} serves a version trained after {user} "
                    "acted; forgetting them would delete it. Stop the experiment first"
                )

    def live_metrics(self, algorithm: str | None = None) -> pd.DataFrame:
        """Per served version and arm: events, rewards (see `policies.reward`) and their mean,
        likes and mean rating: the canary's live comparison (`measures.live_metrics`)."""
        return live_metrics(self.store.served_events(algorithm))
