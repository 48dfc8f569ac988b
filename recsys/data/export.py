"""Exporting the lab's log: events, impressions, learning log, model versions, experiments, the
update log and the alias history as Parquet or CSV files that DuckDB, pandas or Spark read back
(`python -m recsys export`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recsys.errors import RecsysError
from recsys.store.database import EXPORT_FORMATS, EXPORTS


def check_target(directory: str | Path, fmt: str, overwrite: bool = False) -> Path:
    """The folder to write, validated before anything is opened or written."""
    if fmt not in EXPORT_FORMATS:
        raise RecsysError(f"unknown format {fmt!r}; choose {' or '.join(EXPORT_FORMATS)}")
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise RecsysError(f"{folder} is a file; give a folder to export into")
    taken = [f"{name}.{fmt}" for name in EXPORTS if (folder / f"{name}.{fmt}").exists()]
    if taken and not overwrite:
        raise RecsysError(
            f"{folder} already has {taken[0]}; choose another folder or add --overwrite"
        )
    return folder


def export_lab(engine, directory: str | Path, fmt: str = "parquet", overwrite: bool = False):
    folder = check_target(directory, fmt, overwrite)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with engine.lock:  # a consistent cut of the log
            if fmt == "parquet":  # the one format that carries parameters
                for version in engine.version_store.deferred():  # seed versions nobody used
                    engine.host.from_version(engine.version_store.version(version, params=True))
            files = engine.store.export(folder, fmt)
    except OSError as error:
        raise RecsysError(f"cannot write to {folder}: {error.strerror or error}") from None
    result: dict[str, Any] = {"directory": str(folder), "format": fmt, "files": files}
    return result
