"""Shared fixtures: tiny worlds in temporary DuckDB files, built once and copied per test."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recsys.engine import Engine  # noqa: E402

SMALL_WORLD = {"n_items": 300, "n_users": 120, "sessions_per_user": 25}


@pytest.fixture(scope="session")
def small_world_file(tmp_path_factory) -> Path:
    """A seeded movies world: 300 items, ~10,000 events (built once per session), every seed
    version fitted (a new lab fits the others when first used: tests/test_seeding.py)."""
    path = tmp_path_factory.mktemp("template") / "small.duckdb"
    Engine.create(path, "movies", 7, eager=True, **SMALL_WORLD).close()
    return path


@pytest.fixture(scope="session")
def small_world_print(small_world_file):
    """What the small world's file holds, table by table (`tests.fingerprint`): a copy that
    bad input reached must still match it."""
    from tests.fingerprint import fingerprint

    return fingerprint(small_world_file)


@pytest.fixture
def db_path(small_world_file, tmp_path) -> Path:
    """A private copy of the small world for one test."""
    path = tmp_path / "lab.duckdb"
    shutil.copy(small_world_file, path)
    return path


@pytest.fixture
def held_by_another_process(db_path):
    """The test's database, opened read-write by a second process for the test's duration."""
    import subprocess

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(db_path)!r}); print('ready');"
            " sys.stdout.flush(); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield db_path
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def engine(db_path):
    engine = Engine.open(db_path)
    yield engine
    engine.close()


@pytest.fixture
def lab_app(db_path, monkeypatch):
    """The whole app under AppTest on a private copy of the small world, as alice with mf."""
    import streamlit as st

    from tests.apptest import lab_app_test

    monkeypatch.setenv("RECSYS_DB", str(db_path))
    st.cache_resource.clear()
    at = lab_app_test(default_timeout=120)
    at.query_params["user"] = "alice"
    at.query_params["algorithm"] = "mf"
    yield at
    st.cache_resource.clear()  # closes the engine, releasing the file
