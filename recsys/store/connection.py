"""The one DuckDB connection of the process, and the only code that runs SQL on it.

Every call takes its own cursor (a connection shared across threads gives wrong answers) and
fetches its result completely before returning (DuckDB results stream). Writers serialise on
one re-entrant lock, `Database.write_lock`; a repository that reads before it writes (an id
reservation, say) holds it across both. The repositories of this package build statements;
`Database.transaction` runs a list of them, possibly from several repositories, all or nothing.
`Database.batch` makes a whole multi-step operation (a scenario load) one transaction: inside
it, the thread that opened it reads and writes through one cursor and every `transaction` or
`execute` joins the outer one.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import duckdb
import numpy as np

from recsys.errors import RecsysError
from recsys.store.paths import DEFAULT_DB, database_path  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    import pandas as pd

BATCH_FAILED = "a step of the operation failed; nothing of it was kept"
# One SQL statement with its parameters (None: no parameters), as the repositories return them.
Statement = tuple[str, list | None]


OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
# Test-only: with RECSYS_CRASH_AT=N set, the process kills itself (SIGKILL) just before its
# N-th commit counted while it is set (tests/test_crash*.py kill operations at every commit).
CRASH_AT = "RECSYS_CRASH_AT"


class Database:
    """Owns the process's single DuckDB connection. Open with `Database.open(path)`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str):
        self.con = con
        self.path = path
        self.write_lock = threading.RLock()
        self.closed = False
        self._batch: duckdb.DuckDBPyConnection | None = None  # the open batch's cursor
        self._batch_thread: int | None = None
        self._batch_failed = False
        self._deferred: dict[str, tuple[tuple[str, ...], list[list]]] = {}  # see `defer`
        self._checkpoint_after = False  # a batch asked for a checkpoint: run it at its commit
        self.commits = 0  # commits made while CRASH_AT is set (see `_committing`)

    @classmethod
    def open(cls, path: str | Path) -> Database:
        """Connect to the database file at `path` (":memory:" for none), creating its folder.

        Raises RecsysError with one line when another process holds the file, when `path` is a
        directory, or when the file is not a DuckDB database."""
        path = str(path)
        if path != ":memory:":
            parent = Path(path).parent
            if not parent.exists():
                try:
                    parent.mkdir(parents=True, exist_ok=True)
                except OSError as error:
                    raise RecsysError(
                        f"cannot create the folder {parent} for the lab database: "
                        f"{error.strerror or error}"
                    ) from None
            if Path(path).is_dir():
                raise RecsysError(f"{path} is a directory; give a database file path")
        try:
            # No network at run time, ever: a file DuckDB does not know (a SQLite database, say)
            # would otherwise make it download and load an extension to read it.
            con = duckdb.connect(path, config=OFFLINE)
        except duckdb.IOException as error:
            if _is_lock_error(error):
                raise RecsysError(
                    f"the lab database {path} is open in another process; "
                    "use --db to pick another file or stop the app"
                ) from None
            found = re.search(r'Extension "(\w+)" is an existing extension', str(error))
            if found:  # DuckDB recognised another format, and would have fetched a reader
                raise RecsysError(
                    f"{path} is not a DuckDB database (it looks like a {found.group(1)} file); "
                    "give a lab database file or a new path"
                ) from None
            first = str(error).strip().splitlines()[0]
            raise RecsysError(f"cannot open the lab database {path}: {first}") from None
        except duckdb.Error as error:
            first = str(error).strip().splitlines()[0]
            raise RecsysError(f"{path} is not a usable DuckDB database: {first}") from None
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
        import pandas as pd  # here: the command line's checks open a Database without pandas

        return pd.DataFrame(rows, columns=columns)

    def columns(self, sql: str, params: list | None = None) -> dict[str, np.ndarray]:
        """A query's columns as numpy arrays by name (the fast path for whole event logs)."""
        with self._cursor() as cursor:
            return cursor.execute(sql, params).fetchnumpy()

    def arrow(self, sql: str, params: list | None = None):
        """A query's result as a pyarrow Table (whole event logs: text stays Arrow strings, where
        `columns` makes a Python string per row; 25 million rows of user ids are 1.6 GB so)."""
        with self._cursor() as cursor:
            return cursor.sql(sql, params=params).to_arrow_table()

    def execute(self, sql: str, params: list | None = None) -> None:
        """One statement in its own (implicit) transaction, or in the open batch's."""
        if self.in_batch():
            self.transaction([(sql, params)])
            return
        with self.write_lock, self._cursor() as cursor:
            self._committing()
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
        raised). `frames` are registered as views the statements may read by name. Inside a
        batch they join the batch's transaction, and an error dooms the whole batch.
        `exclusive=False` runs it without `write_lock`, beside other writers: only for rows no
        other statement reads or writes yet (a new state's, under an id just reserved)."""
        lock = self.write_lock if exclusive else contextlib.nullcontext()
        with lock, self._cursor() as cursor:
            nested = self.in_batch()
            try:
                for name, frame in (frames or {}).items():
                    cursor.register(name, frame)
                if not nested:
                    cursor.execute("BEGIN TRANSACTION")
                for sql, params in statements:
                    cursor.execute(sql, params)
                    cursor.complete()
                if not nested:
                    self._committing()
                    cursor.execute("COMMIT")
            except BaseException:
                if nested:
                    self._batch_failed = True  # part of it may have run: only a rollback is safe
                else:
                    cursor.execute("ROLLBACK")
                raise
            finally:
                if nested and not self._batch_failed:  # the batch's cursor lives on
                    for name in frames or {}:
                        cursor.unregister(name)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Everything the calling thread writes until the block ends, as ONE transaction:
        committed when the block ends, rolled back (and the error raised) if it raises or if
        any statement in it failed, even one whose error was caught. The thread's reads go
        through the same cursor, so they see its uncommitted writes; other threads read the
        state before the batch and wait (on `write_lock`) to write. A batch inside a batch
        joins it."""
        with self.write_lock:
            if self._batch is not None:
                yield
                return
            cursor = self.con.cursor()
            cursor.execute("BEGIN TRANSACTION")
            self._batch, self._batch_thread = cursor, threading.get_ident()
            self._batch_failed = False
            try:
                yield
                if self._deferred and not self._batch_failed:
                    self._write_deferred()
                if self._batch_failed:
                    raise RecsysError(BATCH_FAILED)
            except BaseException:
                self._batch = self._batch_thread = None
                self._deferred, self._checkpoint_after = {}, False
                cursor.execute("ROLLBACK")
                cursor.close()
                raise
            self._batch = self._batch_thread = None
            try:
                self._committing()
                cursor.execute("COMMIT")
            finally:
                cursor.close()
            if self._checkpoint_after:
                self._checkpoint_after = False
                self.checkpoint()

    def defer(self, insert: str, columns: tuple[str, ...], row: list) -> None:
        """Queue one row in the open batch (RuntimeError outside one): the rows queued under
        the same `insert` (SQL reading a frame named `deferred_rows` with `columns`) are
        written as one statement before the batch's next statement (a read included, so the
        batch reads what it wrote) or at its commit. A row costs microseconds, not the
        milliseconds of an INSERT statement."""
        if not self.in_batch():
            raise RuntimeError("Database.defer outside a batch")
        self._deferred.setdefault(insert, (columns, []))[1].append(row)

    def _write_deferred(self) -> None:
        import pandas as pd  # here, as in `frame`: the command line's checks run without it

        deferred, self._deferred = self._deferred, {}
        try:
            for insert, (columns, rows) in deferred.items():
                # object columns: None stays NULL (a float column would turn it into NaN)
                self._batch.register(
                    "deferred_rows", pd.DataFrame(rows, columns=columns, dtype=object)
                )
                self._batch.execute(insert)
                self._batch.unregister("deferred_rows")
        except BaseException:
            self._batch_failed = True
            raise

    def _committing(self) -> None:
        """Count a commit about to happen and, at the one `CRASH_AT` names, die as a power cut
        or `kill -9` would: the crash tests' deterministic kill points. Unset: one dict look-up."""
        at = os.environ.get(CRASH_AT)
        if at:
            self.commits += 1
            if self.commits == int(at):
                os.kill(os.getpid(), signal.SIGKILL)

    def in_batch(self) -> bool:
        """Whether the calling thread is inside a batch."""
        return self._batch is not None and self._batch_thread == threading.get_ident()

    def checkpoint(self) -> None:
        """Write the write-ahead log into the database file now (DuckDB's CHECKPOINT).

        After a bulk write (a new world, a reset) the log holds megabytes and, until the next
        checkpoint, DuckDB logs the users table's key index again with every new user row (64
        KB on the default world): the log would reach
        DuckDB's automatic threshold (16 MB) within a few hundred clicks, and the click whose
        commit crosses it would pay for the whole checkpoint (100 to 250 ms). A bulk operation
        pays for it instead. Inside a batch it runs once the batch commits (a CHECKPOINT in a
        transaction would abort it); skipped if another transaction is open (DuckDB refuses)."""
        if self.in_batch():
            self._checkpoint_after = True
            return
        skipped = contextlib.suppress(duckdb.TransactionException)
        with self.write_lock, self._cursor() as cursor, skipped:
            cursor.execute("CHECKPOINT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction, under the write lock, for reads that must see one
        state across several statements (an export); rolled back on error, committed after.
        Inside a batch: the batch's cursor, in the batch's transaction."""
        with self.write_lock, self._cursor() as cursor:
            if self.in_batch():
                try:
                    yield cursor
                except BaseException:
                    self._batch_failed = True
                    raise
                return
            cursor.execute("BEGIN TRANSACTION")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.in_batch():
            if self._batch_failed:  # DuckDB refuses every statement after a failed one
                raise RecsysError(BATCH_FAILED)
            if self._deferred:
                self._write_deferred()
            yield self._batch
            return
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
