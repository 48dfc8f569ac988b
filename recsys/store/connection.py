"""The one DuckDB connection of the process, and the only code that runs SQL on it.

Every call takes its own cursor (a connection shared across threads gives wrong answers) and
fetches its result completely before returning (DuckDB results stream). Writers serialise on
one re-entrant lock, `Database.write_lock`; a repository that reads before it writes (an id
reservation, say) holds it across both. The repositories of this package build statements;
`Database.transaction` runs a list of them, possibly from several repositories, all or nothing.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import duckdb
import numpy as np
import pandas as pd

from recsys.errors import RecsysError

DEFAULT_DB = Path(__file__).resolve().parents[2] / "data" / "lab.duckdb"

# One SQL statement with its parameters (None: no parameters), as the repositories return them.
Statement = tuple[str, list | None]


def database_path(path: str | Path | None = None) -> str:
    """`path`, else $RECSYS_DB, else data/lab.duckdb in the repository."""
    return str(path or os.environ.get("RECSYS_DB") or DEFAULT_DB)


class Database:
    """Owns the process's single DuckDB connection. Open with `Database.open(path)`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str):
        self.con = con
        self.path = path
        self.write_lock = threading.RLock()
        self.closed = False

    @classmethod
    def open(cls, path: str | Path) -> Database:
        """Connect to the database file at `path` (":memory:" for none), creating its folder.

        Raises RecsysError with one line when another process holds the file, when `path` is a
        directory, or when the file is not a DuckDB database."""
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
        with self.write_lock:
            if not self.closed:
                self.con.close()
                self.closed = True

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        """Every row of a query, as tuples."""
        with self._cursor() as cursor:
            return cursor.execute(sql, params).fetchall()

    def frame(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """A query's rows as a DataFrame with the query's column names."""
        # fetchall + DataFrame: for the small results pages ask for, about 2 ms faster than .df()
        with self._cursor() as cursor:
            rows = cursor.execute(sql, params).fetchall()
            columns = [d[0] for d in cursor.description]
        return pd.DataFrame(rows, columns=columns)

    def columns(self, sql: str, params: list | None = None) -> dict[str, np.ndarray]:
        """A query's columns as numpy arrays by name (the fast path for whole event logs)."""
        with self._cursor() as cursor:
            return cursor.execute(sql, params).fetchnumpy()

    def execute(self, sql: str, params: list | None = None) -> None:
        """One statement in its own (implicit) transaction."""
        with self.write_lock, self._cursor() as cursor:
            cursor.execute(sql, params)
            cursor.complete()

    def transaction(
        self,
        statements: Iterable[Statement],
        frames: dict[str, pd.DataFrame] | None = None,
        *,
        exclusive: bool = True,
    ) -> None:
        """Run `statements` in one transaction: all of them or, on any error, none (the error is
        raised). `frames` are registered as views the statements may read by name.
        `exclusive=False` runs it without `write_lock`, beside other writers: only for rows no
        other statement reads or writes yet (a new state's, under an id just reserved)."""
        with self.write_lock if exclusive else contextlib.nullcontext(), self._cursor() as cursor:
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

    def checkpoint(self) -> None:
        """Write the write-ahead log into the database file now (DuckDB's CHECKPOINT).

        After a bulk write (a new world, a reset) the log holds megabytes and, until the next
        checkpoint, DuckDB logs the users table's key index again with every new user row (64
        KB on the default world): the log would reach
        DuckDB's automatic threshold (16 MB) within a few hundred clicks, and the click whose
        commit crosses it would pay for the whole checkpoint (100 to 250 ms). A bulk operation
        pays for it instead. Skipped if another transaction is open (DuckDB refuses then)."""
        skipped = contextlib.suppress(duckdb.TransactionException)
        with self.write_lock, self._cursor() as cursor, skipped:
            cursor.execute("CHECKPOINT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction, under the write lock, for reads that must see one
        state across several statements (an export); rolled back on error, committed after."""
        with self.write_lock, self._cursor() as cursor:
            cursor.execute("BEGIN TRANSACTION")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cursor = self.con.cursor()
        try:
            yield cursor
        finally:
            cursor.close()


def _is_lock_error(error: Exception) -> bool:
    return "lock" in str(error).lower()


def encode_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    """Named arrays as `.npz` bytes (never pickle: object arrays fail when decoded)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def decode_arrays(blob: bytes) -> dict[str, np.ndarray]:
    """The arrays of `encode_arrays` bytes; ValueError for arrays that would need pickle."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def now() -> datetime:
    """The wall clock as a naive UTC timestamp (the `created_at` columns)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Owner(Protocol):
    """What a repository needs of the `Store` that owns it (a protocol, so the repositories
    do not import the store that imports them)."""

    db: Database

    def flush_learning_log(self) -> None: ...
