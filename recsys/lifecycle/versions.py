"""The model lifecycle: train versions, gate and promote them, roll back, canary, compare.

A version is trained on the whole event log (warm-started when a policy asks), measured on the
world's fixed holdout with its own parameters, stored, and pointed at by the `candidate` or
`production` alias. Promotion replaces the served model with the version's parameters plus an
online replay of the events after its trained_through_seq; rollback is a promotion of the previous
production. Policies (`recsys.lifecycle.policies`) call the same methods as the pages and the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import pandas as pd

from recsys.algorithms import DEFAULT_ALGORITHM, Recommender, algorithm_class
from recsys.errors import RecsysError
from recsys.experiments.assignment import Experiments
from recsys.hosting import ModelHost, Served
from recsys.lifecycle import canary, jobs
from recsys.lifecycle.background import Retrainer
from recsys.lifecycle.jobs import MINIBATCH, RETRAIN
from recsys.lifecycle.measures import compare_versions, gate_verdict, holdout_metrics, live_metrics
from recsys.lifecycle.policies import Action, Policy, Watcher, counters


class Lifecycle:
    """Versions, aliases and policies of one lab, acting on the served models of `host`.

    `experiments` tells which versions live experiments serve (they must not be deleted);
    `meta` is the lab's meta table, which holds the policy.
    """

    def __init__(
        self,
        host: ModelHost,
        experiments: Experiments,
        meta: dict[str, str],
        retrainer: Retrainer | None = None,
    ):
        self.host, self.store, self.experiments = host, host.store, experiments
        self.retrainer = retrainer
        self.version_store = host.version_store
        self.policy = Policy.load(meta)
        self.watcher = Watcher(self.policy, self._counters)
        # The default algorithm's counters are read now, not in the first event that needs them.
        self.watcher.watch(DEFAULT_ALGORITHM)

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
            with self.store.db.batch():  # the policy and the canary's audit rows together
                self.store.set_meta("policy", json.dumps(policy.to_dict(), sort_keys=True))
                old, new = self.policy.canary_share, policy.canary_share
                canary.record_share_change(self, old, new, "user")
            self.policy = policy
            self.watcher = Watcher(policy, self._counters)
            self._sync_canary()
            return policy

    def measured(
        self, algorithm: str | None = None, keep: Callable[[], bool] = lambda: True
    ) -> None:
        """Measure the versions stored without holdout metrics (the seeded ones are measured
        when first asked for), each with its own parameters. A blend is measured with the
        components as they are now, under the lock (other versions need no lock: a
        background retrain measures them without holding up requests). `keep()` is asked
        under the store's write lock before each write: a background job's measurement is
        dropped once the lab it measured was rebuilt."""
        h = self.host
        for version_id in self.version_store.unmeasured(algorithm):
            version = self.version_store.version(version_id, params=True)
            blend = bool(algorithm_class(version["algorithm"]).components)
            with h.lock if blend else nullcontext():
                model = h.from_version(version)
                events = self.store.events(through_seq=version["trained_through_seq"])
                metrics = holdout_metrics(model, h.holdout, events, h.catalog, h.weights)
            with self.store.db.write_lock:
                if not keep():
                    return
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
        """Fit a new version on the whole log, now. `promote`: "always" (it serves at once),
        "gate" (serves if the policy auto-promotes and it passes the gate, else candidate) or
        "never" (candidate). `during_event`: called while an event is being applied, so the
        new state already serves that event's `after` list. Raises `RecsysError` if the fit
        fails (the update log keeps the failure)."""
        name = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
        with self.host.lock:
            job = jobs.start(self, RETRAIN, name, trigger, promote=promote, config=config)
            jobs.run(self, job)
            # The version, its state, its update-log row and the alias moves in one
            # transaction: a crash leaves no trace of the retrain or all of it (the reserved
            # id aside: it stays unused).
            with self.store.batch():
                return jobs.land(self, job, during_event)

    def minibatch(self, algorithm: str, trigger: str, during_event: bool = False) -> dict:
        """A light refit of the served model (for MF one warm-started ALS epoch; for the others
        a refit from the log), kept as a checkpoint that starts a new lineage, not a version."""
        with self.host.lock:
            job = jobs.start(self, MINIBATCH, algorithm, trigger)
            jobs.run(self, job)
            with self.store.batch():  # the checkpoint, its lineage and its log row: one step
                return jobs.land(self, job, during_event)

    # -- aliases --------------------------------------------------------------------------

    def gate(self, version: int) -> dict[str, Any]:
        """Would `version` beat its algorithm's production on the gate metric by the margins?"""
        name = self.version_store.version(version)["algorithm"]
        self.measured(name)
        metric = self.policy.gate_metric
        new = self.version_store.version(version)["metrics"].get(metric)
        production = self.version_store.alias(name, "production")
        old, against = None, None
        if production is not None and production != version:
            old = self.version_store.version(production)["metrics"].get(metric)
            against = self.label(production)
        has_holdout = bool(len(self.host.holdout))
        return gate_verdict(self.policy, self.label(version), new, against, old, has_holdout)

    def label(self, version: int | None) -> str:
        """How people see version key `version`: its algorithm's number, `v3`."""
        return self.version_store.label_of(version)

    def promote(self, version: int, *, force: bool = False, actor: str = "user") -> dict:
        """Serve version key `version` as its algorithm's production if it passes the gate
        (or `force`). Raises `RecsysError`, changing nothing, if it is production already or
        the gate refuses it. Returns algorithm, production (the key), was, gate."""
        h = self.host
        with h.lock:
            target = self.version_store.version(version)
            name = target["algorithm"]
            current = self.version_store.alias(name, "production")
            if current == version:
                raise RecsysError(f"{self.label(version)} is already production for {name}")
            verdict = self.gate(version)
            if not verdict["passed"] and not force:
                raise RecsysError(
                    f"{verdict['message']}: {self.label(version)} was not promoted and "
                    f"{self.label(current)} still serves {name}; promote anyway with --force "
                    "(CLI) or 'Promote past the gate'"
                )
            reason = verdict["message"] if verdict["passed"] else "forced past the gate"
            self.serve_production(name, version, actor, reason, h.last_seq + 1)
            return {"algorithm": name, "production": version, "was": current, "gate": verdict}

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
                    f"(production is {self.label(current)})"
                )
            effective = h.last_seq if during_event else h.last_seq + 1
            self.serve_production(name, previous, actor, reason, effective, kind="rollback")
            return {
                "algorithm": name,
                "production": previous,
                "was": current,
                "label": self.label(previous),
                "was_label": self.label(current),
            }

    def delete(self, version: int) -> None:
        h = self.host
        with h.lock:
            target = self.version_store.version(version)
            name = target["algorithm"]
            if self.version_store.alias(name, "production") == version:
                raise RecsysError(
                    f"{self.label(version)} is production for {name}: promote or roll back "
                    "to another version first"
                )
            used = self.experiments.live_versions().get(version)
            if used:
                raise RecsysError(
                    f"{self.label(version)} is an arm of live experiment {used!r}; time travel "
                    "and the experiment need it, so it stays"
                )
            if self.version_store.alias(name, "candidate") == version:
                deleted = f"{self.label(version)} deleted"
                self._move(name, "candidate", None, "user", deleted, h.last_seq + 1)
            self.version_store.delete_version(version)
            self._sync_canary()

    def serve_candidate(self, name: str, version: int, actor: str, reason: str, effective: int):
        """Point `name`'s candidate alias at `version` from seq `effective` on. While a canary
        runs, the new candidate takes its share: that change is in the audit trail too."""
        before, share = self.version_store.alias(name, "candidate"), self.policy.canary_share
        self._move(name, "candidate", version, actor, reason, effective)
        if share > 0 and before != version:
            h, label = self.host, self.label(version)
            why = f"canary moved to {label}, the new candidate, at {share:g} % ({reason})"
            if before is None:
                why = f"canary set: {label}, the new candidate, serves {share:g} % ({reason})"
            self.version_store.record_canary(
                name, before, version, actor=actor, reason=why, at_seq=h.last_seq, ts=h.last_ts
            )
        self._sync_canary()

    def serve_production(
        self,
        name: str,
        version: int,
        actor: str,
        reason: str,
        effective: int,
        model: Recommender | None = None,
        kind: str = "promotion",
    ) -> None:
        """Point `name`'s production alias at `version` from seq `effective` on and serve
        `model` (already up to date with the log), or else the version plus a replay."""
        h = self.host
        with self.store.batch():  # every move (and the canary's end) or none, across a crash too
            if self.version_store.alias(name, "candidate") == version:
                if self.policy.canary_share > 0:
                    ended = f"canary ended: {self.label(version)} became production ({kind})"
                    self.version_store.record_canary(
                        name,
                        version,
                        None,
                        actor=actor,
                        reason=ended,
                        at_seq=h.last_seq,
                        ts=h.last_ts,
                    )
                why = f"became production ({kind})"
                self._move(name, "candidate", None, actor, why, effective)
            self._move(name, "production", version, actor, f"{kind}: {reason}", effective)
        h.install(Served(name), model)
        self.watcher.promoted(name)
        self._sync_canary()

    # -- the canary -----------------------------------------------------------------------

    def set_canary(self, algorithm: str, version: int, share: float, actor: str = "user") -> dict:
        """Serve version key `version` of `algorithm` to `share` percent of its users, beside
        production, recorded in the alias history (`canary.set_canary`)."""
        return canary.set_canary(self, algorithm, version, share, actor)

    def clear_canary(self, algorithm: str, actor: str = "user") -> dict:
        """Stop `algorithm`'s canary: production serves all its users (`canary.clear_canary`)."""
        return canary.clear_canary(self, algorithm, actor)

    def canary_status(self, algorithm: str) -> dict:
        """The canary of `algorithm` and the live metrics of what each side served."""
        return canary.canary_status(self, algorithm)

    # -- policies -------------------------------------------------------------------------

    def observe(
        self, algorithm: str, arm: str, kind: str, value, ts: float, context: dict | None = None
    ) -> list[dict]:
        """Run what the policies ask for after an event; returns what was done."""
        done = []
        for action in self.watcher.observe(algorithm, arm, kind, value, ts, context):
            refit = action.kind in (RETRAIN, MINIBATCH)
            if refit and self._background and self.retrainer.busy(algorithm):
                continue  # one job per algorithm at a time; the policy fires again after it
            done.append(self._run(algorithm, action))
        return done

    def finish_interrupted(self) -> list[dict]:
        """When the lab opens: run the retrain the log's newest event fired, if a crash
        stopped it (the event was committed first; its policy's counters are due). It runs
        as during that event, so the lab gets the version and lineage it would have had."""
        last = self.store.event(self.host.last_seq)
        served = Served.parse(last["served_by"]) if last else None
        if served is None:
            return []
        due = self.watcher.overdue(served.algorithm, last["ts"])
        return [self._run(served.algorithm, due)] if due else []

    @property
    def _background(self) -> bool:
        """Whether a policy's retrain or refit goes to the background worker now."""
        return self.retrainer is not None and self.retrainer.active

    def _run(self, algorithm: str, action: Action) -> dict:
        """Do what a policy asked for (log an alarm, retrain, refit, roll back) and return a
        record of it; a failure is recorded, never raised: the event is committed. With the
        background worker on, a retrain or refit is only started here (`started` is set)."""
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
            elif action.kind in (RETRAIN, MINIBATCH) and self._background:
                kind = action.kind
                job = jobs.start(self, kind, algorithm, action.trigger, action.detail)
                self.retrainer.submit(self, job)
                record |= {"algorithm": algorithm, "started": True, "version": job.version}
                record["gated"] = self.policy.auto_promote
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

    def compare(
        self, a: int, b: int, users: list[str] | None = None, k: int = 10, sample: int = 20
    ) -> dict:
        """Metric deltas, config diff, and for `users` (default: `sample` users both know) the
        overlap and Kendall's tau of the two versions' top-k (each version's parameters as
        stored, no replay). RecsysError for an unknown version, before anything is measured."""
        if int(a) == int(b):
            raise RecsysError("compare needs two different versions")
        algorithms = [self.version_store.version(v)["algorithm"] for v in (a, b)]
        with self.host.lock:  # a blend reads the live components
            for algorithm in algorithms:
                self.measured(algorithm)
            first, second = (self.version_store.version(v, params=True) for v in (a, b))
            models = [self.host.from_version(v) for v in (first, second)]
            return compare_versions(first, second, models, users, k, sample)

    def live_metrics(self, algorithm: str | None = None) -> pd.DataFrame:
        """Per served version and arm: events, rewards (see `policies.reward`) and their mean,
        likes and mean rating: the canary's live comparison (`measures.live_metrics`)."""
        return live_metrics(self.store.served_events(algorithm))
