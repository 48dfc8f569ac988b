"""python -m recsys bench --sizes: import, reopen, reset and retrain at growing sizes, with peak
memory per step.

Each size is a MovieLens-format dataset generated from a seed (`recsys.bench.synthetic_movielens`)
in a temporary folder, imported with `python -m recsys import` into a new lab, then reopened,
reset and retrained. Every step runs in a FRESH Python process, so the peak resident memory
(VmHWM, read by the process itself at its end) belongs to that step alone. The machine's load
average is printed at the start and end of each row: on a shared machine it explains the
figures. `trees` measures other copies of the code (an older commit's worktree) side by side
on the same files, through the commands every version has.

Sizes are named items/events, as the performance budgets name worlds (the default world has
1,600 items; "10k" is the bench's 10,000-item world); users follow MovieLens' ~100 ratings each.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from recsys.bench.synthetic_movielens import write_movielens

SIZES: dict[str, dict[str, int]] = {
    "1.6k/60k": {"n_items": 1_600, "n_users": 600, "n_ratings": 60_000},
    "10k/100k": {"n_items": 10_000, "n_users": 1_000, "n_ratings": 100_000},
    "50k/1M": {"n_items": 50_000, "n_users": 10_000, "n_ratings": 1_000_000},
}
BIG_SIZES: dict[str, dict[str, int]] = {  # minutes of work: only with --big
    "60k/4M": {"n_items": 60_000, "n_users": 40_000, "n_ratings": 4_000_000},
}
STEPS = ("import", "reopen", "reset", "retrain")
THIS_TREE = str(Path(__file__).resolve().parents[2])
NOT_RUN = {"seconds": float("nan"), "peak_mb": float("nan")}

# What a step's fresh process runs: only commands and methods every version of the lab has
# (`python -m recsys import`, Engine.open / reset_lab / retrain / close), so an old worktree
# on PYTHONPATH runs it as well. It prints one JSON line: seconds and peak memory.
CHILD = r"""
import json, os, runpy, sys, time
step, db, folder = sys.argv[1:4]
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
started = time.perf_counter()
if step == "import":
    sys.argv = ["recsys", "--db", db, "import", "--format", "movielens", folder]
    try:
        runpy.run_module("recsys", run_name="__main__")
    except SystemExit as end:
        if end.code:
            raise
    seconds = time.perf_counter() - started
else:
    from recsys.engine import Engine
    engine = Engine.open(db)
    seconds = time.perf_counter() - started
    if step != "reopen":
        started = time.perf_counter()
        engine.reset_lab() if step == "reset" else engine.retrain()
        seconds = time.perf_counter() - started
    engine.close()
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb()}))
"""


def run_sizes(
    sizes: dict[str, dict[str, int]] | None = None,
    trees: dict[str, str] | None = None,
    repeats: int = 1,
    seed: int = 0,
    progress=None,
) -> dict[str, Any]:
    """Measure every size on every tree (label -> folder holding `recsys`; default: this
    one), `repeats` times each, steps alternating between trees so that a change in the
    machine's load hits both alike. Returns the rows and a text table of medians."""
    sizes = sizes or SIZES
    trees = trees or {"this": THIS_TREE}
    rows = []
    with tempfile.TemporaryDirectory(prefix="recsys-sizes-") as folder:
        for label, size in sizes.items():
            data = Path(folder) / label.replace("/", "-")
            write_movielens(data, size["n_users"], size["n_ratings"], size["n_items"], seed)
            found: dict[str, dict[str, list[float]]] = {tree: {} for tree in trees}
            load_start = os.getloadavg()[0]
            for repeat in range(repeats):
                for tree, path in trees.items():
                    db = Path(folder) / f"{tree}-{repeat}.duckdb"
                    failed = False
                    for step in STEPS:
                        if progress:
                            progress(f"{label} {tree} {step} ({repeat + 1}/{repeats})")
                        # Without its import, a step would open (and seed) the default world.
                        measured = NOT_RUN if failed else measure_step(step, db, data, path)
                        failed = failed or measured["seconds"] != measured["seconds"]  # NaN
                        for key, value in measured.items():
                            found[tree].setdefault(f"{step} {key}", []).append(value)
                    for leftover in (db, Path(f"{db}.wal")):
                        leftover.unlink(missing_ok=True)
            load_end = os.getloadavg()[0]
            for tree in trees:
                medians = {k: statistics.median(v) for k, v in found[tree].items()}
                rows.append(
                    {"size": label, "tree": tree, **size, "repeats": repeats}
                    | {"load start": load_start, "load end": load_end}
                    | medians
                )
    return {"rows": rows, "text": table(rows)}


def measure_step(step: str, db: Path, data: Path, tree: str) -> dict[str, float]:
    """Run one step in a fresh process on `tree`'s code: {"seconds", "peak_mb"} (NaN, and
    its last error line on stderr, if it failed)."""
    env = os.environ | {"PYTHONPATH": tree, "RECSYS_MAX_IMPORT_MB": "4096"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, step, str(db), str(data)],
        env=env,
        cwd=tempfile.gettempdir(),  # not a folder with another `recsys` in it
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:  # out of memory, say: a finding, not the end of the run
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        print(f"{step} failed on {tree}: {last}", file=sys.stderr)
        return NOT_RUN
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict[str, Any]]) -> str:
    """Medians per size and tree: seconds and peak MB of each step, and the load average."""
    header = (
        f"{'size (items/events)':<20} {'tree':<6} {'users':>7} {'import s':>9} {'MB':>6} "
        f"{'reopen s':>9} {'MB':>6} {'reset s':>8} {'retrain s':>10} {'MB':>6} {'load':>11}"
    )
    lines = [header]
    for r in rows:
        lines.append(
            f"{r['size']:<20} {r['tree']:<6} {r['n_users']:>7,} {r['import seconds']:>9.2f} "
            f"{r['import peak_mb']:>6.0f} {r['reopen seconds']:>9.2f} {r['reopen peak_mb']:>6.0f} "
            f"{r['reset seconds']:>8.2f} {r['retrain seconds']:>10.2f} "
            f"{r['retrain peak_mb']:>6.0f} {r['load start']:>5.2f}-{r['load end']:<5.2f}"
        )
    lines.append(
        "Medians of the repeats; each step in a fresh process (peak MB is its VmHWM); reset and "
        "retrain time the call alone, after an open; load: 1-minute load average at the row's "
        "start and end."
    )
    return "\n".join(lines)
