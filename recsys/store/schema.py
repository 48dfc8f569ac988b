"""The schema: migrations kept as SQL files, applied in order, and the recorded version.

`migrations/NNN_name.sql` migrates a database from version NNN - 1 to NNN; the files are read
in the order of their number and `SCHEMA_VERSION` is the last one. Never edit a released file:
add the next one. A database with a version newer than the code is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

from recsys.errors import RecsysError
from recsys.store.connection import Database, now

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_FILE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    """The migration files in order; RecsysError if their numbers are not 1, 2, 3... ."""
    files = sorted(p for p in directory.iterdir() if _FILE.match(p.name))
    numbers = [int(_FILE.match(p.name)[1]) for p in files]
    if numbers != list(range(1, len(files) + 1)):
        raise RecsysError(f"the migrations in {directory} are not numbered 1 to {len(files)}")
    return files


MIGRATIONS: list[str] = [p.read_text() for p in migration_files()]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: Database, migrations: list[str] = MIGRATIONS) -> None:
    """Bring `db` to the newest schema, one migration per transaction (with its version row).

    Raises RecsysError if the database's version is newer than `len(migrations)`, or if it is
    not a lab's: tables but no `schema_version` (another program's file is never written to)."""
    tables = {name for (name,) in db.query("SELECT table_name FROM duckdb_tables()")}
    if tables and "schema_version" not in tables:
        some = ", ".join(sorted(tables)[:3]) + (", ..." if len(tables) > 3 else "")
        raise RecsysError(
            f"{db.path} is a DuckDB database of another program (tables {some}), not a lab; "
            "nothing was written to it: give a lab database file or a new path"
        )
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMP)")
    current = schema_version(db)
    if current > len(migrations):
        raise RecsysError(
            f"{db.path} has schema version {current}, newer than this code "
            f"({len(migrations)}); update the code or use another --db"
        )
    for version in range(current, len(migrations)):
        db.transaction(
            [
                (migrations[version], None),
                ("INSERT INTO schema_version VALUES (?, ?)", [version + 1, now()]),
            ]
        )


def schema_version(db: Database) -> int:
    """The version the database is at (0 before the first migration)."""
    return db.query("SELECT coalesce(max(version), 0) FROM schema_version")[0][0]
