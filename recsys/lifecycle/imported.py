"""A version whose parameters were trained outside the lab (Spark MLlib's ALS): built from the
factors, measured on the holdout like a retrain, and stored with its update-log row in one
transaction. It moves no alias: it is compared, A/B tested, canaried and promoted like any
other version (`python -m recsys versions import-factors`, docs/spark.md)."""

from __future__ import annotations

import math
from typing import Any

from recsys.algorithms import ModelSpec, build_model
from recsys.algorithms.mf_factors import Factors, imported_state
from recsys.errors import RecsysError
from recsys.hosting import Served
from recsys.lifecycle.measures import holdout_metrics

IMPORTED = "imported factors"  # the update log's update_type
CHECK_TOLERANCE = 1e-4  # Spark predicts in float32: its dot product rounds at about 1e-6


def import_version(
    life,
    algorithm: str,
    factors: Factors,
    through: int,
    trigger: str,
    fit_seconds: float | None = None,
    checks: list[tuple[str, int, float]] = (),
    log: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store `factors` (trained on the log through seq `through`) as a new version of
    `algorithm` with `trigger` as its lineage. `checks`: (user, item row, prediction) that the
    version must reproduce within `CHECK_TOLERANCE` (relative to the prediction past 1).
    `log`: the events and fingerprint of the export they were trained on (`spark-train`'s
    manifest), which this lab's log up to `through` must match (`Store.log_identity`).
    Returns version (key), number, label, events and metrics. Raises `RecsysError`, storing
    nothing, if `through` is past the log, the log differs or a check fails."""
    h = life.host
    with h.lock:
        if through > h.last_seq:
            raise RecsysError(
                f"the factors were trained through seq {through:,}, but this lab's log ends "
                f"at {h.last_seq:,}: they come from another lab's export"
            )
        have = life.store.log_identity(through) if log is not None else None
        if have is not None and have != {k: log[k] for k in have}:
            differs = (
                "fingerprint differs"
                if have["events"] == log["events"]
                else f"this lab has {have['events']:,}"
            )
            raise RecsysError(
                f"these factors were trained on another lab's log ({log['events']:,} events up "
                f"to seq {through:,}, {differs}): import them into the lab they were exported from"
            )
        served = h.model(Served(algorithm))
        config = served.config.to_dict() | {"factors": factors.rank}
        spec = ModelSpec(algorithm, config, served.seed, h.weights)
        events = life.store.events(through_seq=through)
        state = imported_state(spec, h.catalog, events, factors)
        model = build_model(spec, h.catalog, state)
        for user, item, prediction in checks:
            score = float(model.score(user, [item])[0])
            if not math.isclose(
                score, prediction, rel_tol=CHECK_TOLERANCE, abs_tol=CHECK_TOLERANCE
            ):
                raise RecsysError(
                    f"the imported version scores user {user[:40]!r} and item "
                    f"{h.catalog.titles[item][:40]!r} {score:.6f}, Spark predicted "
                    f"{prediction:.6f}: the factors do not match the lab's ids"
                )
        metrics = holdout_metrics(model, h.holdout, events, h.catalog, h.weights)
        log = {
            "at_seq": h.last_seq,
            "ts": h.last_ts,
            "algorithm": algorithm,
            "update_type": IMPORTED,
            "trigger": trigger,
            "events": len(events),
            "seconds": fit_seconds or 0.0,
        }
        vs = life.version_store
        version = vs.save_version(
            algorithm,
            spec.config,
            spec.seed,
            through,
            len(events),
            state,
            trigger,
            fit_seconds,
            vs.alias(algorithm, "production"),
            metrics,
            log=log,
        )
        return {
            "algorithm": algorithm,
            "version": version,
            "number": vs.number_of(version),
            "label": life.label(version),
            "events": len(events),
            "metrics": metrics,
            "trigger": trigger,
        }
