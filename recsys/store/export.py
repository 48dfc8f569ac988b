"""Exporting the log tables to Parquet or CSV files (read only: it owns no table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys.store import states
from recsys.store.connection import Database, encode_arrays

# Items leave the lab under the dataset's own ids (MovieLens' movieId; a generated world's
# row, as text) and events with their Unix time: the lab's item rows and its clock (seconds since
# the world's epoch) never leave it.
KEY = "coalesce(i.external_id, CAST(i.item_id AS VARCHAR))"
EPOCH = "epoch(CAST((SELECT value FROM meta WHERE key = 'epoch') AS TIMESTAMP))"
ITEM_KEYS = f"(SELECT item_id, {KEY} AS item FROM items i)"
# What `export` writes: name -> (query, query for CSV when it differs). A version's parameters
# are .npz bytes: kept in Parquet (a binary column), left out of CSV, which has no bytes type.
# Versions saved as arrays (`states`) are encoded to .npz for the file (`version_params`).
EXPORTS = {
    "events": (
        f"SELECT e.seq, {EPOCH} + e.ts AS timestamp, e.user_id, k.item AS item_id, e.kind, "
        f"e.value, e.context, e.source FROM events e JOIN {ITEM_KEYS} k USING (item_id) "
        "ORDER BY e.seq",
        None,
    ),
    "impressions": (
        f"SELECT x.* REPLACE (k.item AS item_id) FROM impressions x JOIN {ITEM_KEYS} k "
        "USING (item_id) ORDER BY experiment_id, request_id, position",
        None,
    ),
    "learning_log": (
        f"SELECT l.* REPLACE (k.item AS item_id) FROM learning_log l JOIN {ITEM_KEYS} k "
        "USING (item_id) ORDER BY seq, algorithm",
        None,
    ),
    "model_versions": (
        "SELECT v.* EXCLUDE (params, state_id), coalesce(v.params, p.params) AS params "
        "FROM model_versions v LEFT JOIN version_params p USING (version_id) "
        "ORDER BY version_id",
        "SELECT * EXCLUDE (params, state_id) FROM model_versions ORDER BY version_id",
    ),
    "experiments": ("SELECT * FROM experiments ORDER BY experiment_id", None),
    # What the Model versions page's "Updates and alias moves" shows: every retrain, mini-batch
    # and failure, and the audit trail of every alias move (who or what, when, why).
    "update_log": ("SELECT * FROM update_log ORDER BY update_id", None),
    "alias_history": ("SELECT * FROM alias_history ORDER BY move_id", None),
}
# The lab as a dataset in the lab CSV format, whatever the export format: `python -m recsys
# import --format lab FOLDER` gives the same items, users, events and holdout back.
DATASET = {
    "items.csv": (
        f"SELECT {KEY} AS item_id, title, array_to_string(genres, '|') AS genres, "
        "array_to_string(tags, '|') AS tags, year FROM items i ORDER BY i.item_id"
    ),
    "interactions.csv": (
        f"SELECT user_id, k.item AS item_id, kind, value, {EPOCH} + ts AS timestamp, holdout "
        "FROM (SELECT seq AS n, 0 AS part, ts, user_id, item_id, kind, value, 0 AS holdout "
        "FROM events UNION ALL SELECT row_number() OVER () AS n, 1, ts, user_id, item_id, "
        "kind, value, 1 FROM holdout) JOIN "
        f"{ITEM_KEYS} k USING (item_id) ORDER BY ts, part, n"
    ),
}
EXPORT_FORMATS = ("parquet", "csv")


# Which log factors were trained on (`spark-train` on events.parquet, `import-factors` on the
# lab), computed by the same SQL on both: the events up to a seq, and the XOR of a hash of each
# event's (seq, user, item as exported, kind), cast to the same types on both sides.
IDENTITY = (
    "SELECT count(*), coalesce(bit_xor(hash(CAST(seq AS BIGINT), CAST(user_id AS VARCHAR), "
    "CAST(item_id AS VARCHAR), CAST(kind AS VARCHAR))), 0) FROM ({events}) WHERE seq <= ?"
)


def log_identity(query, events: str, through: int) -> dict[str, int | str]:
    """{"events": count, "fingerprint": 16 hex digits} of the events `events` (SQL of a relation
    with seq, user_id, item_id and kind, as the export writes them) up to seq `through`;
    `query(sql, params)` runs it (a lab's `Database.query`, or a DuckDB connection's)."""
    count, fingerprint = query(IDENTITY.format(events=events), [through])[0]
    return {"events": int(count), "fingerprint": f"{int(fingerprint):016x}"}


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
            for file, sql in DATASET.items():
                quoted = str(scratch / file).replace("'", "''")
                cursor.execute(f"COPY ({sql}) TO '{quoted}' (FORMAT csv, HEADER true)")
                cursor.fetchall()
                counts[file] = cursor.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0]
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
