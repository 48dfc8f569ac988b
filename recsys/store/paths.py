"""Where the lab's database file is: importable without DuckDB, numpy or pandas, so the command
line can answer bad input before loading any of them."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB = Path(__file__).resolve().parents[2] / "data" / "lab.duckdb"


def database_path(path: str | Path | None = None) -> str:
    """`path`, else $RECSYS_DB, else data/lab.duckdb in the repository."""
    return str(path or os.environ.get("RECSYS_DB") or DEFAULT_DB)
