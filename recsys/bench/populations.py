"""Simulated A/B runs past the world's own people: `python -m recsys bench` adds one row
(100,000 people x 5 sessions on the default world, target <= 15 s), and
`python -m recsys bench --populations [--against OLD_TREE] [--repeat N]` measures, each in a
fresh process with its peak memory, a run at the world's own size (the old maximum) and at
100,000 people, on this tree and an older one side by side (an older tree refuses the big run:
its users stop at the world's people).

Every run is `simulate(engine, "mf,popularity", users=N, sessions=5, seed=...)`, timed alone
after the engine is open and both arms' models are built, which every version of the lab has.
The machine's load average is printed with each row: on a shared machine it explains figures.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from recsys.bench.sizes import THIS_TREE

TARGET_PEOPLE, TARGET_SESSIONS, TARGET_SECONDS = 100_000, 5, 15.0
ARMS = "mf,popularity"

CHILD = r"""
import json, sys, time
db, users, sessions, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.experiments.simulation import simulate
engine = Engine.open(db)
engine.model("mf"), engine.model("popularity")
users = None if users == "world" else int(users)
started = time.perf_counter()
try:
    result = simulate(engine, "mf,popularity", users=users, sessions=sessions, seed=seed)
except RecsysError as error:
    print(json.dumps({"refused": str(error)}))
    raise SystemExit(0)
seconds = time.perf_counter() - started
peak = next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))
impressions = sum(a["impressions"] for a in result["arms"])
users = sum(a["users"] for a in result["arms"])
engine.close()
print(json.dumps({"seconds": seconds, "impressions": impressions, "users": users,
                  "impressions/s": impressions / seconds, "peak_mb": peak}))
"""


def big_run(path: Path, people: int = TARGET_PEOPLE, seed: int = 0) -> dict[str, float]:
    """The bench's row: one run of `people` x 5 sessions on the lab at `path` (in process);
    {"A/B sim <people> x 5 s": seconds, "... impressions/s": throughput}."""
    from recsys.engine import Engine
    from recsys.experiments.simulation import simulate

    engine = Engine.open(path)
    engine.model("mf"), engine.model("popularity")
    started = time.perf_counter()
    result = simulate(engine, ARMS, users=people, sessions=TARGET_SESSIONS, seed=seed)
    seconds = time.perf_counter() - started
    engine.close()
    label = f"A/B sim {people:,} x {TARGET_SESSIONS}"
    impressions = sum(a["impressions"] for a in result["arms"])
    return {f"{label} s": seconds, f"{label} impressions/s": impressions / seconds}


def run_populations(
    trees: dict[str, str] | None = None, repeats: int = 3, people: int = TARGET_PEOPLE
) -> dict[str, Any]:
    """Medians over `repeats` of a world-size run and a `people` run per tree (label -> folder
    holding `recsys`), alternating trees so a change in load hits both; each run in a fresh
    process on a fresh copy of one seeded default lab. Returns rows and a text table."""
    trees = trees or {"new": THIS_TREE}
    rows = []
    with tempfile.TemporaryDirectory(prefix="recsys-populations-") as folder:
        template = Path(folder) / "template.duckdb"
        _child_run(THIS_TREE, "from recsys.engine import Engine; import sys; "
                   "Engine.create(sys.argv[1]).close()", str(template))  # fmt: skip
        for size in ("world", str(people)):
            found: dict[str, list[dict]] = {tree: [] for tree in trees}
            load_start = os.getloadavg()[0]
            for repeat in range(repeats):
                for tree, code in trees.items():
                    db = Path(folder) / f"{tree}-{repeat}.duckdb"
                    db.write_bytes(template.read_bytes())
                    out = _child_run(code, CHILD, str(db), size, str(TARGET_SESSIONS), str(repeat))
                    found[tree].append(json.loads(out.strip().splitlines()[-1]))
                    db.unlink()
            load = (load_start, os.getloadavg()[0])
            for tree, runs in found.items():
                rows.append(_row(size, tree, runs, load))
    return {"rows": rows, "text": table(rows)}


def _child_run(tree: str, code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=os.environ | {"PYTHONPATH": tree},
        cwd=tempfile.gettempdir(),  # not a folder with another `recsys` in it
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"a bench run failed on {tree}: {last}")
    return done.stdout


def _row(size: str, tree: str, runs: list[dict], load: tuple[float, float]) -> dict[str, Any]:
    if any("refused" in r for r in runs):
        return {"size": size, "tree": tree, "refused": runs[0]["refused"], "load": load}
    medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    return {"size": size, "tree": tree, "repeats": len(runs), "load": load} | medians


def table(rows: list[dict[str, Any]]) -> str:
    """One line per (size, tree): users, impressions, seconds, impressions/s, peak MB, load."""
    lines = [
        f"{'run':<12} {'tree':<5} {'users':>8} {'impressions':>12} {'s':>7} {'impr/s':>9} "
        f"{'peak MB':>8} {'load':>11}"
    ]
    for r in rows:
        load = f"{r['load'][0]:>5.2f}-{r['load'][1]:<5.2f}"
        size = "world x 5" if r["size"] == "world" else f"{int(r['size']):,} x 5"
        if "refused" in r:
            lines.append(f"{size:<12} {r['tree']:<5} refused: {r['refused']}  load {load}")
            continue
        lines.append(
            f"{size:<12} {r['tree']:<5} {r['users']:>8,.0f} {r['impressions']:>12,.0f} "
            f"{r['seconds']:>7.2f} {r['impressions/s']:>9,.0f} {r['peak_mb']:>8.0f} {load}"
        )
    lines.append(
        f"Medians; mf vs popularity, {TARGET_SESSIONS} sessions of 10 items per person; target: "
        f"{TARGET_PEOPLE:,} people in <= {TARGET_SECONDS:g} s. Seconds time simulate() alone "
        "(after the lab opens and both models are built), in a fresh process per run; load: "
        "the 1-minute load average at the row's start and end (2 shared cores)."
    )
    return "\n".join(lines)
