"""python -m recsys bench --size 100k|1m|4m|25m: one MovieLens-sized log, every figure the issue
names beside its target.

The MovieLens-format files (`recsys.bench.synthetic_movielens`) are generated once per size and
seed and kept in a cache folder (`cache_folder`), as generating 25 million ratings takes a while.
Each figure is measured in a FRESH Python process, so its peak resident memory (VmHWM, read by
the process itself at its end) belongs to that step alone:

- import: `python -m recsys import --format movielens` into a new lab file;
- reopen: `Engine.open` up to the default algorithm's first list;
- serve: `INTERACTIONS` interacts (half on existing users, half on new ones; clicks and likes,
  with the lab's retrain policies off, as the app runs those on its worker) and as many
  recommends to existing users, each timed alone: p50 and p99 in milliseconds;
- retrain: a full retrain of the default algorithm (mf) on the whole log.

A step whose resident memory passes `$RECSYS_BENCH_MAX_MB` (default 16 GiB) is stopped and
reported as failed, so a size that does not fit does not take the shared machine down with it.
The database file's size and the machine's 1-minute load average at each step are reported
too: on a shared machine the load explains the figures. `trees` measures other copies of the
code (main's worktree) on the same file, through the API every version has.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from recsys.bench.sizes import THIS_TREE

# MovieLens 25M's shape (162,541 users, 59,047 rated items); the smaller sizes keep the sizes
# bench's 100k, 1M and 4M (`recsys.bench.sizes`), so figures compare with its earlier rows.
BIG: dict[str, dict[str, int]] = {
    "100k": {"n_ratings": 100_000, "n_users": 1_000, "n_items": 10_000},
    "1m": {"n_ratings": 1_000_000, "n_users": 10_000, "n_items": 50_000},
    "4m": {"n_ratings": 4_000_000, "n_users": 40_000, "n_items": 60_000},
    "25m": {"n_ratings": 25_000_000, "n_users": 162_541, "n_items": 59_047},
}
TARGETS = {  # the figures for a 25M log on this machine
    "import s": 300.0,
    "import MB": 6_144.0,
    "reopen s": 5.0,
    "interact p99 ms": 30.0,
    "recommend p99 ms": 10.0,
    "retrain s": 300.0,
}
INTERACTIONS = 200
STEPS = ("import", "reopen", "serve", "retrain")

# What a step's fresh process runs: only the command line and Engine methods every version of
# the lab has, so an older worktree on PYTHONPATH runs it too. It prints one JSON line.
CHILD = r"""
import json, os, runpy, sys, time
step, db, folder, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
def quantiles(ms):
    ms = sorted(ms)
    return ms[len(ms) // 2], ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
out = {}
started = time.perf_counter()
if step == "import":
    sys.argv = ["recsys", "--db", db, "import", "--format", "movielens", folder]
    try:
        runpy.run_module("recsys", run_name="__main__")
    except SystemExit as end:
        if end.code:
            raise
    out["import s"] = time.perf_counter() - started
else:
    from recsys.engine import Engine
    engine = Engine.open(db)
    known = engine.users()
    users = sorted(u for u, kind in known.items() if kind == "imported") or sorted(known)
    if step == "reopen":
        engine.recommend(users[0])
        out["reopen s"] = time.perf_counter() - started
    elif step == "serve":
        import random
        rng = random.Random(0)
        engine.lifecycle.set_policy({"retrain_ratings": 0, "drift_detector": "off"})
        engine.recommend(users[0])  # the model built: what reopen measures
        n_items = engine.catalog.n
        took = []
        for i in range(n):
            user = rng.choice(users) if i % 2 == 0 else f"bench-new-{i}"
            kind = ("click", "like")[i % 4 // 2]
            mark = time.perf_counter()
            engine.interact(user, rng.randrange(n_items), kind)
            took.append((time.perf_counter() - mark) * 1000)
        out["interact p50 ms"], out["interact p99 ms"] = quantiles(took)
        took = []
        for user in rng.sample(users, min(n, len(users))):
            mark = time.perf_counter()
            engine.recommend(user)
            took.append((time.perf_counter() - mark) * 1000)
        out["recommend p50 ms"], out["recommend p99 ms"] = quantiles(took)
    else:
        started = time.perf_counter()
        engine.retrain()
        out["retrain s"] = time.perf_counter() - started
    engine.close()
out[step + " MB"] = peak_mb()
print(json.dumps(out))
"""


def cache_folder(size: str, seed: int = 0, root: Path | None = None) -> Path:
    """Where the generated files of `size` live: under `$RECSYS_BENCH_CACHE`, or a folder in
    the system's temporary directory, kept between runs."""
    base = root or Path(os.environ.get("RECSYS_BENCH_CACHE") or tempfile.gettempdir())
    return base / "recsys-bench-movielens" / f"{size}-seed{seed}"


def generated(
    size: str, seed: int = 0, root: Path | None = None, shape: dict[str, int] | None = None
) -> tuple[Path, float]:
    """The folder holding `size`'s ratings.csv and movies.csv (`shape`: n_ratings, n_users,
    n_items; default `BIG[size]`), generated if it is not cached (a `done` file marks a
    complete generation), and the seconds generating took (0 if cached). Raises KeyError for
    an unknown size without a shape."""
    from recsys.bench.synthetic_movielens import write_movielens

    shape = shape or BIG[size]
    folder = cache_folder(size, seed, root)
    done = folder / "done"
    if done.exists():
        return folder, 0.0
    started = time.perf_counter()
    write_movielens(folder, shape["n_users"], shape["n_ratings"], shape["n_items"], seed)
    seconds = time.perf_counter() - started
    done.write_text(json.dumps(shape))
    return folder, seconds


def run_size(
    size: str,
    trees: dict[str, str] | None = None,
    seed: int = 0,
    interactions: int = INTERACTIONS,
    progress=None,
    root: Path | None = None,
    shape: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Generate (or reuse) `size`'s files (`shape` as in `generated`) and measure every step
    on every tree (label -> folder holding `recsys`; default this one), each step in a fresh
    process, the trees taking turns per step; `progress(text)` hears of each step (default:
    a line on stderr). Returns {"rows", "generate s", "files", "text"}: one row of figures
    per tree (a failed step's figures are missing; its "STEP failed" says when and why)."""
    trees = trees or {"new": THIS_TREE}
    shape = shape or BIG[size]
    folder, generating = generated(size, seed, root, shape)
    rows = []
    with tempfile.TemporaryDirectory(prefix="recsys-bigsize-", dir=root) as work:
        found: dict[str, dict[str, Any]] = {tree: {} for tree in trees}
        for step in STEPS:
            for tree, path in trees.items():
                figures = found[tree]
                db = Path(work) / f"{tree}.duckdb"
                if step != "import" and "import s" not in figures:
                    continue  # nothing to open: its import failed
                (progress or _on_stderr)(f"{size} {tree} {step}")
                figures[f"load {step}"] = os.getloadavg()[0]
                figures |= measure(step, db, folder, path, interactions)
                if step == "import" and "import s" in figures:
                    figures["db MB"] = (
                        sum(p.stat().st_size for p in (db, Path(f"{db}.wal")) if p.exists()) / 2**20
                    )
        for tree in trees:
            rows.append({"size": size, "tree": tree, **shape, "interactions": interactions})
            rows[-1] |= found[tree]
    return {"rows": rows, "generate s": generating, "files": str(folder), "text": table(rows)}


def _on_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure(step: str, db: Path, folder: Path, tree: str, interactions: int) -> dict[str, Any]:
    """One step in a fresh process on `tree`'s code: its figures, or {"STEP failed": when and
    its last error line} (also on stderr) if it failed, out of memory say: a finding, not the
    end of the run. A child whose resident memory passes `max_mb()` is stopped (the machine
    is shared)."""
    env = os.environ | {"PYTHONPATH": tree, "RECSYS_MAX_IMPORT_MB": "65536"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, step, str(db), str(folder), str(interactions)],
        env=env,
        cwd=tempfile.gettempdir(),  # not a folder with another `recsys` in it
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    limit, stopped, started = max_mb(), threading.Event(), time.perf_counter()

    def watch() -> None:
        while child.poll() is None:
            if resident_mb(child.pid) > limit:
                stopped.set()
                child.kill()
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()
    out, err = child.communicate()
    if child.returncode != 0:
        last = (err.strip().splitlines() or ["no message"])[-1]
        if stopped.is_set():
            last = f"stopped past {limit:,.0f} MB resident (RECSYS_BENCH_MAX_MB)"
        print(f"{step} failed on {tree}: {last}", file=sys.stderr)
        return {f"{step} failed": f"after {time.perf_counter() - started:.0f} s: {last}"}
    return json.loads(out.strip().splitlines()[-1])


def max_mb() -> float:
    """The resident memory a step may reach: `$RECSYS_BENCH_MAX_MB`, default 16 GiB."""
    return float(os.environ.get("RECSYS_BENCH_MAX_MB") or 16_384)


def resident_mb(pid: int) -> float:
    """A process's resident memory in MB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


FIGURES = (  # label, key, format
    ("import", "import s", "{:.1f} s"),
    ("import peak RSS", "import MB", "{:,.0f} MB"),
    ("DB file", "db MB", "{:,.0f} MB"),
    ("reopen (to the first list)", "reopen s", "{:.2f} s"),
    ("reopen peak RSS", "reopen MB", "{:,.0f} MB"),
    ("interact p50", "interact p50 ms", "{:.1f} ms"),
    ("interact p99", "interact p99 ms", "{:.1f} ms"),
    ("recommend p50", "recommend p50 ms", "{:.1f} ms"),
    ("recommend p99", "recommend p99 ms", "{:.1f} ms"),
    ("serving peak RSS", "serve MB", "{:,.0f} MB"),
    ("MF retrain", "retrain s", "{:.1f} s"),
    ("MF retrain peak RSS", "retrain MB", "{:,.0f} MB"),
)


def table(rows: list[dict[str, Any]]) -> str:
    """Each figure on its own line, one column per tree, the target beside it, then the load
    average at each step."""
    trees = [r["tree"] for r in rows]
    first = rows[0]
    lines = [
        f"{first['size']}: {first['n_ratings']:,} ratings, {first['n_users']:,} users, "
        f"{first['n_items']:,} items",
        f"{'figure':<28}" + "".join(f"{t:>14}" for t in trees) + f"{'target':>14}",
    ]
    for label, key, form in FIGURES:
        cells = [form.format(r[key]) if key in r else "failed" for r in rows]
        target = TARGETS.get(key)
        goal = "<= " + form.format(target).replace(".0 ", " ") if target else ""
        lines.append(f"{label:<28}" + "".join(f"{c:>14}" for c in cells) + f"{goal:>14}")
    loads = ["/".join(f"{r[f'load {s}']:.1f}" for s in STEPS if f"load {s}" in r) for r in rows]
    lines.append(
        "load at import/reopen/serve/retrain: "
        + ";  ".join(f"{r['tree']} {x}" for r, x in zip(rows, loads, strict=True))
    )
    for r in rows:
        lines += [f"{r['tree']} {k}: {v}" for k, v in r.items() if k.endswith(" failed")]
    lines.append(
        f"Each step in a fresh process (peak RSS is its VmHWM); {first['interactions']} "
        "interacts (half "
        "on new users, clicks and likes, retrain policies off) and recommends, each timed alone; "
        "load: the 1-minute load average as each step started."
    )
    return "\n".join(lines)
