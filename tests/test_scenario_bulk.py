"""Scenario loads in bulk: one transaction, scripted events through `Engine.play`.

Each built-in (at the reduced size of `tests/test_scenario_checks.py`) is loaded twice on
copies of one world, click by click (`bulk=False`: each event its own commit, the lists with
reasons before and after it) and in bulk, and the two labs must hold the same rows in every
table (wall-clock columns aside), the same claims' numbers and the same recommendations.
A load that fails or is killed half-way leaves the old lab (issue 17, kind 1).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from recsys.data import scenarios
from recsys.data.scenario_library import BUILTIN
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.store import Store
from tests.test_scenario_checks import reduced

ROOT = Path(__file__).resolve().parent.parent
# Columns that hold the wall clock (when a row was written, how long a fit took): the only
# ones allowed to differ between two loads of one scenario.
WALL_CLOCK = {"created_at", "applied_at", "fit_seconds", "seconds", "duration_ms"}
WALL_CLOCK_DETAILS = {"seconds", "impressions_per_second"}  # a simulated experiment's speed
ALGORITHMS = ("mf", "content", "item_knn", "popularity", "hybrid", "thompson")


def tables(engine: Engine) -> dict[str, list[tuple]]:
    """Every table's rows in a fixed order, without the wall-clock columns; the claims' checks
    in meta without the seconds each took."""
    engine.store.flush_learning_log()
    db, found = engine.store.db, {}
    names = [t for (t,) in db.query("SELECT table_name FROM duckdb_tables() ORDER BY ALL")]
    for name in names:
        columns = [
            c
            for (c,) in db.query(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                "ORDER BY column_index",
                [name],
            )
            if c not in WALL_CLOCK
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        rows = db.query(f'SELECT {listed} FROM "{name}" ORDER BY ALL')
        if "details" in columns and name == "experiments":
            at = columns.index("details")
            rows = [(*r[:at], _steady(r[at]), *r[at + 1 :]) for r in rows]
        found[name] = rows
    meta = dict(found.pop("meta"))
    for key, value in meta.items():
        if key.startswith("scenario_check"):
            checks = json.loads(value)
            for result in checks["results"]:
                del result["seconds"]
            meta[key] = checks
    return found | {"meta": meta}


def _steady(details: str) -> dict:
    return {k: v for k, v in json.loads(details).items() if k not in WALL_CLOCK_DETAILS}


def lists(engine: Engine, users: list[str]) -> dict:
    """Every algorithm's top 10 for `users`: items, scores and reasons."""
    return {
        (user, algorithm): [(r.item, r.score, r.reason) for r in ranking.items]
        for user in users
        for algorithm in ALGORITHMS
        if (ranking := engine.recommend(user, 10, algorithm))
    }


@pytest.fixture(scope="module")
def world_file(tmp_path_factory) -> Path:
    """A lab on the default 1,600-item catalogue (the drift and the cold start need it)."""
    path = tmp_path_factory.mktemp("bulk") / "world.duckdb"
    Engine.create(path, "movies", 11, n_items=1600, n_users=60, sessions_per_user=10).close()
    return path


def loaded(world_file: Path, folder: Path, name: str, bulk: bool) -> tuple[dict, dict, dict]:
    path = folder / f"{name}-{'bulk' if bulk else 'live'}.duckdb"
    shutil.copy(world_file, path)
    engine = Engine.open(path)
    try:
        done = scenarios.load(engine, reduced(name), bulk=bulk)
        users = sorted(u for u, kind in engine.users().items() if kind in ("persona", "demo"))
        users += ["sim-0001", "a-stranger"]
        return tables(engine), lists(engine, users), done
    finally:
        engine.close()


@pytest.mark.parametrize("name", BUILTIN)
def test_a_bulk_load_gives_the_lab_the_click_by_click_load_gives(world_file, tmp_path, name):
    live_tables, live_lists, live_done = loaded(world_file, tmp_path, name, bulk=False)
    bulk_tables, bulk_lists, bulk_done = loaded(world_file, tmp_path, name, bulk=True)
    assert live_tables["events"], "the world has a log"
    for table in live_tables:  # one table at a time, so a failure names it
        assert bulk_tables[table] == live_tables[table], table
    assert bulk_lists == live_lists
    assert bulk_done["runs"] == live_done["runs"]
    assert [c["measured"] for c in bulk_done["checks"]] == [
        c["measured"] for c in live_done["checks"]
    ]
    if name == "taste-drift":  # the run under test did fire the policies it exercises
        assert live_tables["drift_alarms"] and live_done["runs"][0]["alarm"] is not None
        assert any(row[5] == "drift" for row in live_tables["update_log"]), "a drift retrain"


def snapshot(engine: Engine) -> tuple[dict, dict]:
    """The lab's rows and lists (the lists first: models that catch up log what they learn)."""
    shown = lists(engine, ["alice", "sim-0001"])
    return tables(engine), shown


def test_a_load_that_fails_half_way_leaves_the_old_lab(world_file, tmp_path):
    path = tmp_path / "lab.duckdb"
    shutil.copy(world_file, path)
    engine = Engine.open(path)
    engine.interact("alice", 5, "like")
    before = snapshot(engine)

    def fail(share: float, text: str) -> None:
        if "visit 30 of" in text:  # after the world swap, the experiment and 29 visits
            raise RecsysError("stopped half-way")

    experiments = reduced("popularity-bias")["experiments"]
    experiments[0]["users"] = 40
    setup = reduced("taste-drift") | {"experiments": experiments}
    with pytest.raises(RecsysError, match="half-way"):
        scenarios.load(engine, setup, fail)
    assert snapshot(engine) == before  # the rows, and the models rebuilt from them
    step = engine.interact("alice", 6, "like")  # and the lab goes on from where it was
    assert step.event.seq == before[0]["events"][-1][0] + 1
    engine.close()
    reopened = Engine.open(path)
    assert reopened.last_seq == step.event.seq and "scenario" not in reopened.meta
    reopened.close()


KILLED = """
import os, signal, sys
from recsys.data import scenarios
from recsys.engine import Engine
from tests.test_scenario_checks import reduced

def die(share, text):
    if text == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGKILL)

engine = Engine.open(sys.argv[1])
scenarios.load(engine, reduced("taste-drift"), die)
"""


@pytest.mark.parametrize("at", ["training mf", "drift: visit 1 of 200", "drift: visit 150 of 200"])
def test_a_load_killed_at_any_point_leaves_the_old_lab(world_file, tmp_path, at):
    path = tmp_path / "lab.duckdb"
    shutil.copy(world_file, path)
    with _opened(path) as engine:
        before = snapshot(engine)
    run = subprocess.run(
        [sys.executable, "-c", KILLED, str(path), at],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]
    with _opened(path) as engine:
        assert snapshot(engine) == before
        assert "scenario" not in engine.meta


class _opened:
    """An engine on `path`, closed at the end of the block."""

    def __init__(self, path: Path):
        self.engine = Engine.open(path)

    def __enter__(self) -> Engine:
        return self.engine

    def __exit__(self, *exc) -> None:
        self.engine.close()


# -- the store's batch ---------------------------------------------------------------------


def event_rows(store: Store) -> list[tuple]:
    return store.db.query("SELECT seq, kind, value, context FROM events ORDER BY seq")


def test_a_batch_reads_its_own_rows_others_see_them_at_the_commit(engine):
    store, first = engine.store, engine.last_seq
    with engine.all_or_nothing():
        engine.play("alice", 1, "view")
        engine.play("alice", 2, "rating", 4.5, {"device": "mobile"})
        engine.play("newcomer", 3, "like")
        mine = event_rows(store)[-3:]  # the queued rows are written before this read
        seen_elsewhere: list = []
        other = threading.Thread(target=lambda: seen_elsewhere.append(store.max_seq()))
        other.start()
        other.join()
        assert seen_elsewhere == [first]  # another thread reads the state before the batch
    assert mine == [
        (first + 1, "view", None, None),  # a missing value stays NULL, not NaN
        (first + 2, "rating", 4.5, '{"device": "mobile"}'),
        (first + 3, "like", None, None),
    ]
    assert event_rows(store)[-3:] == mine and store.max_seq() == first + 3
    assert engine.users()["newcomer"] == "persona"
    assert store.db.query("SELECT kind FROM users WHERE user_id = 'newcomer'") == [("persona",)]


def test_an_error_caught_inside_a_batch_still_rolls_it_back(engine):
    before = snapshot(engine)
    with pytest.raises(RecsysError, match="nothing of it was kept"), engine.all_or_nothing():
        engine.play("alice", 1, "like")
        with pytest.raises(duckdb.ConstraintException):
            engine.store.db.execute("INSERT INTO events (seq) VALUES (1)")  # a duplicate seq
    assert snapshot(engine) == before


def test_outside_a_batch_nothing_can_be_deferred(engine):
    with pytest.raises(RuntimeError):
        engine.store.db.defer("INSERT INTO events BY NAME SELECT * FROM deferred_rows", (), [])
