import re

import numpy as np
import pytest

from recsys.errors import RecsysError
from recsys.store import Store
from recsys.store.connection import Database
from recsys.store.database import SCHEMA_VERSION, decode_arrays, encode_arrays
from recsys.store.schema import MIGRATIONS, migrate, migration_files, schema_version

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def test_new_store_has_the_schema_and_version(tmp_path):
    store = Store.open(tmp_path / "a.duckdb")
    tables = {r[0] for r in store.db.query("SELECT table_name FROM information_schema.tables")}
    assert {
        "schema_version",
        "meta",
        "items",
        "users",
        "events",
        "learning_log",
        "model_versions",
        "personas",
    } <= tables
    assert store.schema_version() == SCHEMA_VERSION
    store.close()
    again = Store.open(tmp_path / "a.duckdb")  # migrations run once
    assert again.db.query("SELECT count(*) FROM schema_version")[0][0] == SCHEMA_VERSION
    again.close()


def test_newer_schema_is_refused(tmp_path):
    store = Store.open(tmp_path / "a.duckdb")
    store.db.execute("INSERT INTO schema_version VALUES (99, now())")
    store.close()
    with pytest.raises(RecsysError, match="newer than this code"):
        Store.open(tmp_path / "a.duckdb")


def test_a_database_held_by_another_process_gives_one_clear_line(held_by_another_process):
    db_path = held_by_another_process
    with pytest.raises(RecsysError, match="open in another process") as caught:
        Store.open(db_path)
    assert "\n" not in str(caught.value)


def test_a_file_that_is_not_a_database(tmp_path):
    junk = tmp_path / "junk.duckdb"
    junk.write_text("this is not a database\n" * 100)
    with pytest.raises(RecsysError):
        Store.open(junk)


def test_parameters_are_stored_as_arrays_never_pickled():
    arrays = {"f": np.arange(6.0).reshape(2, 3), "users": np.array(["a", "bb"])}
    blob = encode_arrays(arrays)
    assert blob[:2] == b"PK"  # an .npz zip archive
    back = decode_arrays(blob)
    assert np.array_equal(back["f"], arrays["f"]) and back["users"].tolist() == ["a", "bb"]
    with pytest.raises(ValueError):  # object arrays would need pickle: refused
        decode_arrays(encode_arrays({"o": np.array([{"a": 1}], dtype=object)}))


def test_no_pickle_anywhere_in_the_code():
    offenders = [
        str(p)
        for p in (ROOT / "recsys").rglob("*.py")
        if "import pickle" in p.read_text() or "allow_pickle=True" in p.read_text()
    ]
    assert offenders == []


_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([a-z_]+)\b")


def test_each_table_is_written_by_exactly_one_store_module(tmp_path):
    store = Store.open(tmp_path / "a.duckdb")
    tables = {r[0] for r in store.db.query("SELECT table_name FROM duckdb_tables()")}
    store.close()
    writers: dict[str, set[str]] = {}
    for path in (ROOT / "recsys").rglob("*.py"):
        for table in _WRITE.findall(path.read_text()):
            writers.setdefault(table, set()).add(str(path.relative_to(ROOT)))
    assert set(writers) <= tables | {"seq_map"}  # seq_map: forget_user's temporary table
    for table in sorted(tables):
        assert len(writers.get(table, ())) == 1, (table, writers.get(table))
        (module,) = writers[table]
        assert module.startswith("recsys/store/"), (table, module)


def test_migrations_are_the_numbered_sql_files_applied_in_order(tmp_path):
    files = migration_files()
    assert [p.name[:3] for p in files] == [f"{i:03d}" for i in range(1, len(files) + 1)]
    assert SCHEMA_VERSION == len(files) == len(MIGRATIONS)
    assert [p.read_text() for p in files] == MIGRATIONS
    # A later migration runs after the earlier ones, each recorded with its version.
    extra = [*MIGRATIONS, "ALTER TABLE scenarios ADD COLUMN pinned BOOLEAN DEFAULT false;"]
    db = Database.open(tmp_path / "m.duckdb")
    migrate(db, MIGRATIONS[:2])
    assert schema_version(db) == 2
    migrate(db, extra)
    versions = [v for (v,) in db.query("SELECT version FROM schema_version ORDER BY rowid")]
    assert versions == list(range(1, len(extra) + 1))
    assert db.query("SELECT count(*) FROM scenarios WHERE pinned")[0][0] == 0
    db.close()
    with pytest.raises(RecsysError, match="newer than this code"):  # the shipped code is older
        Store.open(tmp_path / "m.duckdb")


def test_migration_files_must_be_numbered_without_gaps(tmp_path):
    (tmp_path / "001_a.sql").write_text("CREATE TABLE a (x INTEGER);")
    (tmp_path / "003_c.sql").write_text("CREATE TABLE c (x INTEGER);")
    with pytest.raises(RecsysError, match="not numbered"):
        migration_files(tmp_path)


def test_bulk_operations_cover_the_world_and_seq_tables():
    from recsys.store import eventlog, experiments, history, lineage, states, versions, world
    from recsys.store.database import SEQ_TABLES, WORLD_TABLES

    owners = (world, eventlog, versions, lineage, history, experiments, states)
    cleared = {t for o in owners for sql, _ in o.clear_statements() for t in _WRITE.findall(sql)}
    assert cleared == {*WORLD_TABLES, "meta"}
    truncated = [sql for o in owners[1:5] for sql, _ in o.truncate_statements(7)]
    forgotten = [sql for o in owners[2:5] for sql, _ in o.forget_statements(7)]
    for table, column in SEQ_TABLES.items():
        assert f"DELETE FROM {table} WHERE {column} > ?" in truncated
        assert f"DELETE FROM {table} WHERE {column} >= ?" in forgotten
