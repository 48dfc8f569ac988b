"""kill -9 during retrains, promotions, rollbacks and simulated experiments (issue 17).

Each command is killed before each of its commits (`tests/crashlab.py`), and after seeded
delays: the lab reopened must be the one before it or the one a complete run leaves (every
table's row count and content hash), every version must have its whole state and every
algorithm a production version, and running the command again must give what an
uninterrupted run gives.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from recsys.engine import Engine
from recsys.store.connection import CRASH_AT
from tests.crashlab import ROOT, cli, every_commit, hashed, reopened, versions_are_whole

SIMULATE = ["experiment", "simulate", "--arms", "mf(factors=8),popularity", "--users", "60",
            "--sessions", "5", "--seed", "3", "--json"]  # fmt: skip
COMMANDS = {
    "retrain": ["retrain", "--algorithm", "mf", "--json"],
    "gated retrain": ["versions", "train", "--algorithm", "mf", "--json"],
    "promotion": ["versions", "promote", "CANDIDATE", "--force", "--json"],
    "rollback": ["versions", "rollback", "--algorithm", "mf", "--json"],
    "simulated experiment": SIMULATE,
}


@pytest.fixture(scope="module")
def template(small_world_file, tmp_path_factory) -> tuple[Path, str]:
    """The small world with every version measured; mf has a production to roll back from
    (a retrain) and a candidate to promote."""
    path = tmp_path_factory.mktemp("crash-lifecycle") / "template.duckdb"
    shutil.copy(small_world_file, path)
    engine = Engine.open(path)
    engine.lifecycle.measured()
    engine.retrain("mf")
    candidate = engine.lifecycle.train("mf", "manual", promote="never")["label"]  # mf's v3
    engine.close()
    return path, candidate


def command(name: str, candidate: str) -> list[str]:
    return [f"mf@{candidate}" if a == "CANDIDATE" else a for a in COMMANDS[name]]


def production_state(path: Path) -> dict:
    engine = Engine.open(path)
    try:
        version = engine.version_store.alias("mf", "production")
        return engine.version_store.version(version, params=True)["params"]
    finally:
        engine.close()


@pytest.mark.parametrize("name", COMMANDS)
def test_a_command_killed_at_any_commit_is_all_or_nothing(template, tmp_path, name):
    path, candidate = template
    crashes = every_commit(path, tmp_path, command(name, candidate))
    assert crashes.killed and crashes.after != crashes.before
    assert crashes.half_applied() == {}
    for _, killed in crashes.killed.values():
        versions_are_whole(killed)
    versions_are_whole(crashes.done)
    # The lab the last kill left (all but the final commit done) runs the command again as
    # if nothing had happened.
    _, last = crashes.killed[max(crashes.killed)]
    again = cli(last, command(name, candidate))
    assert again.returncode == 0, again.stderr
    if name == "simulated experiment":  # the same seed, the same results
        assert hashed(again.stdout) == hashed(crashes.output)
        assert reopened(last) == crashes.after
    elif name in ("retrain", "gated retrain"):  # the same parameters (a new version id)
        assert json.loads(again.stdout)["metrics"] == json.loads(crashes.output)["metrics"]
        same = production_state(last), production_state(crashes.done)
        assert same[0].keys() == same[1].keys()
        assert all(np.array_equal(same[0][k], same[1][k]) for k in same[0])
    else:
        assert reopened(last) == crashes.after


@pytest.mark.parametrize("name", ["retrain", "simulated experiment"])
def test_a_command_killed_at_seeded_moments_is_all_or_nothing(template, tmp_path, name):
    path, candidate = template
    before = reopened(shutil.copy(path, tmp_path / "before.duckdb"))
    done = shutil.copy(path, tmp_path / "after.duckdb")
    assert cli(done, command(name, candidate)).returncode == 0
    after = reopened(done)
    env = {k: v for k, v in os.environ.items() if k != CRASH_AT}
    for n, delay in enumerate(np.random.default_rng(11).uniform(0.4, 1.6, size=3)):
        lab = shutil.copy(path, tmp_path / f"lab-{n}.duckdb")
        child = subprocess.Popen(
            [sys.executable, "-m", "recsys", "--db", str(lab), *command(name, candidate)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=300)
        assert reopened(lab) in (before, after), f"a kill after {delay:.2f} s"
        versions_are_whole(lab)


ORPHAN = """
import os, signal, sys
from recsys.engine import Engine

engine = Engine.open(sys.argv[1])
# What a background retrain does first, off the lock: its state, before the version names it.
engine.version_store.store_state(engine.model("mf").state())
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_state_left_by_a_kill_before_its_version_is_dropped_on_open(template, tmp_path):
    path, _ = template
    before = reopened(shutil.copy(path, tmp_path / "before.duckdb"))
    lab = shutil.copy(path, tmp_path / "lab.duckdb")
    run = subprocess.run([sys.executable, "-c", ORPHAN, str(lab)], cwd=ROOT, timeout=300)
    assert run.returncode == -signal.SIGKILL
    assert reopened(lab) == before
