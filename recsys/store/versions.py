"""Model versions, aliases and the record of how the served models came to be.

Every SQL statement about versions lives here (the store owns the connection and the schema):

- `model_versions`: one row per full retrain: parameters as `.npz` bytes, config, watermark,
  holdout metrics, trigger and parent.
- `aliases` (`production`, `candidate` per algorithm) and `alias_history`, one row per move with
  who moved it and why: the audit trail of which version served when.
- `lineage`: from which seq on a served model (an algorithm's production or candidate arm)
  started from which base (a version, or a checkpoint written by a mini-batch update). With the
  event log it answers "what did the model hold right after event N": load the base, replay
  the events after its watermark through N.
- `checkpoints`: parameter snapshots that only save replay time (on close, after mini-batches).
- `update_log`, `drift_alarms` and `marks` (scenario annotations such as a taste shift).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from recsys.errors import RecsysError
from recsys.store.database import Store, decode_arrays, encode_arrays

_IDS = {
    "version": ("model_versions", "version_id"),
    "lineage": ("lineage", "lineage_id"),
    "checkpoint": ("checkpoints", "checkpoint_id"),
}


class VersionStore:
    def __init__(self, store: Store):
        self.store = store

    def _reserve(self, kind: str, count: int = 1) -> tuple[int, list[tuple[str, list]]]:
        """`count` ids of `kind` that were never used, even by rows since deleted (a reset, a
        forgotten user, a deleted version): a reused id would make `served_by`, the alias
        history or a checkpoint point at the wrong model. Returns the first id and the
        statements that record the reservation, to run in the caller's transaction (under
        the store's write lock)."""
        table, column = _IDS[kind]
        key = f"next {kind} id"
        stored = self.store._query("SELECT value FROM meta WHERE key = ?", [key])
        unused = self.store._query(f"SELECT coalesce(max({column}), 0) + 1 FROM {table}")[0][0]
        first = max(int(stored[0][0]) if stored else 1, unused)
        return first, [
            ("DELETE FROM meta WHERE key = ?", [key]),
            ("INSERT INTO meta VALUES (?, ?)", [key, str(first + count)]),
        ]

    # -- versions -------------------------------------------------------------------------

    def save_version(
        self,
        algorithm: str,
        config: dict,
        seed: int,
        trained_through_seq: int,
        n_events: int,
        params: dict[str, np.ndarray],
        trigger: str,
        fit_seconds: float | None,
        parent: int | None = None,
        metrics: dict[str, float | None] | None = None,
    ) -> int:
        row = (algorithm, config, seed, trained_through_seq, n_events, params, trigger)
        with self.store._write_lock:
            version_id, statements = self.new_versions([(*row, fit_seconds, parent, metrics)])
            self.store._transaction(statements)
            return version_id

    def new_versions(self, rows: list[tuple]) -> tuple[int, list[tuple[str, list]]]:
        """The statements that store `rows` (save_version's arguments, in order) as versions
        with fresh ids, for the caller's transaction (under the store's write lock); returns
        the first id with them."""
        first, statements = self._reserve("version", len(rows))
        for offset, row in enumerate(rows):
            algorithm, config, seed, through, n_events, params, trigger, seconds = row[:8]
            parent, metrics = row[8:]
            statements.append(
                (
                    "INSERT INTO model_versions BY NAME SELECT ? AS version_id, "
                    "? AS algorithm, ? AS config, ? AS seed, ? AS trained_through_seq, "
                    "? AS n_events, ? AS params, ? AS trigger, ? AS fit_seconds, "
                    "? AS created_at, ? AS parent_version, ? AS metrics",
                    [
                        first + offset,
                        algorithm,
                        json.dumps(config, sort_keys=True),
                        seed,
                        through,
                        n_events,
                        encode_arrays(params),
                        trigger,
                        seconds,
                        _now(),
                        parent,
                        json.dumps(metrics or {}, sort_keys=True),
                    ],
                )
            )
        return first, statements

    def version(self, version_id: int, params: bool = False) -> dict[str, Any]:
        """One version as a dict; an unknown id is a RecsysError naming the known ones."""
        rows = self.store._query(
            "SELECT version_id, algorithm, config, seed, trained_through_seq, n_events, trigger, "
            "fit_seconds, created_at, parent_version, metrics"
            + (", params" if params else "")
            + " FROM model_versions WHERE version_id = ?",
            [int(version_id)],
        )
        if not rows:
            newest = self.store._query(
                "SELECT version_id FROM model_versions ORDER BY version_id DESC LIMIT 8"
            )
            known = ", ".join(f"v{r[0]}" for r in newest) or "none yet"
            raise RecsysError(f"unknown version {version_id}; the newest are {known}")
        row = rows[0]
        version = {
            "version_id": row[0],
            "algorithm": row[1],
            "config": json.loads(row[2]),
            "seed": row[3],
            "trained_through_seq": row[4],
            "n_events": row[5],
            "trigger": row[6],
            "fit_seconds": row[7],
            "created_at": row[8],
            "parent_version": row[9],
            "metrics": json.loads(row[10] or "{}"),
        }
        if params:
            version["params"] = decode_arrays(row[11])
        return version

    def versions(self, algorithm: str | None = None) -> pd.DataFrame:
        """Every version (newest first) with its aliases and metrics as columns."""
        where, args = ("WHERE v.algorithm = ?", [algorithm]) if algorithm else ("", [])
        frame = self.store._frame(
            "SELECT v.version_id, v.algorithm, "
            "coalesce(string_agg(a.alias, ', ' ORDER BY a.alias), '') AS aliases, v.trigger, "
            "v.parent_version, v.trained_through_seq, v.n_events, v.fit_seconds, v.created_at, "
            f"v.config, v.metrics FROM model_versions v LEFT JOIN aliases a USING (version_id) "
            f"{where} GROUP BY ALL ORDER BY v.version_id DESC",
            args,
        )
        metrics = pd.DataFrame([json.loads(m or "{}") for m in frame.pop("metrics")])
        return pd.concat([frame, metrics], axis=1)

    def set_metrics(self, version_id: int, metrics: dict[str, float | None]) -> None:
        self.store._transaction(
            [
                (
                    "UPDATE model_versions SET metrics = ? WHERE version_id = ?",
                    [json.dumps(metrics, sort_keys=True), version_id],
                )
            ]
        )

    def unmeasured(self, algorithm: str | None = None) -> list[int]:
        where, args = ("AND algorithm = ?", [algorithm]) if algorithm else ("", [])
        return [
            r[0]
            for r in self.store._query(
                "SELECT version_id FROM model_versions "
                f"WHERE coalesce(metrics, '{{}}') = '{{}}' {where} ORDER BY version_id",
                args,
            )
        ]

    def latest_version_id(self, algorithm: str) -> int | None:
        return self.store._query(
            "SELECT max(version_id) FROM model_versions WHERE algorithm = ?", [algorithm]
        )[0][0]

    def delete_version(self, version_id: int) -> None:
        """Remove a version from the registry. Lineages it served keep a checkpoint copy of
        its parameters, so time travel through the period it served still works."""
        with self.store._write_lock:
            served = self.store._query(
                "SELECT lineage_id, arm FROM lineage WHERE version_id = ? "
                "AND checkpoint_id IS NULL",
                [version_id],
            )
            first, keep = self._reserve("checkpoint", len(served))
            for offset, (lineage_id, arm) in enumerate(served):
                checkpoint_id = first + offset
                keep += [
                    (
                        "INSERT INTO checkpoints SELECT ?, algorithm, ?, ?, trained_through_seq, "
                        "config, seed, params, ?, ? FROM model_versions WHERE version_id = ?",
                        [
                            checkpoint_id,
                            arm,
                            lineage_id,
                            f"kept from deleted v{version_id}",
                            _now(),
                            version_id,
                        ],
                    ),
                    (
                        "UPDATE lineage SET checkpoint_id = ? WHERE lineage_id = ?",
                        [checkpoint_id, lineage_id],
                    ),
                ]
            self.store._transaction(
                [
                    *keep,
                    ("DELETE FROM aliases WHERE version_id = ?", [version_id]),
                    ("DELETE FROM model_versions WHERE version_id = ?", [version_id]),
                ]
            )

    # -- aliases and lineage --------------------------------------------------------------

    def alias(self, algorithm: str, alias: str) -> int | None:
        rows = self.store._query(
            "SELECT version_id FROM aliases WHERE algorithm = ? AND alias = ?", [algorithm, alias]
        )
        return rows[0][0] if rows else None

    def move_alias(
        self,
        algorithm: str,
        alias: str,
        version_id: int | None,
        *,
        actor: str,
        reason: str,
        at_seq: int,
        ts: float,
        effective_seq: int,
    ) -> None:
        """Point `alias` at a version (None removes it), write the move to the history and,
        for a version, start a lineage at `effective_seq` in the same transaction."""
        with self.store._write_lock:  # the id reservation and the insert belong together
            previous = self.alias(algorithm, alias)
            statements: list[tuple[str, list | None]] = [
                ("DELETE FROM aliases WHERE algorithm = ? AND alias = ?", [algorithm, alias]),
                (
                    "INSERT INTO alias_history SELECT coalesce(max(move_id), 0) + 1, "
                    "?, ?, ?, ?, ?, ?, ?, ?, ? FROM alias_history",
                    [_now(), at_seq, ts, algorithm, alias, previous, version_id, actor, reason],
                ),
            ]
            if version_id is not None:
                lineage_id, reserve = self._reserve("lineage")
                statements += [
                    *reserve,
                    ("INSERT INTO aliases VALUES (?, ?, ?)", [algorithm, alias, version_id]),
                    (
                        "INSERT INTO lineage VALUES (?, ?, ?, ?, ?, NULL, ?)",
                        [lineage_id, algorithm, alias, effective_seq, version_id, reason],
                    ),
                ]
            self.store._transaction(statements)

    def aliases(self) -> pd.DataFrame:
        return self.store._frame("SELECT * FROM aliases ORDER BY algorithm, alias")

    def alias_history(self, algorithm: str | None = None) -> pd.DataFrame:
        where, args = ("WHERE algorithm = ?", [algorithm]) if algorithm else ("", [])
        return self.store._frame(f"SELECT * FROM alias_history {where} ORDER BY move_id DESC", args)

    def previous_production(self, algorithm: str) -> int | None:
        """What a rollback returns to: promotions push onto a stack of productions and
        rollbacks pop it, so rolling back twice walks further back instead of toggling between
        two versions. Deleted versions are skipped."""
        moves = self.store._query(
            "SELECT to_version, reason FROM alias_history WHERE algorithm = ? "
            "AND alias = 'production' AND to_version IS NOT NULL ORDER BY move_id",
            [algorithm],
        )
        stack: list[int] = []
        for version, reason in moves:
            if reason.startswith("rollback") and version in stack:
                last = len(stack) - 1 - stack[::-1].index(version)
                del stack[last + 1 :]
            else:
                stack.append(version)
        existing = {
            r[0]
            for r in self.store._query(
                "SELECT version_id FROM model_versions WHERE algorithm = ?", [algorithm]
            )
        }
        current = self.alias(algorithm, "production")
        earlier = [v for v in stack[:-1] if v in existing and v != current]
        return earlier[-1] if earlier else None

    def start_checkpoint_lineage(
        self,
        algorithm: str,
        arm: str,
        effective_seq: int,
        checkpoint_id: int,
        version_id: int,
        reason: str,
    ) -> int:
        with self.store._write_lock:
            lineage_id, reserve = self._reserve("lineage")
            self.store._transaction(
                [
                    *reserve,
                    (
                        "INSERT INTO lineage VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [
                            lineage_id,
                            algorithm,
                            arm,
                            effective_seq,
                            version_id,
                            checkpoint_id,
                            reason,
                        ],
                    ),
                    (
                        "UPDATE checkpoints SET lineage_id = ? WHERE checkpoint_id = ?",
                        [lineage_id, checkpoint_id],
                    ),
                ]
            )
            return lineage_id

    def lineage_at(self, algorithm: str, arm: str, seq: int) -> dict[str, Any] | None:
        """The lineage that served `algorithm`'s `arm` when event `seq` was applied."""
        rows = self.store._query(
            "SELECT lineage_id, version_id, checkpoint_id, effective_seq FROM lineage "
            "WHERE algorithm = ? AND arm = ? AND effective_seq <= ? "
            "ORDER BY effective_seq DESC, lineage_id DESC LIMIT 1",
            [algorithm, arm, seq],
        )
        if not rows:
            return None
        lineage_id, version_id, checkpoint_id, effective = rows[0]
        return {
            "lineage_id": lineage_id,
            "version_id": version_id,
            "checkpoint_id": checkpoint_id,
            "effective_seq": effective,
        }

    def first_lineage_seq(self, algorithm: str) -> int | None:
        return self.store._query(
            "SELECT min(effective_seq) FROM lineage WHERE algorithm = ?", [algorithm]
        )[0][0]

    # -- checkpoints ----------------------------------------------------------------------

    def save_checkpoint(
        self,
        algorithm: str,
        arm: str,
        lineage_id: int | None,
        through_seq: int,
        config: dict,
        seed: int,
        params: dict[str, np.ndarray],
        reason: str,
    ) -> int:
        store = self.store
        with store._write_lock:
            checkpoint_id, reserve = self._reserve("checkpoint")
            store._transaction(
                [
                    *reserve,
                    (
                        "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            checkpoint_id,
                            algorithm,
                            arm,
                            lineage_id,
                            through_seq,
                            json.dumps(config, sort_keys=True),
                            seed,
                            encode_arrays(params),
                            reason,
                            _now(),
                        ],
                    ),
                ]
            )
            return checkpoint_id

    def base_state(self, lineage: dict[str, Any], seq: int) -> dict[str, Any]:
        """The newest saved state of a lineage at or before `seq`: a checkpoint of it, else its
        base (version or checkpoint). Returns config, seed, through_seq and params."""
        rows = self.store._query(
            "SELECT c.config, c.seed, c.through_seq, c.params FROM checkpoints c "
            "JOIN lineage l USING (lineage_id) WHERE c.lineage_id = ? AND c.through_seq <= ? "
            "AND c.algorithm = l.algorithm AND c.arm = l.arm "
            "ORDER BY c.through_seq DESC, c.checkpoint_id DESC LIMIT 1",
            [lineage["lineage_id"], seq],
        )
        if not rows and lineage["checkpoint_id"] is not None:
            rows = self.store._query(
                "SELECT config, seed, through_seq, params FROM checkpoints WHERE checkpoint_id = ?",
                [lineage["checkpoint_id"]],
            )
        if not rows:
            rows = self.store._query(
                "SELECT config, seed, trained_through_seq, params FROM model_versions "
                "WHERE version_id = ?",
                [lineage["version_id"]],
            )
        if not rows:
            raise RecsysError(
                f"the model state for lineage {lineage['lineage_id']} is gone "
                "(its version was deleted); rebuild with `retrain`"
            )
        config, seed, through, params = rows[0]
        return {
            "config": json.loads(config),
            "seed": seed,
            "through_seq": through,
            "params": decode_arrays(params),
        }

    # -- update log, drift alarms, marks ----------------------------------------------------

    def log_update(
        self,
        *,
        at_seq: int,
        ts: float,
        algorithm: str,
        update_type: str,
        trigger: str,
        events: int,
        seconds: float,
        status: str = "ok",
        error: str | None = None,
        version_id: int | None = None,
        metrics: dict | None = None,
    ) -> None:
        self.store._transaction(
            [
                (
                    "INSERT INTO update_log SELECT coalesce(max(update_id), 0) + 1, ?, ?, ?, ?, ?, "
                    "?, ?, ?, ?, ?, ?, ? FROM update_log",
                    [
                        _now(),
                        at_seq,
                        ts,
                        algorithm,
                        update_type,
                        trigger,
                        events,
                        seconds,
                        status,
                        error,
                        version_id,
                        json.dumps(metrics or {}, sort_keys=True),
                    ],
                )
            ]
        )

    def last_update(self, algorithm: str, full: bool) -> tuple[int, float] | None:
        """(at_seq, ts) of the algorithm's newest full retrain (`full`) or any update."""
        kind = "AND update_type <> 'mini-batch'" if full else ""
        rows = self.store._query(
            f"SELECT at_seq, ts FROM update_log WHERE algorithm = ? AND status = 'ok' {kind} "
            "ORDER BY update_id DESC LIMIT 1",
            [algorithm],
        )
        return rows[0] if rows else None

    def updates(self, algorithm: str | None = None, limit: int = 1000) -> pd.DataFrame:
        where, args = ("WHERE algorithm = ?", [algorithm]) if algorithm else ("", [])
        return self.store._frame(
            f"SELECT * FROM update_log {where} ORDER BY update_id DESC LIMIT ?", [*args, limit]
        )

    def log_alarm(
        self,
        *,
        at_seq: int,
        ts: float,
        algorithm: str,
        detector: str,
        statistic: float,
        details: dict,
    ) -> None:
        self.store._transaction(
            [
                (
                    "INSERT INTO drift_alarms SELECT coalesce(max(alarm_id), 0) + 1, ?, ?, ?, ?, "
                    "?, ?, ? FROM drift_alarms",
                    [
                        _now(),
                        at_seq,
                        ts,
                        algorithm,
                        detector,
                        statistic,
                        json.dumps(details, sort_keys=True),
                    ],
                )
            ]
        )

    def alarms(self) -> pd.DataFrame:
        return self.store._frame("SELECT * FROM drift_alarms ORDER BY alarm_id")

    def add_mark(self, *, at_seq: int, ts: float, kind: str, details: dict) -> None:
        self.store._transaction(
            [
                (
                    "INSERT INTO marks SELECT coalesce(max(mark_id), 0) + 1, ?, ?, ?, ? FROM marks",
                    [at_seq, ts, kind, json.dumps(details, sort_keys=True)],
                )
            ]
        )

    def marks(self, kind: str | None = None) -> pd.DataFrame:
        where, args = ("WHERE kind = ?", [kind]) if kind else ("", [])
        return self.store._frame(f"SELECT * FROM marks {where} ORDER BY mark_id", args)


TIMELINE_KINDS = (
    "interaction",
    "online update",
    "retrain",
    "mini-batch",
    "promotion",
    "candidate",
    "rollback",
    "drift alarm",
    "taste shift",
)

PER_EVENT_KINDS = ("interaction", "online update")

# One row per thing that happened, newest first. Live and simulated events only: the seeded
# history is the world's past, not something the lab did.
_TIMELINE = """
SELECT * FROM (
    SELECT e.seq, e.ts, 'interaction' AS kind, e.user_id,
        split_part(e.served_by, ':', 1) AS algorithm,
        e.kind || coalesce(' ' || e.value::VARCHAR || '★', '') || ' · ' || i.title
            || coalesce(' · served by ' || e.served_by, '') AS what
    FROM events e JOIN items i USING (item_id) WHERE e.source <> 'history'
    UNION ALL
    SELECT l.seq, e.ts, 'online update', l.user_id, l.algorithm,
        'user vector moved ' || round(coalesce(l.user_change, 0), 4)
            || ', item ' || round(coalesce(l.item_change, 0), 4)
            || coalesce(', score ' || round(l.score_before, 3) || ' → '
                || round(l.score_after, 3), '')
            || ' (' || round(l.duration_ms, 2) || ' ms)'
    FROM learning_log l JOIN events e USING (seq) WHERE e.source <> 'history'
    UNION ALL
    SELECT at_seq, ts, CASE WHEN update_type = 'mini-batch' THEN 'mini-batch' ELSE 'retrain' END,
        NULL, algorithm,
        update_type || ' (' || trigger || '): ' || events || ' events in '
            || round(seconds, 2) || ' s' || coalesce(' → v' || version_id, '')
            || CASE WHEN status <> 'ok' THEN ' FAILED: ' || coalesce(error, '') ELSE '' END
    FROM update_log
    UNION ALL
    SELECT at_seq, ts,
        CASE WHEN alias = 'candidate' THEN 'candidate'
             WHEN reason LIKE 'rollback%' THEN 'rollback' ELSE 'promotion' END,
        NULL, algorithm,
        alias || ': ' || coalesce('v' || from_version, '–') || ' → '
            || coalesce('v' || to_version, '–') || ' by ' || actor || ' · ' || reason
    FROM alias_history
    UNION ALL
    SELECT at_seq, ts, 'drift alarm', NULL, algorithm,
        detector || ' fired (statistic ' || round(statistic, 2) || ')'
            || coalesce(': ' || json_extract_string(details, '$.detail'), '')
    FROM drift_alarms
    UNION ALL
    SELECT at_seq, ts, kind, NULL, NULL, details FROM marks
)
WHERE (?::VARCHAR IS NULL OR user_id = ? OR user_id IS NULL)
    AND list_contains(?::VARCHAR[], kind) AND seq BETWEEN ? AND ?
ORDER BY seq DESC, kind LIMIT ?
"""


def timeline(
    store: Store,
    user: str | None = None,
    kinds: tuple[str, ...] | list[str] = TIMELINE_KINDS,
    first_seq: int = 0,
    last_seq: int | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """What happened, newest first: interactions, online updates, retrains, alias moves,
    drift alarms and scenario marks. With `user`, that user's rows and the lab-wide ones.
    `limit` caps the per-event rows (interactions, online updates); the rarer model-level rows
    of the range are always all there, so a long session does not hide its retrains."""
    unknown = sorted(set(kinds) - set(TIMELINE_KINDS))
    if unknown:
        raise RecsysError(f"unknown kind {unknown[0]!r}; choose from {', '.join(TIMELINE_KINDS)}")
    store.flush_learning_log()
    last = last_seq if last_seq is not None else 2**62
    frequent = [k for k in kinds if k in PER_EVENT_KINDS]
    rare = [k for k in kinds if k not in PER_EVENT_KINDS]
    parts = [
        store._frame(_TIMELINE, [user, user, group, first_seq, last, cap])
        for group, cap in ((frequent, limit), (rare, 100_000))
    ]
    frame = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    return frame.sort_values(["seq", "kind"], ascending=[False, True], ignore_index=True)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
