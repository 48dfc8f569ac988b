"""The lab's model history: owns `update_log`, `drift_alarms` and `marks` (their only writer).

- `update_log`: one row per retrain or mini-batch update (trigger, events, duration, status).
- `drift_alarms`: one row per alarm of a drift detector.
- `marks`: scenario annotations, such as a taste shift.

`timeline` reads these with the event log, the learning log and the alias history: one row per
thing that happened, newest first.
"""

from __future__ import annotations

import json

import pandas as pd

from recsys.errors import RecsysError
from recsys.store.connection import Database, Owner, Statement, now


class HistoryStore:
    def __init__(self, db: Database):
        self.db = db

    def log_update(self, **fields) -> None:
        """Record one model update (`update_statement`'s fields) in its own transaction."""
        self.db.transaction([self.update_statement(**fields)])

    @staticmethod
    def update_statement(
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
    ) -> Statement:
        """The statement recording one model update at event `at_seq` (lab time `ts`),
        `seconds` long, for the caller's transaction."""
        row = [now(), at_seq, ts, algorithm, update_type, trigger, events, seconds, status]
        row += [error, version_id, json.dumps(metrics or {}, sort_keys=True)]
        return (
            "INSERT INTO update_log SELECT coalesce(max(update_id), 0) + 1, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?, ? FROM update_log",
            row,
        )

    def last_update(self, algorithm: str, full: bool) -> tuple[int, float] | None:
        """(at_seq, ts) of the algorithm's newest full retrain (`full`) or any update."""
        kind = "AND update_type <> 'mini-batch'" if full else ""
        rows = self.db.query(
            f"SELECT at_seq, ts FROM update_log WHERE algorithm = ? AND status = 'ok' {kind} "
            "ORDER BY at_seq DESC, update_id DESC LIMIT 1",
            [algorithm],
        )
        return rows[0] if rows else None

    def last_fit_seconds(self, algorithm: str, full: bool) -> float | None:
        """How long the algorithm's newest successful full retrain (`full`) or mini-batch took,
        in seconds (None if it never had one): the estimate behind a running one's progress."""
        kind = "<>" if full else "="
        rows = self.db.query(
            "SELECT seconds FROM update_log WHERE algorithm = ? AND status = 'ok' "
            f"AND update_type {kind} 'mini-batch' ORDER BY update_id DESC LIMIT 1",
            [algorithm],
        )
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def policy_counters(self, algorithm: str) -> dict[str, int | float] | None:
        """Where `algorithm`'s retrain-policy counters stand according to the log: events and
        ratings it served since its last update of any kind (`events`) and since its last full
        update (`ratings`), and the lab times of those updates (`minibatch_ts`,
        `schedule_ts`). Without updates, its production version's training counts as the
        last full update. None if it has no production version.

        Two queries, not one: with the seqs as parameters, DuckDB filters the events on them
        before it reads the other columns (seqs from a subquery do not narrow the scan).
        The old computation took ten queries (`recsys.lifecycle.policies.counters`)."""
        rows = self.db.query(
            "WITH updated AS (SELECT "
            "max(at_seq) FILTER (update_type <> 'mini-batch') AS full_seq, "
            "arg_max(ts, (at_seq, update_id)) FILTER (update_type <> 'mini-batch') AS full_ts, "
            "max(at_seq) AS any_seq, arg_max(ts, (at_seq, update_id)) AS any_ts "
            "FROM update_log WHERE algorithm = $1 AND status = 'ok') "
            "SELECT v.trained_through_seq, u.* FROM aliases a "
            "JOIN model_versions v USING (version_id), updated u "
            "WHERE a.algorithm = $1 AND a.alias = 'production'",
            [algorithm],
        )
        if not rows:
            return None
        through, full_seq, full_ts, any_seq, any_ts = rows[0]
        trained = full_seq is None  # no full update yet: the production version's training
        full_seq = through if trained else full_seq
        any_seq = full_seq if any_seq is None else any_seq
        since = min(any_seq, full_seq)
        events, ratings, trained_ts = self.db.query(
            "SELECT count(*) FILTER (seq > ?), count(*) FILTER (seq > ? AND kind = 'rating'), "
            + ("(SELECT coalesce(max(ts), 0) FROM events WHERE seq <= ?)" if trained else "?")
            + " FROM events WHERE seq > ? AND served_by LIKE ?",
            [any_seq, full_seq, through if trained else None, since, f"{algorithm}:%"],
        )[0]
        full_ts = trained_ts if trained else full_ts
        any_ts = full_ts if any_ts is None else any_ts
        return {
            "events": int(events),
            "ratings": int(ratings),
            "minibatch_ts": float(any_ts),
            "schedule_ts": float(full_ts),
        }

    def updates(self, algorithm: str | None = None, limit: int = 1000) -> pd.DataFrame:
        """The newest `limit` updates, newest first in seq order (a background retrain is
        logged at the seq it was trained through, which may be before a later-written row);
        `version` is the number its algorithm gave the version it made (`version_id` the key)."""
        where, args = ("WHERE u.algorithm = ?", [algorithm]) if algorithm else ("", [])
        return self.db.frame(
            "SELECT u.*, n.number AS version FROM update_log u LEFT JOIN version_numbers n "
            f"ON n.version_id = u.version_id {where} "
            "ORDER BY u.at_seq DESC, u.update_id DESC LIMIT ?",
            [*args, limit],
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
        row = [now(), at_seq, ts, algorithm, detector, statistic]
        self.db.transaction(
            [
                (
                    "INSERT INTO drift_alarms SELECT coalesce(max(alarm_id), 0) + 1, ?, ?, ?, ?, "
                    "?, ?, ? FROM drift_alarms",
                    [*row, json.dumps(details, sort_keys=True)],
                )
            ]
        )

    def alarms(self) -> pd.DataFrame:
        return self.db.frame("SELECT * FROM drift_alarms ORDER BY alarm_id")

    def add_mark(self, *, at_seq: int, ts: float, kind: str, details: dict) -> None:
        self.db.transaction(
            [
                (
                    "INSERT INTO marks SELECT coalesce(max(mark_id), 0) + 1, ?, ?, ?, ? FROM marks",
                    [at_seq, ts, kind, json.dumps(details, sort_keys=True)],
                )
            ]
        )

    def marks(self, kind: str | None = None) -> pd.DataFrame:
        where, args = ("WHERE kind = ?", [kind]) if kind else ("", [])
        return self.db.frame(f"SELECT * FROM marks {where} ORDER BY mark_id", args)


# -- statements for the store's transactions ---------------------------------------------------


def clear_statements() -> list[Statement]:
    return [
        ("DELETE FROM update_log", None),
        ("DELETE FROM drift_alarms", None),
        ("DELETE FROM marks", None),
    ]


def truncate_statements(seq: int) -> list[Statement]:
    """After a reset to `seq` (run after the versions' own statements): drop later rows and the
    updates that made a dropped version."""
    return [
        *_from_seq(">", seq),
        (
            "DELETE FROM update_log WHERE version_id NOT IN (SELECT version_id "
            "FROM model_versions)",
            None,
        ),
    ]


def forget_statements(first: int) -> list[Statement]:
    """When events from `first` on are forgotten: drop the rows from there on."""
    return _from_seq(">=", first)


def _from_seq(op: str, seq: int) -> list[Statement]:
    return [
        (f"DELETE FROM update_log WHERE at_seq {op} ?", [seq]),
        (f"DELETE FROM drift_alarms WHERE at_seq {op} ?", [seq]),
        (f"DELETE FROM marks WHERE at_seq {op} ?", [seq]),
    ]


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

# Within one seq, rows come in the order one caused the next: the event, what the models learned
# from it, a detector's alarm, the retrain it triggered, the alias moves that retrain made, then a
# scenario's mark (set after the event). Rows of one kind keep the order they were written in.
CAUSAL_ORDER = {
    "interaction": 0,
    "online update": 1,
    "drift alarm": 2,
    "retrain": 3,
    "mini-batch": 3,
    "candidate": 4,
    "promotion": 4,
    "rollback": 4,
    "taste shift": 5,
}

# One row per thing that happened, newest first. Live and simulated events only: the seeded
# history is the world's past, not something the lab did.
_TIMELINE = """
SELECT * FROM (
    SELECT e.seq, e.ts, 'interaction' AS kind, e.user_id,
        split_part(e.served_by, ':', 1) AS algorithm, 0 AS stage, 0 AS written,
        e.kind || coalesce(' ' || e.value::VARCHAR || '★', '') || ' · ' || i.title
            || coalesce(' · served by ' || split_part(e.served_by, ':', 1) || ' '
                || CASE WHEN split_part(e.served_by, ':', 2) LIKE 'v%' THEN 'arm'
                    ELSE split_part(e.served_by, ':', 2) END
                || coalesce(' v' || n.number, ''), '') AS what
    FROM events e JOIN items i USING (item_id)
        LEFT JOIN version_numbers n
            ON n.version_id = try_cast(split_part(e.served_by, ':', 3) AS INTEGER)
    WHERE e.source <> 'history'
    UNION ALL
    SELECT l.seq, e.ts, 'online update', l.user_id, l.algorithm, 1, 0,
        'user vector moved ' || round(coalesce(l.user_change, 0), 4)
            || ', item ' || round(coalesce(l.item_change, 0), 4)
            || coalesce(', score ' || round(l.score_before, 3) || ' → '
                || round(l.score_after, 3), '')
            || ' (' || round(l.duration_ms, 2) || ' ms)'
            || coalesce(': held back, '
                || json_extract_string(l.details, '$."held back because"'), '')
    FROM learning_log l JOIN events e USING (seq) WHERE e.source <> 'history'
    UNION ALL
    SELECT at_seq, ts, CASE WHEN update_type = 'mini-batch' THEN 'mini-batch' ELSE 'retrain' END,
        NULL, algorithm, 3, update_id,
        update_type || ' (' || trigger || '): ' || events || ' events in '
            || round(seconds, 2) || ' s' || coalesce(' → v' || n.number, '')
            || CASE WHEN status <> 'ok' THEN ' FAILED: ' || coalesce(error, '') ELSE '' END
    FROM update_log LEFT JOIN version_numbers n USING (version_id, algorithm)
    UNION ALL
    SELECT at_seq, ts,
        CASE WHEN alias IN ('candidate', 'canary') THEN 'candidate'
             WHEN reason LIKE 'rollback%' THEN 'rollback' ELSE 'promotion' END,
        NULL, h.algorithm, 4, move_id,
        alias || ': ' || coalesce('v' || f.number, '–') || ' → '
            || coalesce('v' || t.number, '–') || ' by ' || actor || ' · ' || reason
    FROM alias_history h
        LEFT JOIN version_numbers f ON f.version_id = h.from_version
        LEFT JOIN version_numbers t ON t.version_id = h.to_version
    UNION ALL
    SELECT at_seq, ts, 'drift alarm', NULL, algorithm, 2, alarm_id,
        detector || ' fired (statistic ' || round(statistic, 2) || ')'
            || coalesce(': ' || json_extract_string(details, '$.detail'), '')
    FROM drift_alarms
    UNION ALL
    SELECT at_seq, ts, kind, NULL, NULL, 5, mark_id, details FROM marks
)
WHERE (?::VARCHAR IS NULL OR user_id = ? OR user_id IS NULL)
    AND list_contains(?::VARCHAR[], kind) AND seq BETWEEN ? AND ?
ORDER BY seq DESC, stage, written, algorithm LIMIT ?
"""


def timeline(
    store: Owner,
    user: str | None = None,
    kinds: tuple[str, ...] | list[str] = TIMELINE_KINDS,
    first_seq: int = 0,
    last_seq: int | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """What happened, newest seq first and, within a seq, in the order one row caused the next
    (`CAUSAL_ORDER`: the event, its online updates, a drift alarm, the retrain, the alias moves
    it made): interactions, online updates, retrains, alias moves, drift alarms and scenario
    marks. Columns: seq, ts (lab seconds after the world's epoch), kind, user_id, algorithm,
    what. With `user`, that user's rows and the lab-wide ones.
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
        store.db.frame(_TIMELINE, [user, user, group, first_seq, last, cap])
        for group, cap in ((frequent, limit), (rare, 100_000))
    ]
    frame = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    frame = frame.sort_values(
        ["seq", "stage", "written", "algorithm"],
        ascending=[False, True, True, True],
        ignore_index=True,
        kind="stable",
    )
    return frame.drop(columns=["stage", "written"])
