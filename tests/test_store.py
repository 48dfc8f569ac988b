import numpy as np
import pytest

from recsys.errors import RecsysError
from recsys.store.database import SCHEMA_VERSION, Store, decode_arrays, encode_arrays

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def test_new_store_has_the_schema_and_version(tmp_path):
    store = Store.open(tmp_path / "a.duckdb")
    tables = {r[0] for r in store._query("SELECT table_name FROM information_schema.tables")}
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
    assert again._query("SELECT count(*) FROM schema_version")[0][0] == SCHEMA_VERSION
    again.close()


def test_newer_schema_is_refused(tmp_path):
    store = Store.open(tmp_path / "a.duckdb")
    store._execute("INSERT INTO schema_version VALUES (99, now())")
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
