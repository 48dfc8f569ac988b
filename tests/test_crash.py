"""kill -9 during interaction loops and imports (issue 17): no acknowledged event is lost, no
operation is left half-applied.

An interaction loop runs in a child process that prints each event's seq once `interact`
returned (acknowledged); it is killed before a seeded commit (`RECSYS_CRASH_AT`) or after a
seeded delay, several times, each run resuming where the log ends. Every acknowledged event
must be in the log as it was sent, seqs gap-free, and the lab's recommendations after the last
reopen must equal those of an uninterrupted run of the same events.

An import is killed before each of its commits (and after seeded delays): the lab is then the
old one or the complete new one (every table's row count and content hash), never a mix.
Scenario loads are killed half-way in `tests/test_scenario_bulk.py`; retrains, promotions
and simulated experiments in `tests/test_crash_lifecycle.py`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest

from recsys.engine import Engine
from recsys.store.connection import CRASH_AT
from tests.crashlab import ROOT, cli, every_commit, reopened, versions_are_whole
from tests.datafiles import write_lab

KINDS = ("view", "click", "like", "dislike", "favorite", "skip", "rating")
EVENTS = 520  # the loop's plan
USERS = ("alice", "crash-1", "crash-2", "crash-3", "crash-4")
ALGORITHMS = ("mf", "popularity", "item_knn", "content", "hybrid", "thompson")


def plan(n_items: int, first_ts: float) -> list[tuple[str, int, str, float | None, float]]:
    """The loop's events, the same in every process: (user, item, kind, value, ts)."""
    rng = np.random.default_rng(17)
    events = []
    for i in range(EVENTS):
        kind = KINDS[int(rng.integers(len(KINDS)))]
        value = float(rng.integers(2, 11)) / 2 if kind == "rating" else None
        user = USERS[int(rng.integers(len(USERS)))]
        events.append((user, int(rng.integers(n_items)), kind, value, first_ts + 20.0 * i))
    return events


LOOP = """
import os, sys
from recsys.engine import Engine
from tests.test_crash import plan

path, base, first_ts, crash_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
engine = Engine.open(path)
done = engine.last_seq - base  # events of the plan already in the log, acknowledged or not
print("ready", flush=True)
if crash_at != "0":
    os.environ[CRASH] = crash_at
for user, item, kind, value, ts in plan(engine.catalog.n, first_ts)[done:]:
    step = engine.interact(user, item, kind, value, ts=ts)
    print(step.event.seq, flush=True)  # acknowledged: interact returned
engine.close()
""".replace("CRASH", repr(CRASH_AT))


class Loop:
    """One child running the loop from where the log ends; `acked` fills as it prints."""

    def __init__(self, path: Path, base: int, first_ts: float, crash_at: int = 0):
        env = {k: v for k, v in os.environ.items() if k != CRASH_AT}
        self.child = subprocess.Popen(
            [sys.executable, "-c", LOOP, str(path), str(base), str(first_ts), str(crash_at)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.acked: list[int] = []
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read)
        self.reader.start()

    def _read(self) -> None:
        for line in self.child.stdout:
            if not line.endswith("\n"):  # cut by the kill: never acknowledged
                break
            if line == "ready\n":
                self.ready.set()
            else:
                self.acked.append(int(line))
        self.ready.set()

    def finish(self) -> int:
        """Wait for the child to end; its return code."""
        self.child.wait(timeout=300)
        self.reader.join()
        return self.child.returncode


@pytest.fixture(scope="module")
def template(small_world_file, tmp_path_factory) -> Path:
    """The small world with every version measured (so that no operation measures one)."""
    path = tmp_path_factory.mktemp("crash") / "template.duckdb"
    shutil.copy(small_world_file, path)
    engine = Engine.open(path)
    engine.lifecycle.measured()
    engine.close()
    return path


def logged(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "SELECT seq, user_id, item_id, kind, value, ts FROM events ORDER BY seq"
        ).fetchall()
    finally:
        con.close()


def lists(engine: Engine) -> dict:
    return {
        (user, algorithm): [(r.item, r.score) for r in engine.recommend(user, 10, algorithm).items]
        for user in USERS
        for algorithm in ALGORITHMS
    }


def uninterrupted(template: Path, path: Path, events: list) -> tuple[dict, int]:
    """The loop's lists after running `events` without a kill on a copy of `template`, and
    the commit (counted from the loop's start, as `RECSYS_CRASH_AT` counts) that lands the
    retrain a policy fires during them."""
    shutil.copy(template, path)
    engine = Engine.open(path)
    os.environ[CRASH_AT] = str(10**9)  # counts the commits, kills at none
    try:
        landed = None
        for user, item, kind, value, ts in events:
            step = engine.interact(user, item, kind, value, ts=ts)
            if landed is None and any(a["kind"] == "retrain" for a in step.actions):
                landed = engine.store.db.commits  # the last commit of this interact
        return lists(engine), landed
    finally:
        del os.environ[CRASH_AT]
        engine.close()


def test_killed_interaction_loops_lose_no_acknowledged_event(template, tmp_path):
    path = tmp_path / "lab.duckdb"
    shutil.copy(template, path)
    with_template = Engine.open(template)
    base, first_ts = with_template.last_seq, with_template.lab_time + 60.0
    events = plan(with_template.catalog.n, first_ts)
    with_template.close()
    expected, retrain = uninterrupted(template, tmp_path / "uninterrupted.duckdb", events)
    assert retrain is not None, "the plan has enough ratings for a policy retrain"
    rng = np.random.default_rng(2024)
    # First a kill as the retrain a policy fired lands (its event committed, not
    # acknowledged), then kills before seeded commits, then timed kills a seeded delay after
    # the child is ready (wherever they land, the same must hold).
    kills = [("commit", retrain)] + [("commit", int(k)) for k in rng.integers(3, 60, size=3)]
    kills += [("timed", float(d)) for d in rng.uniform(0.02, 0.3, size=3)]
    acked: list[int] = []
    committed = base
    for how, when in kills:
        loop = Loop(path, base, first_ts, when if how == "commit" else 0)
        if how == "timed":
            assert loop.ready.wait(timeout=120)
            time.sleep(when)
            loop.child.send_signal(signal.SIGKILL)
        code = loop.finish()
        assert code in (-signal.SIGKILL, 0), loop.child.stderr.read()[-2000:]
        acked += loop.acked
        committed = len(rows := logged(path)) - committed
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1)), "seqs are gap-free"
        by_seq = {r[0]: r[1:] for r in rows}
        for seq in acked:  # every acknowledged event, as it was sent
            user, item, kind, value, ts = events[seq - base - 1]
            assert by_seq[seq] == (user, item, kind, value, ts)
        unacked = committed - len(loop.acked)
        assert unacked in (0, 1), "at most the event in flight is committed unacknowledged"
        committed = len(rows)
    assert len(acked) >= len(kills), "the kills came while the loop ran"
    final = Loop(path, base, first_ts)
    assert final.finish() == 0, final.child.stderr.read()[-2000:]
    assert logged(path) == logged(tmp_path / "uninterrupted.duckdb")
    engine = Engine.open(path)
    try:  # the retrain the first kill stopped was run on the next open, as during its event
        assert lists(engine) == expected
    finally:
        engine.close()


# -- import --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_lab(tmp_path_factory.mktemp("dataset"))


def test_an_import_killed_at_any_commit_leaves_the_old_lab_or_the_new_one(
    template, dataset, tmp_path
):
    crashes = every_commit(template, tmp_path, ["import", "--format", "lab", str(dataset)])
    assert crashes.killed, "the import commits"
    assert crashes.after != crashes.before
    assert crashes.half_applied() == {}
    for _, killed in crashes.killed.values():
        versions_are_whole(killed)
    # The lab a kill left imports as if nothing had happened.
    _, last = crashes.killed[max(crashes.killed)]
    assert cli(last, ["import", "--format", "lab", str(dataset)]).returncode == 0
    assert reopened(last) == crashes.after


def test_an_import_killed_at_seeded_moments_leaves_the_old_lab_or_the_new_one(
    template, dataset, tmp_path
):
    before, after = reopened(shutil.copy(template, tmp_path / "before.duckdb")), None
    for n, delay in enumerate(np.random.default_rng(7).uniform(0.6, 2.0, size=3)):
        path = tmp_path / f"lab-{n}.duckdb"
        shutil.copy(template, path)
        child = subprocess.Popen(
            [sys.executable, "-m", "recsys", "--db", str(path), "import", "--format", "lab",
             str(dataset)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=300)
        state = reopened(path)
        if state != before:
            if after is None:
                done = shutil.copy(template, tmp_path / "after.duckdb")
                assert cli(done, ["import", "--format", "lab", str(dataset)]).returncode == 0
                after = reopened(done)
            assert state == after, f"kill after {delay:.2f} s left a mixed lab"
        versions_are_whole(path)
