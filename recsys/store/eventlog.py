"""The event log: owns the `events`, `users` and `learning_log` tables (their only writer).

`events` is the source of truth; `seq` is assigned by the engine and has no gaps because one
process owns the file (DuckDB's lock) and the engine serialises writers. `learning_log` rows are
derived (what each online update changed) and written in batches. The statements a bulk
operation of `Store` needs (a reset, forgetting a user, a new world) are built here and run by
the store in one transaction with the other repositories' statements.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from recsys.events import Event, EventFrame, shared_text
from recsys.store.connection import Database, Statement

LEARNING_LOG_COLUMNS = (
    "seq",
    "algorithm",
    "user_id",
    "item_id",
    "kind",
    "user_change",
    "item_change",
    "score_before",
    "score_after",
    "duration_ms",
    "details",
)
_FLUSH_EVERY = 256  # learning-log rows queued before they are written


class EventLog:
    """Reads and appends the event log, the users it creates and the learning log."""

    def __init__(self, db: Database):
        self.db = db
        self._pending_log: list[tuple] = []

    # -- events ---------------------------------------------------------------------------

    def max_seq(self) -> int:
        return self.db.query("SELECT coalesce(max(seq), 0) FROM events")[0][0]

    def last_ts(self) -> float:
        return self.db.query("SELECT coalesce(max(ts), 0) FROM events")[0][0]

    def count_events(self, user: str | None = None) -> int:
        """The events in the log (of `user`, when given)."""
        if user is None:
            return self.db.query("SELECT count(*) FROM events")[0][0]
        return self.db.query("SELECT count(*) FROM events WHERE user_id = ?", [user])[0][0]

    def events(
        self, after_seq: int = 0, through_seq: int | None = None, user: str | None = None
    ) -> EventFrame:
        """The events with `after_seq < seq <= through_seq` (of `user`), in seq order."""
        sql = "SELECT seq, ts, user_id, item_id, kind, value, context FROM events WHERE seq > ?"
        params: list[Any] = [after_seq]
        if through_seq is not None:
            sql += " AND seq <= ?"
            params.append(through_seq)
        if user is not None:
            sql += " AND user_id = ?"
            params.append(user)
        table = self.db.arrow(sql + " ORDER BY seq", params)
        column = table.column
        return EventFrame(
            seq=column("seq").to_numpy().astype(np.int64, copy=False),
            ts=column("ts").to_numpy().astype(np.float64, copy=False),
            user=shared_text(column("user_id").to_pandas()),
            item=column("item_id").to_numpy().astype(np.int64),
            kind=shared_text(column("kind").to_pandas()),
            value=column("value").to_numpy().astype(np.float64, copy=False),  # null: NaN
            context=shared_text(column("context").to_pandas()),
        )

    def event(self, seq: int) -> dict[str, Any] | None:
        """One event as a dict (context decoded, `served_by` included), None if there is none."""
        rows = self.db.query(
            "SELECT seq, ts, user_id, item_id, kind, value, context, served_by FROM events "
            "WHERE seq = ?",
            [seq],
        )
        if not rows:
            return None
        keys = ("seq", "ts", "user", "item", "kind", "value", "context", "served_by")
        event = dict(zip(keys, rows[0], strict=True))
        event["context"] = json.loads(event["context"]) if event["context"] else None
        return event

    def served_by(self, user: str) -> dict[int, str | None]:
        """seq -> the model version that served each of the user's events."""
        return dict(
            self.db.query(
                "SELECT seq, served_by FROM events WHERE user_id = ? ORDER BY seq", [user]
            )
        )

    def prediction_errors(self, algorithm: str) -> pd.DataFrame:
        """Predict-then-learn errors of live ratings: the learning log keeps each model's
        prediction of an event before it learned from it (models that predict stars only)."""
        self.flush_learning_log()
        return self.db.frame(
            "SELECT l.seq, e.ts, e.user_id, "
            "json_extract(l.details, '$.error_before')::DOUBLE AS error "
            "FROM learning_log l JOIN events e USING (seq) "
            "WHERE l.algorithm = ? AND e.kind = 'rating' AND e.source <> 'history' "
            "AND json_extract(l.details, '$.error_before') IS NOT NULL ORDER BY l.seq",
            [algorithm],
        )

    def counts_since(self, seq: int, algorithm: str) -> tuple[int, int, float]:
        """Events and ratings after `seq` that `algorithm` served, and the lab time at `seq`
        (where a policy's counters start when the lab opens)."""
        events, ratings = self.db.query(
            "SELECT count(*), count(*) FILTER (kind = 'rating') FROM events "
            "WHERE seq > ? AND served_by LIKE ?",
            [seq, f"{algorithm}:%"],
        )[0]
        ts = self.db.query("SELECT coalesce(max(ts), 0) FROM events WHERE seq <= ?", [seq])[0][0]
        return int(events), int(ratings), float(ts)

    def served_events(self, algorithm: str | None = None) -> pd.DataFrame:
        """Events people made on lists a known model version served (live and simulated)."""
        where, args = ("AND served_by LIKE ?", [f"{algorithm}:%"]) if algorithm else ("", [])
        return self.db.frame(
            "SELECT seq, ts, user_id, item_id, kind, value, context, served_by FROM events "
            f"WHERE served_by IS NOT NULL {where} ORDER BY seq",
            args,
        )

    def user_history(self, user: str, limit: int = 50) -> pd.DataFrame:
        return self.db.frame(
            "SELECT e.seq, e.ts, e.item_id, i.title, e.kind, e.value, e.source FROM events e "
            "JOIN items i USING (item_id) WHERE e.user_id = ? ORDER BY e.seq DESC LIMIT ?",
            [user, limit],
        )

    def first_live_seq(self, user: str) -> int | None:
        """The user's first event after the seeded history (what forgetting them removes)."""
        return self.db.query(
            "SELECT min(seq) FROM events WHERE user_id = ? AND source <> 'history'", [user]
        )[0][0]

    def last_live_seq(self, user: str) -> int | None:
        """The user's newest event after the seeded history (what an undo removes)."""
        return self.db.query(
            "SELECT max(seq) FROM events WHERE user_id = ? AND source <> 'history'", [user]
        )[0][0]

    def last_live_user(self) -> str | None:
        """Who made the newest live event (None before the first one)."""
        rows = self.db.query(
            "SELECT user_id FROM events WHERE source = 'live' ORDER BY seq DESC LIMIT 1"
        )
        return rows[0][0] if rows else None

    def events_per_day(self) -> pd.DataFrame:
        """Live and simulated events per lab day (86,400 s of the lab clock) and kind: columns
        day, kind, n."""
        return self.db.frame(
            "SELECT floor(ts / 86400) AS day, kind, count(*) AS n FROM events "
            "WHERE source <> 'history' GROUP BY ALL ORDER BY day"
        )

    # -- users ----------------------------------------------------------------------------

    def users(self) -> pd.DataFrame:
        return self.db.frame(
            "SELECT user_id, kind, persona, created_seq FROM users ORDER BY created_seq, user_id"
        )

    def user_exists(self, user: str) -> bool:
        return bool(self.db.query("SELECT count(*) FROM users WHERE user_id = ?", [user])[0][0])

    def add_people(self, people: pd.DataFrame) -> int:
        """Add simulated people (user_id, kind, persona, taste, created_seq) that are not users
        yet, in one statement; returns how many were new."""
        before = self.db.query("SELECT count(*) FROM users")[0][0]
        self.db.transaction(
            [
                (
                    "INSERT INTO users BY NAME SELECT * FROM kept_people "
                    "WHERE user_id NOT IN (SELECT user_id FROM users)",
                    None,
                )
            ],
            {"kept_people": people},
        )
        return self.db.query("SELECT count(*) FROM users")[0][0] - before

    # -- learning log ---------------------------------------------------------------------

    def log_learning(self, rows: list[tuple]) -> None:
        """Queue learning-log rows (LEARNING_LOG_COLUMNS); they are written in batches (the event
        log stays the truth, so a crash loses at most the derived rows of the last few events,
        never an event)."""
        with self.db.write_lock:
            self._pending_log.extend(rows)
            if len(self._pending_log) >= _FLUSH_EVERY:
                self.flush_learning_log()

    def flush_learning_log(self) -> None:
        """Write the queued learning-log rows now."""
        with self.db.write_lock:
            if not self._pending_log:
                return
            frame = pd.DataFrame(self._pending_log, columns=list(LEARNING_LOG_COLUMNS))
            self._pending_log = []
            self.db.transaction(
                [("INSERT INTO learning_log SELECT * FROM log_frame", None)],
                frames={"log_frame": frame},
            )

    def drop_learning_log(self) -> None:
        """Forget the queued rows (their events were rolled back)."""
        with self.db.write_lock:
            self._pending_log = []

    def logged_through(self) -> dict[str, int]:
        """algorithm -> the newest seq its learning log has a row for."""
        self.flush_learning_log()
        return dict(self.db.query("SELECT algorithm, max(seq) FROM learning_log GROUP BY ALL"))

    def learning_log(self, user: str | None = None, limit: int = 100) -> pd.DataFrame:
        self.flush_learning_log()
        where, params = ("WHERE user_id = ?", [user]) if user else ("", [])
        return self.db.frame(
            f"SELECT * FROM learning_log {where} ORDER BY seq DESC, algorithm LIMIT ?",
            [*params, limit],
        )


# -- statements for the store's transactions (each function's tables are this module's) ------


_EVENT_COLUMNS = (
    "seq",
    "ts",
    "user_id",
    "item_id",
    "kind",
    "value",
    "context",
    "source",
    "served_by",
    "request_id",
)
_USER_COLUMNS = ("user_id", "kind", "persona", "created_seq")  # a new user has no hidden taste


def append_rows(
    event: Event,
    source: str,
    new_user: tuple[str, str | None] | None,
    served_by: str | None,
    request_id: int | None,
) -> list[tuple[str, tuple[str, ...], list]]:
    """The user row `new_user` = (kind, persona) creates, if any, then the event's row, each
    as (table, columns, values)."""
    context = json.dumps(event.context, sort_keys=True) if event.context else None
    rows: list[tuple[str, tuple[str, ...], list]] = []
    if new_user is not None:
        kind, persona = new_user
        rows.append(("users", _USER_COLUMNS, [event.user, kind, persona, event.seq]))
    row = [event.seq, event.ts, event.user, event.item, event.kind, event.value, context]
    rows.append(("events", _EVENT_COLUMNS, [*row, source, served_by, request_id]))
    return rows


def append_statements(
    event: Event,
    source: str,
    new_user: tuple[str, str | None] | None,
    served_by: str | None,
    request_id: int | None,
) -> list[Statement]:
    """`append_rows` as INSERT statements."""
    return [
        (_INSERT[table].format(", ".join(columns), ", ".join("?" * len(columns))), values)
        for table, columns, values in append_rows(event, source, new_user, served_by, request_id)
    ]


def defer_append(
    db: Database,
    event: Event,
    source: str,
    new_user: tuple[str, str | None] | None,
    served_by: str | None,
) -> None:
    """Queue the rows of `append_rows` in the open batch (`Database.defer`): written as one
    insert per table before the batch's next statement, or at its commit."""
    for table, columns, values in append_rows(event, source, new_user, served_by, None):
        db.defer(_DEFERRED[table], columns, values)


_INSERT = {
    "users": "INSERT INTO users ({}) VALUES ({})",
    "events": "INSERT INTO events ({}) VALUES ({})",
}
_DEFERRED = {
    "users": "INSERT INTO users BY NAME SELECT * FROM deferred_rows",
    "events": "INSERT INTO events BY NAME SELECT * FROM deferred_rows",
}


def clear_statements() -> list[Statement]:
    return [
        ("DELETE FROM users", None),
        ("DELETE FROM events", None),
        ("DELETE FROM learning_log", None),
    ]


def load_statements() -> list[Statement]:
    """Insert the frames registered as `new_users` and `new_events` (a new world)."""
    return [
        ("INSERT INTO users BY NAME SELECT * FROM new_users", None),
        ("INSERT INTO events BY NAME SELECT * FROM new_events", None),
    ]


def truncate_statements(seq: int) -> list[Statement]:
    """Drop every event, user and learning-log row after `seq`."""
    return [
        ("DELETE FROM events WHERE seq > ?", [seq]),
        ("DELETE FROM users WHERE created_seq > ?", [seq]),
        ("DELETE FROM learning_log WHERE seq > ?", [seq]),
    ]


def forget_statements(user: str, first: int) -> list[Statement]:
    """Delete `user`'s live and simulated events from seq `first` on (all of them when `first`
    is their first: a reset; only the newest when it is their newest: an undo) with their
    learning-log rows, and the user row of a lab-made user left with no event, then renumber
    the later events, learning-log rows and users so `seq` stays gap-free."""
    forgotten = "SELECT seq FROM events WHERE user_id = ? AND source <> 'history' AND seq >= ?"
    return [
        (f"DELETE FROM learning_log WHERE seq IN ({forgotten})", [user, first]),
        (f"DELETE FROM events WHERE seq IN ({forgotten})", [user, first]),
        (
            "DELETE FROM users WHERE user_id = ? AND kind NOT IN ('simulated', 'demo', 'imported')"
            " AND NOT EXISTS (SELECT 1 FROM events WHERE user_id = ?)",
            [user, user],
        ),
        (
            "CREATE TEMP TABLE seq_map AS SELECT seq AS old, ? - 1 + row_number() OVER "
            "(ORDER BY seq) AS new FROM events WHERE seq >= ?",
            [first, first],
        ),
        # Through negative numbers, so no two rows ever hold the same key mid-update.
        ("UPDATE events SET seq = -m.new FROM seq_map m WHERE events.seq = m.old", None),
        ("UPDATE events SET seq = -seq WHERE seq < 0", None),
        (
            "UPDATE learning_log SET seq = m.new FROM seq_map m WHERE learning_log.seq = m.old",
            None,
        ),
        ("UPDATE users SET created_seq = m.new FROM seq_map m WHERE created_seq = m.old", None),
        ("DROP TABLE seq_map", None),
    ]
