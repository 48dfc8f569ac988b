"""The DuckDB store: schema, migrations and every SQL statement the engine runs.

One read-write connection per process; every call takes its own cursor (a connection shared
across threads gives wrong answers) and fetches its result completely before returning. The
`events` table is the source of truth; `seq` is assigned here and has no gaps because one process
owns the file (DuckDB's lock) and the engine serialises writers.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from recsys.errors import RecsysError
from recsys.events import Event, EventFrame

SCHEMA_VERSION = 4

# Each entry migrates from version i to i + 1; never edit a released one, append a new one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
    CREATE TABLE items (
        item_id INTEGER PRIMARY KEY,
        title VARCHAR NOT NULL,
        genres VARCHAR[] NOT NULL,
        tags VARCHAR[] NOT NULL,
        year INTEGER,
        region VARCHAR,
        quality DOUBLE NOT NULL,          -- hidden: the simulator's ground truth, never an input
        features DOUBLE[] NOT NULL        -- hidden: taste-space coordinates for ground truth
    );
    CREATE TABLE personas (
        name VARCHAR PRIMARY KEY,
        label VARCHAR NOT NULL,
        description VARCHAR NOT NULL,
        taste DOUBLE[] NOT NULL           -- hidden ground-truth taste vector
    );
    CREATE TABLE users (
        user_id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,            -- simulated | demo | persona | visitor
        persona VARCHAR,
        taste DOUBLE[],                   -- hidden, only for simulated people
        created_seq BIGINT NOT NULL
    );
    CREATE TABLE events (
        seq BIGINT PRIMARY KEY,
        ts DOUBLE NOT NULL,               -- lab clock: seconds since the world's epoch
        user_id VARCHAR NOT NULL,
        item_id INTEGER NOT NULL,
        kind VARCHAR NOT NULL,
        value DOUBLE,
        context VARCHAR,
        source VARCHAR NOT NULL           -- history | live | simulation
    );
    CREATE INDEX events_user ON events (user_id);
    CREATE TABLE learning_log (
        seq BIGINT NOT NULL,
        algorithm VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL,
        item_id INTEGER NOT NULL,
        kind VARCHAR NOT NULL,
        user_change DOUBLE,
        item_change DOUBLE,
        score_before DOUBLE,
        score_after DOUBLE,
        duration_ms DOUBLE NOT NULL,
        details VARCHAR
    );
    CREATE INDEX learning_log_seq ON learning_log (seq);
    CREATE TABLE model_versions (
        version_id INTEGER PRIMARY KEY,
        algorithm VARCHAR NOT NULL,
        config VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        trained_through_seq BIGINT NOT NULL,
        n_events BIGINT NOT NULL,
        params BLOB NOT NULL,             -- np.savez bytes, loaded with allow_pickle=False
        trigger VARCHAR NOT NULL,
        fit_seconds DOUBLE,
        created_at TIMESTAMP NOT NULL
    );
    """,
    # 2: versions with lineage, aliases and their history, checkpoints, update log, drift
    # alarms, scenario marks; each event records which model version served it.
    """
    ALTER TABLE events ADD COLUMN served_by VARCHAR;
    ALTER TABLE model_versions ADD COLUMN parent_version INTEGER;
    ALTER TABLE model_versions ADD COLUMN metrics VARCHAR;
    CREATE TABLE checkpoints (
        checkpoint_id INTEGER PRIMARY KEY,
        algorithm VARCHAR NOT NULL,
        arm VARCHAR NOT NULL,
        lineage_id INTEGER,
        through_seq BIGINT NOT NULL,
        config VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        params BLOB NOT NULL,
        reason VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL
    );
    -- Snapshots taken on close were never versions: they become checkpoints.
    INSERT INTO checkpoints SELECT row_number() OVER (ORDER BY version_id), algorithm,
        'production', NULL, trained_through_seq, config, seed, params, trigger, created_at
        FROM model_versions WHERE trigger IN ('snapshot', 'first-load');
    DELETE FROM model_versions WHERE trigger IN ('snapshot', 'first-load');
    CREATE TABLE aliases (
        algorithm VARCHAR NOT NULL,
        alias VARCHAR NOT NULL,
        version_id INTEGER NOT NULL,
        PRIMARY KEY (algorithm, alias)
    );
    CREATE TABLE alias_history (
        move_id INTEGER PRIMARY KEY,
        created_at TIMESTAMP NOT NULL,
        at_seq BIGINT NOT NULL,
        ts DOUBLE NOT NULL,
        algorithm VARCHAR NOT NULL,
        alias VARCHAR NOT NULL,
        from_version INTEGER,
        to_version INTEGER,
        actor VARCHAR NOT NULL,
        reason VARCHAR NOT NULL
    );
    CREATE TABLE lineage (
        lineage_id INTEGER PRIMARY KEY,
        algorithm VARCHAR NOT NULL,
        arm VARCHAR NOT NULL,
        effective_seq BIGINT NOT NULL,    -- the first event whose `after` this state served
        version_id INTEGER,
        checkpoint_id INTEGER,
        reason VARCHAR NOT NULL
    );
    CREATE TABLE update_log (
        update_id INTEGER PRIMARY KEY,
        created_at TIMESTAMP NOT NULL,
        at_seq BIGINT NOT NULL,
        ts DOUBLE NOT NULL,
        algorithm VARCHAR NOT NULL,
        update_type VARCHAR NOT NULL,
        trigger VARCHAR NOT NULL,
        events BIGINT NOT NULL,
        seconds DOUBLE NOT NULL,
        status VARCHAR NOT NULL,
        error VARCHAR,
        version_id INTEGER,
        metrics VARCHAR
    );
    CREATE TABLE drift_alarms (
        alarm_id INTEGER PRIMARY KEY,
        created_at TIMESTAMP NOT NULL,
        at_seq BIGINT NOT NULL,
        ts DOUBLE NOT NULL,
        algorithm VARCHAR NOT NULL,
        detector VARCHAR NOT NULL,
        statistic DOUBLE,
        details VARCHAR
    );
    CREATE TABLE holdout (
        ts DOUBLE NOT NULL,
        user_id VARCHAR NOT NULL,
        item_id INTEGER NOT NULL,
        kind VARCHAR NOT NULL,
        value DOUBLE,
        context VARCHAR,
        source VARCHAR NOT NULL
    );
    CREATE TABLE marks (
        mark_id INTEGER PRIMARY KEY,
        at_seq BIGINT NOT NULL,
        ts DOUBLE NOT NULL,
        kind VARCHAR NOT NULL,
        details VARCHAR
    );
    """,
    # 3: A/B experiments and every recommendation they showed (impressions). An event on an
    # item of a logged list carries the list's request id, which attributes it to the
    # impression; the impression row keeps the outcome so analysis is one scan.
    """
    ALTER TABLE events ADD COLUMN request_id BIGINT;
    CREATE TABLE experiments (
        experiment_id INTEGER PRIMARY KEY,
        name VARCHAR NOT NULL UNIQUE,
        mode VARCHAR NOT NULL,            -- live | simulated
        status VARCHAR NOT NULL,          -- running | stopped
        arms VARCHAR NOT NULL,            -- JSON [{name, algorithm, version, share}]: control 1st
        slate INTEGER NOT NULL,
        explore DOUBLE NOT NULL,          -- chance that the lead slot shows a random item
        seed INTEGER NOT NULL,
        created_seq BIGINT NOT NULL,
        created_ts DOUBLE NOT NULL,
        stopped_ts DOUBLE,
        created_at TIMESTAMP NOT NULL,
        details VARCHAR                   -- JSON: simulation settings, ground truth per arm
    );
    CREATE TABLE impressions (
        experiment_id INTEGER NOT NULL,
        request_id BIGINT NOT NULL,       -- one list shown to one user
        arm VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL,
        item_id INTEGER NOT NULL,
        position SMALLINT NOT NULL,       -- 1 is the top of the list
        score DOUBLE,
        propensity DOUBLE NOT NULL,       -- P(the arm shows this item here), for off-policy use
        ts DOUBLE NOT NULL,
        at_seq BIGINT NOT NULL,           -- the newest event when it was shown
        clicked BOOLEAN NOT NULL,
        liked BOOLEAN NOT NULL,
        disliked BOOLEAN NOT NULL,
        favorited BOOLEAN NOT NULL,
        rating DOUBLE,
        true_click DOUBLE                 -- simulated: the choice model's pick probability
    );
    CREATE INDEX impressions_request ON impressions (request_id);
    CREATE INDEX impressions_experiment ON impressions (experiment_id);
    """,
    # 4: imported datasets keep each item's own id; saved scenarios (the built-in ones live in
    # recsys/scenarios.py, not here).
    """
    ALTER TABLE items ADD COLUMN external_id VARCHAR;
    CREATE TABLE scenarios (
        name VARCHAR PRIMARY KEY,
        description VARCHAR NOT NULL,
        setup VARCHAR NOT NULL,           -- JSON: world or dataset, configs, policy, experiments
        created_at TIMESTAMP NOT NULL
    );
    """,
]

# What a new world replaces: every table but saved scenarios and the schema record (meta keeps
# its `next ... id` counters, so ids are never reused across worlds either).
WORLD_TABLES = (
    "items",
    "personas",
    "users",
    "events",
    "holdout",
    "learning_log",
    "model_versions",
    "checkpoints",
    "aliases",
    "alias_history",
    "lineage",
    "update_log",
    "drift_alarms",
    "marks",
    "impressions",
    "experiments",
)

# Tables whose rows belong to a point of the event log (column named): reset and forgetting
# a user drop or renumber them with the events.
SEQ_TABLES = {
    "alias_history": "at_seq",
    "lineage": "effective_seq",
    "update_log": "at_seq",
    "drift_alarms": "at_seq",
    "marks": "at_seq",
}

# What `export` writes: name -> (query, query for CSV when it differs). A version's parameters
# are .npz bytes: kept in Parquet (a binary column), left out of CSV, which has no bytes type.
EXPORTS = {
    "events": ("SELECT * FROM events ORDER BY seq", None),
    "impressions": (
        "SELECT * FROM impressions ORDER BY experiment_id, request_id, position",
        None,
    ),
    "learning_log": ("SELECT * FROM learning_log ORDER BY seq, algorithm", None),
    "model_versions": (
        "SELECT * FROM model_versions ORDER BY version_id",
        "SELECT * EXCLUDE (params) FROM model_versions ORDER BY version_id",
    ),
    "experiments": ("SELECT * FROM experiments ORDER BY experiment_id", None),
}
EXPORT_FORMATS = ("parquet", "csv")

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


def _is_lock_error(error: Exception) -> bool:
    return "lock" in str(error).lower()


def encode_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def decode_arrays(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


class Store:
    """Owns the process's single DuckDB connection. Open with `Store.open(path)`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str):
        self._con = con
        self.path = path
        self._write_lock = threading.RLock()
        self._pending_log: list[tuple] = []
        self.closed = False
        self._migrate()

    @classmethod
    def open(cls, path: str | Path) -> Store:
        path = str(path)
        if path != ":memory:":
            parent = Path(path).parent
            if not parent.exists():
                parent.mkdir(parents=True, exist_ok=True)
            if Path(path).is_dir():
                raise RecsysError(f"{path} is a directory; give a database file path")
        try:
            con = duckdb.connect(path)
        except duckdb.IOException as error:
            if _is_lock_error(error):
                raise RecsysError(
                    f"the lab database {path} is open in another process; "
                    "use --db to pick another file or stop the app"
                ) from None
            raise RecsysError(f"cannot open the lab database {path}: {error}") from None
        except duckdb.Error as error:
            raise RecsysError(f"{path} is not a usable DuckDB database: {error}") from None
        return cls(con, path)

    def close(self) -> None:
        """Flush and close; closing twice is harmless."""
        with self._write_lock:
            if self.closed:
                return
            self.flush_learning_log()
            self._con.close()
            self.closed = True

    # -- plumbing -------------------------------------------------------------------------

    def _query(self, sql: str, params: list | None = None) -> list[tuple]:
        cursor = self._con.cursor()
        try:
            return cursor.execute(sql, params).fetchall()
        finally:
            cursor.close()

    def _frame(self, sql: str, params: list | None = None) -> pd.DataFrame:
        # fetchall + DataFrame: for the small results pages ask for, about 2 ms faster than .df()
        cursor = self._con.cursor()
        try:
            rows = cursor.execute(sql, params).fetchall()
            columns = [d[0] for d in cursor.description]
        finally:
            cursor.close()
        return pd.DataFrame(rows, columns=columns)

    def _execute(self, sql: str, params: list | None = None) -> None:
        cursor = self._con.cursor()
        try:
            cursor.execute(sql, params)
            cursor.complete()
        finally:
            cursor.close()

    def _transaction(
        self,
        statements: Iterable[tuple[str, list | None]],
        frames: dict[str, pd.DataFrame] | None = None,
    ) -> None:
        """Run statements in one transaction; `frames` are registered as views for them."""
        with self._write_lock:
            cursor = self._con.cursor()
            try:
                for name, frame in (frames or {}).items():
                    cursor.register(name, frame)
                cursor.execute("BEGIN TRANSACTION")
                for sql, params in statements:
                    cursor.execute(sql, params)
                    cursor.complete()
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.close()

    def _migrate(self) -> None:
        self._execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMP)"
        )
        current = self._query("SELECT coalesce(max(version), 0) FROM schema_version")[0][0]
        if current > SCHEMA_VERSION:
            raise RecsysError(
                f"{self.path} has schema version {current}, newer than this code "
                f"({SCHEMA_VERSION}); update the code or use another --db"
            )
        for version in range(current, SCHEMA_VERSION):
            self._transaction(
                [
                    (MIGRATIONS[version], None),
                    ("INSERT INTO schema_version VALUES (?, ?)", [version + 1, _now()]),
                ]
            )

    def schema_version(self) -> int:
        return self._query("SELECT max(version) FROM schema_version")[0][0]

    # -- meta and world -------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        return dict(self._query("SELECT key, value FROM meta ORDER BY key"))

    def is_empty(self) -> bool:
        return self._query("SELECT count(*) FROM items")[0][0] == 0

    def replace_world(
        self,
        meta: dict[str, str],
        items: pd.DataFrame,
        personas: pd.DataFrame,
        users: pd.DataFrame,
        events: pd.DataFrame,
        holdout: pd.DataFrame,
        then: list[tuple[str, list | None]],
    ) -> None:
        """Swap the whole lab for a new world and run `then` (the seed versions' inserts), all
        in one transaction: if anything fails, the previous lab is untouched."""
        frames = {
            "meta": pd.DataFrame({"key": list(meta), "value": [str(v) for v in meta.values()]}),
            "items": items,
            "personas": personas,
            "users": users,
            "events": events,
            "holdout": holdout,
        }
        inserts = [
            (f"INSERT INTO {table} BY NAME SELECT * FROM new_{table}", None) for table in frames
        ]
        with self._write_lock:
            # The old world's last derived rows: written now, so a swap that fails keeps them.
            self.flush_learning_log()
            self._transaction(
                [
                    ("DELETE FROM meta WHERE key NOT LIKE 'next % id'", None),
                    *((f"DELETE FROM {table}", None) for table in WORLD_TABLES),
                    *inserts,
                    *then,
                ],
                {f"new_{table}": frame for table, frame in frames.items()},
            )

    def items(self) -> pd.DataFrame:
        return self._frame(
            "SELECT item_id, title, genres, tags, year, region, external_id FROM items "
            "ORDER BY item_id"
        )

    def ground_truth(self) -> tuple[np.ndarray, np.ndarray]:
        """Hidden item features and quality, in item order (only the simulator reads these)."""
        rows = self._query("SELECT features, quality FROM items ORDER BY item_id")
        return (
            np.array([r[0] for r in rows], dtype=np.float64),
            np.array([r[1] for r in rows], dtype=np.float64),
        )

    def personas(self) -> pd.DataFrame:
        return self._frame("SELECT name, label, description, taste FROM personas ORDER BY name")

    def users(self) -> pd.DataFrame:
        return self._frame(
            "SELECT user_id, kind, persona, created_seq FROM users ORDER BY created_seq, user_id"
        )

    def user_exists(self, user: str) -> bool:
        return bool(self._query("SELECT count(*) FROM users WHERE user_id = ?", [user])[0][0])

    # -- events ---------------------------------------------------------------------------

    def max_seq(self) -> int:
        return self._query("SELECT coalesce(max(seq), 0) FROM events")[0][0]

    def last_ts(self) -> float:
        return self._query("SELECT coalesce(max(ts), 0) FROM events")[0][0]

    def append_event(
        self,
        event: Event,
        source: str,
        new_user: tuple[str, str | None] | None,
        served_by: str | None = None,
        request_id: int | None = None,
    ) -> None:
        """Commit one event (and the user row it creates) before anything acknowledges it;
        `served_by` names the model version whose list the person acted on. With the
        `request_id` of a logged list, the event's outcome is written to that list's impression
        of the item in the same transaction (attribution)."""
        context = json.dumps(event.context, sort_keys=True) if event.context else None
        insert = (
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                event.seq,
                event.ts,
                event.user,
                event.item,
                event.kind,
                event.value,
                context,
                source,
                served_by,
                request_id,
            ],
        )
        statements = [insert]
        if new_user is not None:
            kind, persona = new_user
            statements.insert(
                0,
                (
                    "INSERT INTO users VALUES (?, ?, ?, NULL, ?)",
                    [event.user, kind, persona, event.seq],
                ),
            )
        credit = _attribution(event, request_id) if request_id is not None else None
        if credit is not None:
            statements.append(credit)
        with self._write_lock:
            if len(statements) == 1:
                self._execute(*insert)
            else:
                self._transaction(statements)

    def events(
        self, after_seq: int = 0, through_seq: int | None = None, user: str | None = None
    ) -> EventFrame:
        sql = "SELECT seq, ts, user_id, item_id, kind, value, context FROM events WHERE seq > ?"
        params: list[Any] = [after_seq]
        if through_seq is not None:
            sql += " AND seq <= ?"
            params.append(through_seq)
        if user is not None:
            sql += " AND user_id = ?"
            params.append(user)
        cursor = self._con.cursor()
        try:
            cols = cursor.execute(sql + " ORDER BY seq", params).fetchnumpy()
        finally:
            cursor.close()
        return EventFrame(
            seq=np.asarray(cols["seq"], dtype=np.int64),
            ts=np.asarray(cols["ts"], dtype=np.float64),
            user=np.asarray(cols["user_id"], dtype=object),
            item=np.asarray(cols["item_id"], dtype=np.int64),
            kind=np.asarray(cols["kind"], dtype=object),
            value=np.asarray(
                pd.array(cols["value"], dtype="Float64").to_numpy(dtype=np.float64, na_value=np.nan)
            ),
            context=np.asarray(pd.array(cols["context"], dtype=object), dtype=object),
        )

    def event(self, seq: int) -> dict[str, Any] | None:
        rows = self._query(
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
            self._query("SELECT seq, served_by FROM events WHERE user_id = ? ORDER BY seq", [user])
        )

    def prediction_errors(self, algorithm: str) -> pd.DataFrame:
        """Predict-then-learn errors of live ratings: the learning log keeps each model's
        prediction of an event before it learned from it (models that predict stars only)."""
        self.flush_learning_log()
        return self._frame(
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
        events, ratings = self._query(
            "SELECT count(*), count(*) FILTER (kind = 'rating') FROM events "
            "WHERE seq > ? AND served_by LIKE ?",
            [seq, f"{algorithm}:%"],
        )[0]
        ts = self._query("SELECT coalesce(max(ts), 0) FROM events WHERE seq <= ?", [seq])[0][0]
        return int(events), int(ratings), float(ts)

    def served_events(self, algorithm: str | None = None) -> pd.DataFrame:
        """Events people made on lists a known model version served (live and simulated)."""
        where, args = ("AND served_by LIKE ?", [f"{algorithm}:%"]) if algorithm else ("", [])
        return self._frame(
            "SELECT seq, ts, user_id, item_id, kind, value, context, served_by FROM events "
            f"WHERE served_by IS NOT NULL {where} ORDER BY seq",
            args,
        )

    def holdout(self) -> EventFrame:
        """The fixed holdout set aside when the world was generated (seq is 0: never logged)."""
        frame = self._frame(
            "SELECT ts, user_id, item_id, kind, value, context FROM holdout ORDER BY ts, user_id"
        )
        n = len(frame)
        return EventFrame(
            seq=np.zeros(n, dtype=np.int64),
            ts=frame["ts"].to_numpy(dtype=np.float64),
            user=frame["user_id"].to_numpy(dtype=object),
            item=frame["item_id"].to_numpy(dtype=np.int64),
            kind=frame["kind"].to_numpy(dtype=object),
            value=pd.array(frame["value"], dtype="Float64").to_numpy(
                dtype=np.float64, na_value=np.nan
            ),
            context=frame["context"].to_numpy(dtype=object),
        )

    def user_history(self, user: str, limit: int = 50) -> pd.DataFrame:
        return self._frame(
            "SELECT e.seq, e.ts, e.item_id, i.title, e.kind, e.value, e.source FROM events e "
            "JOIN items i USING (item_id) WHERE e.user_id = ? ORDER BY e.seq DESC LIMIT ?",
            [user, limit],
        )

    def count_events(self) -> int:
        return self._query("SELECT count(*) FROM events")[0][0]

    def truncate_after(self, seq: int) -> None:
        """Drop every event, user and log row after `seq` (reset to the seeded world)."""
        self.flush_learning_log()
        self._transaction(
            [
                ("DELETE FROM events WHERE seq > ?", [seq]),
                ("DELETE FROM users WHERE created_seq > ?", [seq]),
                ("DELETE FROM learning_log WHERE seq > ?", [seq]),
                # Back to the seeded world: only the versions the world was seeded with stay.
                (
                    "DELETE FROM model_versions WHERE trained_through_seq > ? "
                    "OR trigger NOT IN ('seed', 'first-load')",
                    [seq],
                ),
                ("DELETE FROM checkpoints WHERE through_seq > ?", [seq]),
                *((f"DELETE FROM {t} WHERE {c} > ?", [seq]) for t, c in SEQ_TABLES.items()),
                (
                    "DELETE FROM update_log WHERE version_id NOT IN (SELECT version_id "
                    "FROM model_versions)",
                    None,
                ),
                (
                    "DELETE FROM alias_history WHERE to_version NOT IN (SELECT version_id "
                    "FROM model_versions)",
                    None,
                ),
                (
                    "DELETE FROM lineage WHERE checkpoint_id IS NULL AND version_id NOT IN "
                    "(SELECT version_id FROM model_versions)",
                    None,
                ),
                (_ORPHAN_ALIASES, None),
                (_ORPHAN_CHECKPOINTS, None),
                # The seeded world has no experiments: a reset ends them with their lists.
                ("DELETE FROM impressions", None),
                ("DELETE FROM experiments", None),
            ]
        )

    def first_live_seq(self, user: str) -> int | None:
        """The user's first event after the seeded history (what forgetting them removes)."""
        return self._query(
            "SELECT min(seq) FROM events WHERE user_id = ? AND source <> 'history'", [user]
        )[0][0]

    def forget_user(self, user: str) -> int | None:
        """Delete a user's live and simulated events (their seeded history stays) and close the
        gap, so `seq` stays gap-free; returns the first seq that changed, or None.

        Later events, their learning-log rows and user rows are renumbered in the same
        transaction; model versions trained past that point are dropped, because they learned
        from what is now forgotten. The caller rebuilds the models from the log."""
        self.flush_learning_log()
        first = self.first_live_seq(user)
        if first is None:  # nothing done, perhaps only shown lists: those are the user's too
            self._transaction([(_FORGET_IMPRESSIONS, [user])])
            return None
        forgotten = "SELECT seq FROM events WHERE user_id = ? AND source <> 'history'"
        self._transaction(
            [
                (f"DELETE FROM learning_log WHERE seq IN ({forgotten})", [user]),
                ("DELETE FROM events WHERE user_id = ? AND source <> 'history'", [user]),
                (_FORGET_IMPRESSIONS, [user]),
                (
                    "DELETE FROM users WHERE user_id = ? "
                    "AND kind NOT IN ('simulated', 'demo', 'imported')",
                    [user],
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
                    "UPDATE learning_log SET seq = m.new FROM seq_map m "
                    "WHERE learning_log.seq = m.old",
                    None,
                ),
                (
                    "UPDATE users SET created_seq = m.new FROM seq_map m WHERE created_seq = m.old",
                    None,
                ),
                ("DELETE FROM model_versions WHERE trained_through_seq >= ?", [first]),
                ("DELETE FROM checkpoints WHERE through_seq >= ?", [first]),
                *((f"DELETE FROM {t} WHERE {c} >= ?", [first]) for t, c in SEQ_TABLES.items()),
                (_ORPHAN_ALIASES, None),
                (_ORPHAN_CHECKPOINTS, None),
                ("DROP TABLE seq_map", None),
            ]
        )
        return first

    # -- learning log ---------------------------------------------------------------------

    def log_learning(self, rows: list[tuple]) -> None:
        """Queue learning-log rows; they are written in batches (the event log stays the truth,
        so a crash loses at most the derived rows of the last few events, never an event)."""
        with self._write_lock:
            self._pending_log.extend(rows)
            if len(self._pending_log) >= 256:
                self.flush_learning_log()

    def flush_learning_log(self) -> None:
        with self._write_lock:
            if not self._pending_log:
                return
            frame = pd.DataFrame(self._pending_log, columns=list(LEARNING_LOG_COLUMNS))
            self._pending_log = []
            self._transaction(
                [("INSERT INTO learning_log SELECT * FROM log_frame", None)],
                frames={"log_frame": frame},
            )

    def logged_through(self) -> dict[str, int]:
        self.flush_learning_log()
        return dict(self._query("SELECT algorithm, max(seq) FROM learning_log GROUP BY ALL"))

    def learning_log(self, user: str | None = None, limit: int = 100) -> pd.DataFrame:
        self.flush_learning_log()
        where, params = ("WHERE user_id = ?", [user]) if user else ("", [])
        return self._frame(
            f"SELECT * FROM learning_log {where} ORDER BY seq DESC, algorithm LIMIT ?",
            [*params, limit],
        )

    def export(self, directory: Path, fmt: str) -> dict[str, int]:
        """Copy the log tables to `directory` as Parquet or CSV files (EXPORTS), all read in one
        transaction so no event lands between two tables; returns the rows per file. Files are
        written to a scratch folder first and moved in at the end: a failure leaves none."""
        self.flush_learning_log()
        scratch = directory / ".export-partial"
        scratch.mkdir(parents=True, exist_ok=True)
        counts = {}
        with self._write_lock:
            cursor = self._con.cursor()
            try:
                cursor.execute("BEGIN TRANSACTION")
                for name, (query, csv_query) in EXPORTS.items():
                    target = scratch / f"{name}.{fmt}"
                    quoted = str(target).replace("'", "''")
                    options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
                    sql = csv_query if fmt == "csv" and csv_query else query
                    cursor.execute(f"COPY ({sql}) TO '{quoted}' ({options})")
                    cursor.fetchall()
                    counts[f"{name}.{fmt}"] = cursor.execute(
                        f"SELECT count(*) FROM ({sql})"
                    ).fetchall()[0][0]
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                for leftover in scratch.iterdir():
                    leftover.unlink()
                scratch.rmdir()
                raise
            finally:
                cursor.close()
        for file in counts:
            (scratch / file).replace(directory / file)
        scratch.rmdir()
        return counts

    def set_meta(self, key: str, value: str) -> None:
        self._transaction(
            [
                ("DELETE FROM meta WHERE key = ?", [key]),
                ("INSERT INTO meta VALUES (?, ?)", [key, value]),
            ]
        )


# An alias whose version was dropped points nowhere: remove it (the engine re-establishes
# production from the newest remaining version when it loads).
_ORPHAN_ALIASES = (
    "DELETE FROM aliases WHERE version_id NOT IN (SELECT version_id FROM model_versions)"
)
# A checkpoint whose lineage was dropped will never be read again.
_ORPHAN_CHECKPOINTS = (
    "DELETE FROM checkpoints WHERE lineage_id IS NOT NULL "
    "AND lineage_id NOT IN (SELECT lineage_id FROM lineage)"
)


_FORGET_IMPRESSIONS = (
    "DELETE FROM impressions WHERE user_id = ? AND experiment_id IN "
    "(SELECT experiment_id FROM experiments WHERE mode = 'live')"
)
# A stale page of a stopped experiment must not change its results.
_RUNNING = "experiment_id IN (SELECT experiment_id FROM experiments WHERE status = 'running')"
_OUTCOME_COLUMNS = {
    "view": "clicked",
    "click": "clicked",
    "like": "liked",
    "dislike": "disliked",
    "favorite": "favorited",
}


def _attribution(event: Event, request_id: int) -> tuple[str, list] | None:
    """The update that credits `event` to the impression of its item in list `request_id`
    (None for a skip: the item was shown, nothing to credit)."""
    if event.kind == "rating":
        return (
            "UPDATE impressions SET rating = ? WHERE request_id = ? AND item_id = ? "
            f"AND user_id = ? AND {_RUNNING}",
            [event.value, request_id, event.item, event.user],
        )
    column = _OUTCOME_COLUMNS.get(event.kind)
    if column is None:
        return None
    return (
        f"UPDATE impressions SET {column} = true WHERE request_id = ? AND item_id = ? "
        f"AND user_id = ? AND {_RUNNING}",
        [request_id, event.item, event.user],
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
