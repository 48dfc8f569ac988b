"""What the crash tests share: kill a real process at every commit, and fingerprint a lab.

A lab on disk can only be in a state some commit left it in (DuckDB's write-ahead log makes a
commit all or nothing), so killing an operation just before each of its commits, one run per
commit (`RECSYS_CRASH_AT=k`, the store's test-only hook in `recsys/store/connection.py`), tries
every state a crash anywhere in it can leave. `every_commit` does that for one command line and
returns the lab after each kill, reopened, with the lab before and after a complete run; an
operation is all or nothing when each of them is one of those two.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from recsys.engine import Engine
from recsys.store.connection import CRASH_AT

ROOT = Path(__file__).resolve().parent.parent
MAX_COMMITS = 40  # an operation that commits more often than this is not one operation
# Columns holding the wall clock (when a row was written, how long something took): they differ
# between two runs of one operation and are left out of a fingerprint.
WALL_CLOCK = {"created_at", "applied_at", "fit_seconds", "seconds", "duration_ms"}
# A run's speed inside an experiment's details (JSON): wall clock too.
SPEED = r'"(seconds|impressions_per_second)": [-0-9.eE+]+'


def fingerprint(path: Path) -> dict[str, tuple[int, int]]:
    """Every table's row count and content hash (order-free: a sum of row hashes), wall-clock
    columns aside. Meta's `next ... id` counters are left out: an id reserved by an operation
    that then died stays unused by design (ids are never reused), it holds no data."""
    con = duckdb.connect(str(path))
    try:
        tables = [
            t
            for (t,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
        ]
        found = {}
        for table in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                    "ORDER BY column_index",
                    [table],
                ).fetchall()
                if c not in WALL_CLOCK
            ]
            listed = ", ".join(
                f"regexp_replace(details, '{SPEED}', '', 'g')"
                if (table, c) == ("experiments", "details")
                else f'"{c}"'
                for c in columns
            )
            where = "WHERE key NOT LIKE 'next % id'" if table == "meta" else ""
            count, total = con.execute(
                f'SELECT count(*), coalesce(sum(hash({listed})::HUGEINT), 0) FROM "{table}" {where}'
            ).fetchone()
            found[table] = (count, int(total))
        return found
    finally:
        con.close()


def reopened(path: Path) -> dict[str, tuple[int, int]]:
    """The lab as the next process finds it: opened by the engine (which finishes or undoes
    whatever a crash left, if anything), closed, then fingerprinted."""
    Engine.open(path).close()
    return fingerprint(path)


def differences(a: dict, b: dict) -> list[str]:
    """The tables whose count or hash differ between two fingerprints."""
    return [
        f"{t}: {a.get(t)} != {b.get(t)}" for t in sorted(set(a) | set(b)) if a.get(t) != b.get(t)
    ]


def cli(path: Path, args: list[str], crash_at: int | None = None) -> subprocess.CompletedProcess:
    """`python -m recsys --db PATH ARGS` in a child process, killed before its `crash_at`-th
    commit if given."""
    env = {k: v for k, v in os.environ.items() if k != CRASH_AT}
    if crash_at is not None:
        env[CRASH_AT] = str(crash_at)
    return subprocess.run(
        [sys.executable, "-m", "recsys", "--db", str(path), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@dataclass
class Crashes:
    """The lab before an operation, after a complete run of it, and after each kill
    (reopened): `killed[k]` is the lab killed before the operation's k-th commit."""

    before: dict
    after: dict
    done: Path  # the lab file of the complete run
    output: str  # its standard output
    killed: dict[int, tuple[dict, Path]] = field(default_factory=dict)

    def half_applied(self) -> dict[int, list[str]]:
        """The kills that left neither the lab before nor the one after, with what differs
        from the one before."""
        return {
            k: differences(self.before, state)
            for k, (state, _) in self.killed.items()
            if state not in (self.before, self.after)
        }


def every_commit(template: Path, folder: Path, args: list[str]) -> Crashes:
    """Run `args` on copies of `template`, killed before its 1st, 2nd, ... commit until a run
    gets to the end; each killed lab is reopened and fingerprinted."""
    before = reopened(_copy(template, folder / "before.duckdb"))
    killed = {}
    for k in range(1, MAX_COMMITS + 1):
        path = _copy(template, folder / f"killed-{k}.duckdb")
        run = cli(path, args, crash_at=k)
        if run.returncode == 0:  # fewer than k commits: this run was the complete one
            return Crashes(before, reopened(path), path, run.stdout, killed)
        assert run.returncode == -signal.SIGKILL, (k, run.returncode, run.stderr[-2000:])
        killed[k] = (reopened(path), path)
    raise AssertionError(f"{args} still running after {MAX_COMMITS} commits")


def _copy(template: Path, path: Path) -> Path:
    shutil.copy(template, path)
    return path


def versions_are_whole(path: Path) -> None:
    """Every stored version has all of its state (each array's words), every alias names a
    stored version, and every algorithm has a production version."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        broken = con.execute(
            "SELECT v.version_id FROM model_versions v LEFT JOIN (SELECT state_id, "
            "sum(words) AS words, count(*) AS arrays FROM state_arrays GROUP BY ALL) a "
            "USING (state_id) LEFT JOIN (SELECT state_id, count(*) AS words FROM state_words "
            "GROUP BY ALL) w USING (state_id) WHERE v.state_id IS NOT NULL AND "
            "(a.arrays IS NULL OR coalesce(w.words, 0) <> a.words)"
        ).fetchall()
        assert broken == [], f"versions without their full state: {broken}"
        dangling = con.execute(
            "SELECT algorithm, alias FROM aliases WHERE version_id NOT IN "
            "(SELECT version_id FROM model_versions)"
        ).fetchall()
        assert dangling == [], f"aliases naming no version: {dangling}"
        unserved = con.execute(
            "SELECT DISTINCT algorithm FROM model_versions WHERE algorithm NOT IN "
            "(SELECT algorithm FROM aliases WHERE alias = 'production')"
        ).fetchall()
        assert unserved == [], f"algorithms without production: {unserved}"
    finally:
        con.close()


def hashed(text: str) -> str:
    """A short digest of `text` with its wall-clock numbers removed (a command's JSON)."""
    steady = re.sub(SPEED, "", text)
    return hashlib.sha256(steady.encode()).hexdigest()[:16]
