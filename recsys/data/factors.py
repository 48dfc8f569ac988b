"""Factors trained outside the lab, in and out: the schema `spark-train` writes and
`versions import-factors` reads (docs/spark.md).

A factors folder holds

- `users.parquet`: user_id STRING, factors LIST<FLOAT> (one row per user, no duplicates);
- `items.parquet`: item_id STRING (the export's item ids: the dataset's own, or a generated
  world's row as text), factors LIST<FLOAT>;
- `manifest.json`: at least `rank` (the vectors' length, 2 to 256) and `trained_through_seq`
  (the last seq of the exported log they were trained on); `spark-train` adds Spark's
  parameters, versions, the source export, row counts and a few of Spark's own predictions
  (`checks`), which the import reproduces.

Either Parquet name may be one file or a folder of part files, as Spark writes them. Doubles
are accepted for FLOAT. Every problem is a `RecsysError` of one line, raised before the lab
changes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recsys.errors import RecsysError

FILES = {"users": "user_id", "items": "item_id"}
MANIFEST = "manifest.json"
RANK_RANGE = (2, 256)  # mf's factors (recsys.algorithms.mf.MFConfig)


@dataclass(frozen=True)
class FactorFiles:
    """A factors folder read and checked: `manifest` (dict), and per side the ids (list of
    str) and vectors (float64 array, rows x rank)."""

    folder: Path
    manifest: dict[str, Any]
    user_ids: list[str]
    user_vectors: Any
    item_ids: list[str]
    item_vectors: Any

    @property
    def rank(self) -> int:
        return int(self.manifest["rank"])

    @property
    def through(self) -> int:
        return int(self.manifest["trained_through_seq"])


def read_factors(directory: str | Path) -> FactorFiles:
    """Read and check a factors folder: columns and types, equal dimensions (the manifest's
    rank), finite values, no duplicate or empty ids. Raises `RecsysError` (one line) on the
    first problem found."""
    folder = Path(directory)
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise RecsysError(f"{folder} {what}: give the folder spark-train wrote (--output)")
    missing = [n for n in (*(f"{s}.parquet" for s in FILES), MANIFEST) if not (folder / n).exists()]
    if missing:
        raise RecsysError(
            f"{folder} has no {missing[0]}: a factors folder holds users.parquet, items.parquet "
            "and manifest.json (docs/spark.md)"
        )
    manifest = _manifest(folder / MANIFEST)
    rank = manifest["rank"]
    users, user_vectors = _side(folder, "users", rank)
    items, item_vectors = _side(folder, "items", rank)
    for side, ids in (("users", users), ("items", items)):
        said = manifest.get(side)  # spark-train's row counts: a file cut short or mixed up
        if said is not None and said != len(ids):
            raise RecsysError(
                f"{folder / (side + '.parquet')} has {len(ids):,} rows, the manifest says "
                f"{said!r}: write the folder again with spark-train"
            )
    return FactorFiles(folder, manifest, users, user_vectors, items, item_vectors)


def _manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise RecsysError(f"{path} is not readable JSON: {str(error)[:80]}") from None
    if not isinstance(manifest, dict):
        raise RecsysError(f"{path} must hold a JSON object with rank and trained_through_seq")
    low, high = RANK_RANGE
    rank = manifest.get("rank")
    if not _whole(rank) or not low <= rank <= high:
        raise RecsysError(f"{path}: rank must be a whole number from {low} to {high}, got {rank!r}")
    through = manifest.get("trained_through_seq")
    if not _whole(through) or through < 0:
        raise RecsysError(
            f"{path}: trained_through_seq must be the last seq of the export, got {through!r}"
        )
    log = manifest.get("log")
    if log is not None and not (
        isinstance(log, dict)
        and _whole(log.get("events"))
        and isinstance(log.get("fingerprint"), str)
        and len(log["fingerprint"]) == 16
    ):
        raise RecsysError(
            f"{path}: log must be spark-train's {{events, fingerprint}} of the export, "
            f"got {str(log)[:60]!r}"
        )
    return manifest


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _side(folder: Path, side: str, rank: int) -> tuple[list[str], Any]:
    """The ids and vectors of users.parquet or items.parquet, checked."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path, key = folder / f"{side}.parquet", FILES[side]
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as error:
        raise RecsysError(f"{path} is not readable Parquet: {str(error)[:80]}") from None
    for column in (key, "factors"):
        if column not in table.column_names:
            raise RecsysError(
                f"{path} has no {column} column (it has {', '.join(table.column_names) or 'none'})"
            )
    ids, vectors = table.column(key), table.column("factors")
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        raise RecsysError(f"{path}: {key} must be STRING, not {ids.type}")
    kind = vectors.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) or not pa.types.is_floating(
        kind.value_type
    ):
        raise RecsysError(f"{path}: factors must be LIST<FLOAT>, not {kind}")
    if not table.num_rows:
        raise RecsysError(f"{path} has no rows")
    if ids.null_count:
        raise RecsysError(f"{path}: {ids.null_count} rows have no {key}")
    names = ids.to_pylist()
    if vectors.null_count:
        at = vectors.is_null().to_pylist().index(True)
        raise RecsysError(f"{path}: {key} {names[at][:40]!r} has no factors")
    vectors = vectors.combine_chunks()
    lengths = np.asarray(pa.compute.list_value_length(vectors))
    if np.any(lengths != rank):
        at = int(np.flatnonzero(lengths != rank)[0])
        raise RecsysError(
            f"{path}: {key} {names[at][:40]!r} has {lengths[at]} factors; the manifest's rank "
            f"is {rank}"
        )
    flat = vectors.flatten()
    values = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.float64)
    if flat.null_count or not np.isfinite(values).all():
        bad = ~np.isfinite(values) if not flat.null_count else np.asarray(flat.is_null())
        at = int(np.flatnonzero(bad)[0]) // rank
        raise RecsysError(f"{path}: {key} {names[at][:40]!r} has a factor that is not finite")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise RecsysError(f"{path}: {key} {name[:40]!r} appears twice")
        seen.add(name)
    return names, values.reshape(len(names), rank)


def spark_summary(manifest: dict[str, Any]) -> str:
    """How the version's trigger names where it came from: `trained on Spark (ALS implicit,
    rank 16, regParam 0.1, 10 iterations, Spark 4.3.0)`."""
    parts = []
    if "implicitPrefs" in manifest:
        parts.append("ALS implicit" if manifest["implicitPrefs"] else "ALS explicit")
    parts.append(f"rank {manifest['rank']}")
    if _number(manifest.get("regParam")):
        parts.append(f"regParam {manifest['regParam']:g}")
    if _whole(manifest.get("maxIter")):
        parts.append(f"{manifest['maxIter']} iterations")
    if isinstance(manifest.get("spark_version"), str):
        parts.append(f"Spark {manifest['spark_version'][:20]}")
    return f"trained on Spark ({', '.join(parts)})"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def import_factors(engine, files: FactorFiles, algorithm: str = "mf") -> dict[str, Any]:
    """Store `files` (read by `read_factors`) as a new version of `algorithm` (mf) of the lab
    that `engine` opens: ids mapped to the lab's users and item rows, Spark's predictions in
    the manifest's `checks` reproduced. Raises `RecsysError`, the lab unchanged, for an id
    the lab does not know or anything `import_version` refuses."""
    import numpy as np

    from recsys.algorithms.mf_factors import Factors
    from recsys.lifecycle.imported import import_version

    if algorithm != "mf":
        raise RecsysError(f"factors import into mf only (matrix factorisation), not {algorithm}")
    rows = {key: row for row, key in enumerate(engine.ids.keys)}
    known = set(engine.users())
    for side, names, lookup in (("items", files.item_ids, rows), ("users", files.user_ids, known)):
        unknown = next((n for n in names if n not in lookup), None)
        if unknown is not None:
            raise RecsysError(
                f"{files.folder / (side + '.parquet')}: {FILES[side]} {unknown[:40]!r} is not "
                f"in this lab (factors import into the lab whose export they were trained on)"
            )
    factors = Factors(
        files.user_ids,
        files.user_vectors,
        np.fromiter((rows[i] for i in files.item_ids), np.int64, len(files.item_ids)),
        files.item_vectors,
        explicit=files.manifest.get("implicitPrefs") is False,
    )
    checks = [_check(check, rows, set(files.user_ids), files.folder / MANIFEST)
              for check in files.manifest.get("checks") or []]  # fmt: skip
    seconds = files.manifest.get("fit_seconds")
    return import_version(
        engine.lifecycle,
        algorithm,
        factors,
        files.through,
        spark_summary(files.manifest),
        float(seconds) if _number(seconds) else None,
        checks,
        files.manifest.get("log"),
    )


def _check(check: Any, rows: dict[str, int], users: set[str], path: Path) -> tuple[str, int, float]:
    """One of Spark's predictions in the manifest as (user, item row, prediction). Raises
    `RecsysError` saying what is wrong with it."""
    if not isinstance(check, dict) or not {"user_id", "item_id", "prediction"} <= check.keys():
        raise RecsysError(
            f"{path}: a check holds user_id, item_id and prediction, got {str(check)[:80]}"
        )
    user, item, prediction = str(check["user_id"]), str(check["item_id"]), check["prediction"]
    if user not in users:
        raise RecsysError(
            f"{path}: a check names user_id {user[:40]!r}, who has no vector in users.parquet"
        )
    if item not in rows:
        raise RecsysError(f"{path}: a check names item_id {item[:40]!r}, not in this lab")
    if not _number(prediction):
        raise RecsysError(f"{path}: a check's prediction must be a number, got {prediction!r:.40}")
    return user, rows[item], float(prediction)
