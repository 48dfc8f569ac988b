"""A file that is not a lab is refused before anything is written to it, and the lab never
reaches for the network (issue 17, kinds 3 and 4)."""

from __future__ import annotations

import hashlib
import sqlite3

import duckdb

from recsys.cli.main import main
from recsys.store.connection import Database


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_lab_connections_never_install_or_load_extensions(tmp_path):
    db = Database.open(tmp_path / "lab.duckdb")
    try:
        settings = db.query(
            "SELECT current_setting('autoinstall_known_extensions'), "
            "current_setting('autoload_known_extensions')"
        )
    finally:
        db.close()
    assert settings == [(False, False)]


def test_a_sqlite_file_is_one_line_and_no_download(tmp_path, capsys):
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (a)")
    before = digest(path)
    code = main(["--db", str(path), "recommend", "--user", "a"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "is not a DuckDB database (it looks like a sqlite file)" in err
    assert digest(path) == before


def test_another_programs_duckdb_file_is_refused_and_left_as_it_was(tmp_path, capsys):
    path = tmp_path / "theirs.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE events (a INTEGER)")
    con.execute("INSERT INTO events VALUES (7)")
    con.close()
    code = main(["--db", str(path), "recommend", "--user", "a"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "is a DuckDB database of another program (tables events), not a lab" in err
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT table_name FROM duckdb_tables()").fetchall() == [("events",)]
        assert con.execute("SELECT * FROM events").fetchall() == [(7,)]
    finally:
        con.close()
