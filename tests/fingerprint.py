"""What a lab database holds, to check that bad input changed nothing (issue 17).

`fingerprint(path)` maps every table of a DuckDB file to (its columns, row count, content
hash). The hash is the sum of DuckDB's `hash()` of each whole row (a struct of its columns),
so it does not depend on row order, and two equal rows add instead of cancelling as an XOR
would. The file is opened read-only and closed again: looking changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

Fingerprint = dict[str, tuple[tuple[str, ...], int, int]]


def fingerprint(path: str | Path) -> Fingerprint:
    """{"schema.table": (column names, row count, sum of row hashes)} for every table.

    Raises `duckdb.Error` if `path` is not a DuckDB file that this process can open."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL"
        ).fetchall()
        found: Fingerprint = {}
        for schema, table in tables:
            name = f'"{schema}"."{table}"'
            columns = tuple(
                c for (c,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND "
                    "table_name = ? ORDER BY column_index",
                    [schema, table],
                ).fetchall()
            )  # fmt: skip
            count, total = con.execute(
                f"SELECT count(*), coalesce(sum(hash(t))::HUGEINT, 0) FROM {name} AS t"
            ).fetchone()
            found[f"{schema}.{table}"] = (columns, int(count), int(total))
        return found
    finally:
        con.close()


def files_in(folder: str | Path) -> set[str]:
    """Every path under `folder`, relative to it (to see that nothing new was written)."""
    root = Path(folder)
    return {str(p.relative_to(root)) for p in root.rglob("*")}
