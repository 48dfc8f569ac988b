"""Every command ends quietly when the reader of its output goes away (issue 16, kind 9)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """Run `python -m recsys ARGS` with stdout a pipe whose reader has already closed, as
    `... | head -1` leaves it once head has its line: every write gets EPIPE, deterministically."""
    read, write = os.pipe()
    os.close(read)
    env = {k: v for k, v in os.environ.items() if k != "RECSYS_DB"}
    try:
        return subprocess.run(
            [sys.executable, "-m", "recsys", *args],
            cwd=ROOT, env=env, stdout=write, stderr=subprocess.PIPE, text=True, timeout=300,
        )  # fmt: skip
    finally:
        os.close(write)


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (("algorithms",), 141),  # as a Unix tool killed by SIGPIPE
        (("algorithms", "--json"), 141),
        # argparse itself drops an OSError while printing help, then exits 0.
        (("--help",), 0),
        (("interact", "--help"), 0),
    ],
    ids=["text", "json", "help", "command help"],
)
def test_a_closed_reader_ends_the_command_quietly(args, status):
    done = run_into_closed_pipe(*args)
    assert (done.stderr, done.returncode) == ("", status)


def test_a_closed_reader_of_a_lab_command_changes_nothing_and_says_nothing(db_path):
    done = run_into_closed_pipe("--db", str(db_path), "recommend", "--user", "u1", "--json")
    assert (done.stderr, done.returncode) == ("", 141)


def test_a_reader_that_stays_gets_everything():
    done = subprocess.run(
        [sys.executable, "-m", "recsys", "algorithms"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines()[0].startswith("mf: ")
