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

SCHEMA_VERSION = 1

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
]

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

    def write_world(
        self,
        meta: dict[str, str],
        items: pd.DataFrame,
        personas: pd.DataFrame,
        users: pd.DataFrame,
        events: pd.DataFrame,
    ) -> None:
        """Write a whole generated world in one transaction (the store must be empty)."""
        meta_frame = pd.DataFrame({"key": list(meta), "value": [str(v) for v in meta.values()]})
        self._transaction(
            [
                ("INSERT INTO meta SELECT * FROM meta_frame", None),
                ("INSERT INTO items SELECT * FROM items_frame", None),
                ("INSERT INTO personas SELECT * FROM personas_frame", None),
                ("INSERT INTO users SELECT * FROM users_frame", None),
                ("INSERT INTO events SELECT * FROM events_frame", None),
            ],
            frames={
                "meta_frame": meta_frame,
                "items_frame": items,
                "personas_frame": personas,
                "users_frame": users,
                "events_frame": events,
            },
        )

    def items(self) -> pd.DataFrame:
        return self._frame(
            "SELECT item_id, title, genres, tags, year, region FROM items ORDER BY item_id"
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
        self, event: Event, source: str, new_user: tuple[str, str | None] | None
    ) -> None:
        """Commit one event (and the user row it creates) before anything acknowledges it."""
        context = json.dumps(event.context, sort_keys=True) if event.context else None
        insert = (
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [event.seq, event.ts, event.user, event.item, event.kind, event.value, context, source],
        )
        with self._write_lock:
            if new_user is None:
                self._execute(*insert)
            else:
                kind, persona = new_user
                self._transaction(
                    [
                        (
                            "INSERT INTO users VALUES (?, ?, ?, NULL, ?)",
                            [event.user, kind, persona, event.seq],
                        ),
                        insert,
                    ]
                )

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
                ("DELETE FROM model_versions WHERE trained_through_seq > ?", [seq]),
            ]
        )

    def forget_user(self, user: str) -> int | None:
        """Delete a user's live and simulated events (their seeded history stays) and close the
        gap, so `seq` stays gap-free; returns the first seq that changed, or None.

        Later events, their learning-log rows and user rows are renumbered in the same
        transaction; model versions trained past that point are dropped, because they learned
        from what is now forgotten. The caller rebuilds the models from the log."""
        self.flush_learning_log()
        first = self._query(
            "SELECT min(seq) FROM events WHERE user_id = ? AND source <> 'history'", [user]
        )[0][0]
        if first is None:
            return None
        forgotten = "SELECT seq FROM events WHERE user_id = ? AND source <> 'history'"
        self._transaction(
            [
                (f"DELETE FROM learning_log WHERE seq IN ({forgotten})", [user]),
                ("DELETE FROM events WHERE user_id = ? AND source <> 'history'", [user]),
                (
                    "DELETE FROM users WHERE user_id = ? AND kind NOT IN ('simulated', 'demo')",
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

    def learning_log(self, user: str | None = None, limit: int = 100) -> pd.DataFrame:
        self.flush_learning_log()
        where, params = ("WHERE user_id = ?", [user]) if user else ("", [])
        return self._frame(
            f"SELECT * FROM learning_log {where} ORDER BY seq DESC, algorithm LIMIT ?",
            [*params, limit],
        )

    # -- model versions -------------------------------------------------------------------

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
    ) -> int:
        with self._write_lock:
            version = self._query("SELECT coalesce(max(version_id), 0) + 1 FROM model_versions")
            version_id = version[0][0]
            self._transaction(
                [
                    (
                        "INSERT INTO model_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            version_id,
                            algorithm,
                            json.dumps(config, sort_keys=True),
                            seed,
                            trained_through_seq,
                            n_events,
                            encode_arrays(params),
                            trigger,
                            fit_seconds,
                            _now(),
                        ],
                    )
                ]
            )
            return version_id

    def latest_version(self, algorithm: str) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT version_id, config, seed, trained_through_seq, params FROM model_versions "
            "WHERE algorithm = ? ORDER BY version_id DESC LIMIT 1",
            [algorithm],
        )
        if not rows:
            return None
        version_id, config, seed, through, params = rows[0]
        return {
            "version_id": version_id,
            "config": json.loads(config),
            "seed": seed,
            "trained_through_seq": through,
            "params": decode_arrays(params),
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
