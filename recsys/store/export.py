"""Exporting the log tables to Parquet or CSV files (read only: it owns no table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys.store import states
from recsys.store.connection import Database, encode_arrays

# What `export` writes: name -> (query, query for CSV when it differs). A version's parameters
# are .npz bytes: kept in Parquet (a binary column), left out of CSV, which has no bytes type.
# Versions saved as arrays (`states`) are encoded to .npz for the file (`version_params`).
EXPORTS = {
    "events": ("SELECT * FROM events ORDER BY seq", None),
    "impressions": (
        "SELECT * FROM impressions ORDER BY experiment_id, request_id, position",
        None,
    ),
    "learning_log": ("SELECT * FROM learning_log ORDER BY seq, algorithm", None),
    "model_versions": (
        "SELECT v.* EXCLUDE (params, state_id), coalesce(v.params, p.params) AS params "
        "FROM model_versions v LEFT JOIN version_params p USING (version_id) "
        "ORDER BY version_id",
        "SELECT * EXCLUDE (params, state_id) FROM model_versions ORDER BY version_id",
    ),
    "experiments": ("SELECT * FROM experiments ORDER BY experiment_id", None),
}
EXPORT_FORMATS = ("parquet", "csv")


def export_tables(db: Database, directory: Path, fmt: str) -> dict[str, int]:
    """Copy the EXPORTS tables to `directory` as `fmt` ("parquet" or "csv") files, all read in
    one transaction so no event lands between two tables; returns the rows per file name.
    Files are written to a scratch folder first and moved in at the end: a failure leaves none.
    """
    scratch = directory / ".export-partial"
    scratch.mkdir(parents=True, exist_ok=True)
    counts = {}
    try:
        with db.snapshot() as cursor:
            cursor.register("version_params", _version_params(db, fmt))
            for name, (query, csv_query) in EXPORTS.items():
                target = scratch / f"{name}.{fmt}"
                quoted = str(target).replace("'", "''")
                options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
                sql = csv_query if fmt == "csv" and csv_query else query
                cursor.execute(f"COPY ({sql}) TO '{quoted}' ({options})")
                cursor.fetchall()
                counts[f"{name}.{fmt}"] = cursor.execute(
                    f"SELECT count(*) FROM ({sql})"
                ).fetchall()[0][0]
    except BaseException:
        for leftover in scratch.iterdir():
            leftover.unlink()
        scratch.rmdir()
        raise
    for file in counts:
        (scratch / file).replace(directory / file)
    scratch.rmdir()
    return counts


def _version_params(db: Database, fmt: str) -> pd.DataFrame:
    """version_id, params: the .npz bytes of each version saved as arrays (Parquet only)."""
    saved = db.query("SELECT version_id, state_id FROM model_versions WHERE state_id IS NOT NULL")
    rows = [(v, encode_arrays(states.read_state(db, s))) for v, s in saved if fmt == "parquet"]
    frame = pd.DataFrame(rows, columns=["version_id", "params"])
    return frame.astype({"version_id": "int32", "params": object})
