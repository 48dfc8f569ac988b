"""The store: the entry object over the connection, the schema and the repositories.

`Store.open(path)` opens the one connection (`Database`), brings the schema up to date and
offers the repositories' reads and writes. It is itself the event log (`EventLog`: events,
users, learning log) and the world (`WorldStore`: items, personas, holdout, meta); saved
scenarios are `store.scenarios`, experiments and impressions `store.experiment_log`, versions
and the rest of the model lifecycle `VersionStore(store)`. Each table has one writer module
(named in its module docstring).

The bulk operations here touch many tables at once: each repository module gives its
statements and the store runs them in ONE transaction, so a failure leaves everything as it was.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from recsys.events import Event
from recsys.store import eventlog, experiments, history, lineage, states, versions, world
from recsys.store.connection import Database, Statement, decode_arrays, encode_arrays
from recsys.store.eventlog import LEARNING_LOG_COLUMNS, EventLog
from recsys.store.experiments import ExperimentStore
from recsys.store.export import EXPORT_FORMATS, EXPORTS, export_tables, log_identity
from recsys.store.scenarios import ScenarioStore
from recsys.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate, schema_version
from recsys.store.world import WorldStore

__all__ = [
    "EXPORTS",
    "EXPORT_FORMATS",
    "LEARNING_LOG_COLUMNS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SEQ_TABLES",
    "WORLD_TABLES",
    "Store",
    "decode_arrays",
    "encode_arrays",
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
    "version_numbers",
    "checkpoints",
    "state_arrays",
    "state_words",
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
# a user drop them with the events (the owners' truncate_/forget_statements).
SEQ_TABLES = {
    "alias_history": "at_seq",
    "lineage": "effective_seq",
    "update_log": "at_seq",
    "drift_alarms": "at_seq",
    "marks": "at_seq",
}

# The owners of the WORLD_TABLES, in the order their statements run: versions before lineage
# and history, whose clean-up reads which versions are left.
_WORLD_OWNERS = (world, eventlog, versions, lineage, states, history, experiments)


class Store(EventLog, WorldStore):
    """Owns the process's single DuckDB connection. Open with `Store.open(path)`."""

    def __init__(self, db: Database):
        EventLog.__init__(self, db)
        self.scenarios = ScenarioStore(db)
        self.experiment_log = ExperimentStore(db)
        migrate(db)
        states.drop_orphans(db)  # no process is storing one now: a crash's leftovers

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (or create) the lab database at `path`; RecsysError with one line if another
        process holds it, if it is not a DuckDB file or if its schema is newer than the code."""
        return cls(Database.open(path))

    @property
    def path(self) -> str:
        return self.db.path

    @property
    def closed(self) -> bool:
        return self.db.closed

    @property
    def write_lock(self) -> threading.RLock:
        """The writers' lock (re-entrant). Hold it to make a read and a write one step, e.g.
        `VersionStore.new_versions` then the transaction that runs its statements."""
        return self.db.write_lock

    def close(self) -> None:
        """Flush and close; closing twice is harmless."""
        with self.db.write_lock:
            if self.closed:
                return
            self.flush_learning_log()
            self.db.close()

    def schema_version(self) -> int:
        return schema_version(self.db)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """A multi-step write as ONE transaction (`Database.batch`): a crash or an error
        anywhere in the block leaves the store as it was before it. The learning-log rows
        queued in the block are written in it; on a rollback they are dropped with their
        events."""
        with self.db.write_lock:
            if self.db.in_batch():
                yield
                return
            self.flush_learning_log()  # rows of what came before: not the batch's to lose
            try:
                with self.db.batch():
                    yield
                    self.flush_learning_log()
            except BaseException:
                self.drop_learning_log()
                raise

    def replace_world(
        self,
        meta: dict[str, str],
        items: pd.DataFrame,
        personas: pd.DataFrame,
        users: pd.DataFrame,
        events: pd.DataFrame,
        holdout: pd.DataFrame,
        then: list[Statement] | None = None,
        *,
        seed_versions: list[tuple] | None = None,
    ) -> None:
        """Swap the whole lab (WORLD_TABLES) for a new world and run `then`, all in one
        transaction: if anything fails, the previous lab is untouched. `seed_versions` are rows
        as `VersionStore.new_versions` takes them, stored with fresh ids in the same
        transaction (no outside lock needed, unlike statements passed in `then`)."""
        frames = {
            "meta": pd.DataFrame({"key": list(meta), "value": [str(v) for v in meta.values()]}),
            "items": items,
            "personas": personas,
            "users": users,
            "events": events,
            "holdout": holdout,
        }
        with self.db.write_lock:
            # The old world's last derived rows: written now, so a swap that fails keeps them.
            self.flush_learning_log()
            statements = [s for owner in _WORLD_OWNERS for s in owner.clear_statements()]
            statements += world.load_statements() + eventlog.load_statements()
            registered = {f"new_{table}": frame for table, frame in frames.items()}
            if seed_versions:
                first, stored, states_frames = versions.VersionStore(self).new_versions(
                    seed_versions
                )
                ts = float(events["ts"].max()) if len(events) else 0.0
                statements += stored + versions.seed_alias_statements(
                    self.db, first, seed_versions, ts
                )
                registered |= states_frames
            self.db.transaction([*statements, *(then or [])], registered)
            self.db.checkpoint()

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
        if request_id is None and self.db.in_batch():  # written with the batch's next statement
            eventlog.defer_append(self.db, event, source, new_user, served_by)
            return
        statements = eventlog.append_statements(event, source, new_user, served_by, request_id)
        if request_id is not None:
            credit = experiments.attribution_statement(event, request_id)
            statements += [credit] if credit is not None else []
        with self.db.write_lock:
            if len(statements) == 1:
                self.db.execute(*statements[0])
            else:
                self.db.transaction(statements)

    def truncate_after(self, seq: int) -> None:
        """Drop every event, user and log row after `seq` (reset to the seeded world): only the
        versions the world was seeded with stay, and experiments end with their lists."""
        self.flush_learning_log()
        self.db.transaction(
            [
                *eventlog.truncate_statements(seq),
                *versions.truncate_statements(seq),
                *lineage.truncate_statements(seq),
                *history.truncate_statements(seq),
                *experiments.clear_statements(),
            ]
        )
        self.db.checkpoint()

    def forget_user(self, user: str, newest_only: bool = False) -> int | None:
        """Delete a user's live and simulated events (their seeded history stays), or with
        `newest_only` only their newest one (an undo), and close the gap, so `seq` stays
        gap-free; returns the first seq that changed, or None.

        Later events, their learning-log rows and user rows are renumbered in the same
        transaction; model versions trained past that point are dropped, because they learned
        from what is now forgotten. The caller rebuilds the models from the log. An undo keeps
        the lists the user was shown: they were shown."""
        self.flush_learning_log()
        with self.db.write_lock:
            first = (self.last_live_seq if newest_only else self.first_live_seq)(user)
            shown = [] if newest_only else experiments.forget_statements(user)
            if first is None:  # nothing done, perhaps only shown lists: those are the user's too
                self.db.transaction(shown)
                return None
            self.db.transaction(
                [
                    *eventlog.forget_statements(user, first),
                    *shown,
                    *versions.forget_statements(first),
                    *lineage.forget_statements(first),
                    *history.forget_statements(first),
                ]
            )
            return first

    def export(self, directory: Path, fmt: str) -> dict[str, int]:
        """Copy the log tables to `directory` as Parquet or CSV files (EXPORTS), all read in one
        transaction; returns the rows per file. A failure leaves no file."""
        self.flush_learning_log()
        return export_tables(self.db, directory, fmt)

    def log_identity(self, through: int) -> dict[str, int | str]:
        """The events up to seq `through` and their fingerprint, as `spark-train` computes them on
        this lab's export (`recsys.store.export.IDENTITY`)."""
        return log_identity(self.db.query, EXPORTS["events"][0], through)
