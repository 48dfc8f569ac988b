"""Bringing a dataset into the lab: validate it, keep its files, build its world, load it.

The files of an upload are kept under data/datasets (named by their content's hash), so a
scenario saved from the imported lab can load the same data again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recsys.errors import RecsysError

DATASETS_DIR = Path(__file__).resolve().parents[2] / "data" / "datasets"


def load_dataset(
    engine,
    report,
    *,
    path: str | Path | None = None,
    files: dict[str, bytes] | None = None,
    mapping: dict[str, dict[str, str]] | None = None,
    seed: int = 42,
    progress: Callable[[float, str], None] | None = None,
    holdout: float | None = None,
) -> dict[str, Any]:
    """Replace the lab with a validated dataset (`recsys.data.importer.ImportReport`): all or
    nothing. `path` is where its files are; uploaded `files` are kept first instead. `holdout`
    is the share set aside to measure versions on (default 0.1; 0 keeps every event)."""
    if not report.ok:
        raise RecsysError(
            f"the {report.format} files have {report.n_problems:,} problem"
            f"{'' if report.n_problems == 1 else 's'}, so nothing was "
            f"imported; the first: {report.problems[0]}"
        )
    if path is None:
        if files is None:
            raise RecsysError("give the dataset's path or its files")
        path = keep(files, report.dataset.name)
    if progress:
        progress(0.0, "fitting the semi-synthetic ground truth")
    world = dataset_lab(report, path, mapping, seed, holdout)
    info = engine.load_world(world, progress=progress)
    return info | {
        "format": report.format,
        "path": str(path),
        "summary": report.summary(),
        "held_out": len(world.holdout),
        "accounting": accounting(len(world.events), len(world.holdout)),
    }


def split_preview(report, holdout: float | None = None, seed: int = 42) -> tuple[int, int]:
    """(events kept in the log, events held out) that importing `report` with this holdout
    share and seed would give, without fitting anything (`recsys.world.set_aside`)."""
    import numpy as np
    import pandas as pd

    from recsys.world import HOLDOUT_SHARE, set_aside

    log = report.dataset.interactions
    if "holdout" in log:  # a lab export's own holdout
        held = int(log["holdout"].sum())
        return len(log) - held, held
    frame = pd.DataFrame(
        {
            "seq": np.arange(1, len(log) + 1),
            "user_id": log["user_id"],
            "item_id": log["external_id"],
        }
    )
    kept, held = set_aside(frame, HOLDOUT_SHARE if holdout is None else holdout, seed)
    return len(kept), len(held)


def accounting(kept: int, held: int) -> str:
    """Where the rows of the files go: the lab's log and the holdout, in one sentence."""
    read = kept + held
    if not held:
        return f"All {read:,} interactions are in the lab's log (no holdout)."
    return (
        f"{read:,} interactions read: {kept:,} are the lab's log and {held:,} "
        f"({held / read:.0%}) are the holdout, set aside to measure every model version on "
        "and never trained on; change the share with --holdout (command line) or Holdout share "
        "(Data page), 0 keeping them all."
    )


def dataset_lab(
    report, path: str | Path, mapping: dict | None, seed: int, holdout: float | None = None
):
    """The world of a validated dataset, remembering where its files are."""
    from recsys.data.scenarios import dataset_meta
    from recsys.data.semisynthetic import dataset_world

    world = dataset_world(report.dataset, seed, holdout)
    world.meta |= dataset_meta(str(Path(path).resolve()), mapping)
    return world


def keep(files: dict[str, bytes], name: str, root: Path | None = None) -> Path:
    """Write uploaded files to a folder named after their content (same files: same
    folder, written once) and return it."""
    files = {Path(file).name: data for file, data in files.items()}  # as written below
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(file.encode() + b"\0" + hashlib.sha256(files[file]).digest())
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "dataset"
    folder = (root or DATASETS_DIR) / f"{slug}-{digest.hexdigest()[:12]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for file, data in files.items():
            target = folder / file
            if not target.exists():
                partial = target.with_name(target.name + ".partial")
                partial.write_bytes(data)
                partial.replace(target)
    except OSError as error:
        raise RecsysError(f"cannot keep the uploaded files in {folder}: {error}") from None
    return folder
