"""What a lab database holds, to check that bad input changed nothing (issue 17).

`fingerprint(path)` maps every table of a DuckDB file to (its columns, row count, content
hash). The hash is the sum of DuckDB's `hash()` of each whole row (a struct of its columns),
so it does not depend on row order, and two equal rows add instead of cancelling as an XOR
would. The file is opened read-only and closed again: looking changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

Fingerprint = dict[str, tuple[tuple[str, ...], int, int]]


def fingerprint(path: str | Path, query: Callable[[str, list], list] | None = None) -> Fingerprint:
    """{"schema.table": (column names, row count, sum of row hashes)} for every table.

    `query(sql, params) -> rows` reads through a connection the caller already holds (an app's
    engine: DuckDB refuses a second, read-only one to a file this process has open); else the
    file is opened read-only. Raises `duckdb.Error` if it is not a DuckDB file."""
    if query is not None:
        return _tables(query)
    con = duckdb.connect(str(path), read_only=True)
    try:
        return _tables(lambda sql, params: con.execute(sql, params).fetchall())
    finally:
        con.close()


def _tables(query: Callable[[str, list], list]) -> Fingerprint:
    found: Fingerprint = {}
    tables = query("SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL", [])
    for schema, table in tables:
        columns = query(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
            "ORDER BY column_index",
            [schema, table],
        )
        count, total = query(
            f'SELECT count(*), coalesce(sum(hash(t))::HUGEINT, 0) FROM "{schema}"."{table}" AS t',
            [],
        )[0]
        found[f"{schema}.{table}"] = (tuple(c for (c,) in columns), int(count), int(total))
    return found


def files_in(folder: str | Path) -> set[str]:
    """Every path under `folder`, relative to it (to see that nothing new was written)."""
    root = Path(folder)
    return {str(p.relative_to(root)) for p in root.rglob("*")}
