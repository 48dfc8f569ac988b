"""What reopening a lab costs, measured in a fresh process (nothing imported or cached yet), and
what the defense tour's "Rehearse again" costs (`tour_rehearsal_seconds`).

`reopen_seconds(path)` opens the lab at `path` in a new Python process, asks for the default
algorithm's first list (which builds that model from its newest saved state and replays the
log after it) and closes it again; it returns the seconds of each step and the process's peak
resident memory. Closing may write a checkpoint, as closing the app would.

>>> import tempfile, pathlib
>>> from recsys.engine import Engine
>>> path = pathlib.Path(tempfile.mkdtemp()) / "lab.duckdb"
>>> Engine.create(path, n_users=20, sessions_per_user=5).close()
>>> sorted(reopen_seconds(path))
['first list s', 'import s', 'open s', 'peak rss MB', 'reopen s']
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_SCRIPT = """
import json, resource, sys, time
started = time.perf_counter()
from recsys.engine import Engine
imported = time.perf_counter()
engine = Engine.open(sys.argv[1])
opened = time.perf_counter()
engine.recommend(min(engine.users(), default="bench"))
listed = time.perf_counter()
engine.close()
print(json.dumps({
    "import s": imported - started,
    "open s": opened - imported,
    "first list s": listed - opened,
    "reopen s": listed - imported,
    "peak rss MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def reopen_seconds(path: str | Path) -> dict[str, float]:
    """Open `path` in a fresh process up to the first list of the default algorithm: `import s`
    (the engine's modules), `open s`, `first list s`, their sum `reopen s` (imports left out)
    and `peak rss MB`. Raises RuntimeError with the child's error if it fails."""
    root = str(Path(__file__).resolve().parents[2])
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(path)], capture_output=True, text=True, env=env
    )
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def tour_rehearsal_seconds(engine) -> float:
    """Seconds of the defense tour's "Rehearse again" after the whole tour has run on
    `engine`'s lab (the lab reset to its seeded world, then the first step shown again)."""
    import time

    from recsys import tour as story

    tour = story.Tour("mf")
    story.advance(engine, tour, len(story.DEFENSE) - 1)
    mark = time.perf_counter()
    story.rehearse(engine, tour)
    return time.perf_counter() - mark
