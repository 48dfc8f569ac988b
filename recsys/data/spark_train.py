"""Training Spark MLlib's ALS on the lab's Parquet export (`python -m recsys spark-train`).

The job reads `events.parquet` of an export (`python -m recsys export`), turns it into one
training row per (user, item), indexes the lab's ids as the integers ALS needs, fits
`pyspark.ml.recommendation.ALS`, and writes the factors back under the lab's own ids in the
schema of `recsys.data.factors` (docs/spark.md). Nothing here runs in the lab's process
beyond the driver: with `--master spark://host:7077` the executors do the work, and the export
and output folders must be on storage every node reads.

- Implicit (the default, `implicitPrefs`): every event's signed weight as the lab's mf sums it
  (`recsys.events.EventWeights`: views and clicks a little, likes more, dislikes negative,
  ratings relative to the user's own earlier average), summed per pair, zero sums dropped.
  Spark reads a positive sum as "chosen" with confidence 1 + alpha |sum|, a negative one as
  "not chosen" with that confidence (Hu, Koren & Volinsky 2008, as the lab's mf). Its scores
  are preferences, as mf's, and the imported version learns online as mf does.
- Explicit (`--explicit`): the lab's ratings, one row per pair (repeated ratings averaged).
  Its scores are stars, and the imported version keeps its vectors until it is trained again
  (`recsys.algorithms.mf_factors`). It ranks far worse (holdout NDCG@10 on MovieLens 0.005,
  implicit 0.213): a star predicted for every item is no ranking of what a person chooses.

PySpark is optional (requirements-spark.txt) and imported only inside `train`; the JVM's own
output goes to `spark.log`, never to the terminal.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recsys.data.factors import MANIFEST
from recsys.errors import RecsysError
from recsys.events import KINDS, NEUTRAL_STARS, WEIGHT_PRESETS

INSTALL = "pip install -r requirements-spark.txt"
JAVA = "apt-get install openjdk-17-jre-headless (Debian), or set JAVA_HOME to a Java 17+"
CHECKS = 5  # Spark's own predictions kept in the manifest, which the import reproduces


@dataclass(frozen=True)
class ALSParams:
    """What `spark-train` passes to ALS (Spark's names in the manifest)."""

    rank: int = 16
    regParam: float = 0.1  # Spark's names, as the manifest keeps them
    maxIter: int = 10
    implicitPrefs: bool = True
    alpha: float = 10.0
    seed: int = 0
    weights: str = "default"


def check_spark() -> None:
    """RecsysError (one line saying how to install it) unless PySpark and Java are here."""
    if importlib.util.find_spec("pyspark") is None:
        raise RecsysError(f"spark-train needs PySpark, an optional extra: {INSTALL}")
    home = os.environ.get("JAVA_HOME")
    if not (home and Path(home, "bin", "java").exists()) and shutil.which("java") is None:
        raise RecsysError(f"spark-train needs Java 17 or newer: {JAVA}")


def check_paths(export: str | Path, output: str | Path | None, overwrite: bool) -> tuple:
    """The export's events and the output folder (default EXPORT/spark-factors), checked
    before Spark starts. Raises `RecsysError` for a missing export or a taken output."""
    folder = Path(export)
    events = folder / "events.parquet"
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise RecsysError(f"{folder} {what}: give the folder `python -m recsys export` wrote")
    if not events.exists():
        raise RecsysError(
            f"{folder} has no events.parquet: export the lab as Parquet first "
            "(python -m recsys export DIR)"
        )
    target = Path(output) if output is not None else folder / "spark-factors"
    if target.exists() and not target.is_dir():
        raise RecsysError(f"{target} is a file; give a folder for the factors")
    if (target / MANIFEST).exists() and not overwrite:
        raise RecsysError(f"{target} already holds factors; choose another --output or --overwrite")
    return events, target


def train(export: str | Path, output: str | Path | None, master: str, params: ALSParams,
          overwrite: bool = False) -> dict[str, Any]:  # fmt: skip
    """Fit ALS on the export with Spark at `master` and write users.parquet, items.parquet,
    manifest.json and spark.log into the output folder (replaced only once all are written).
    Returns the manifest. Raises `RecsysError` (one line; Spark's log kept and named) if Spark
    fails or the export has nothing to train on."""
    check_spark()
    events, target = check_paths(export, output, overwrite)
    target.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".spark-partial-", dir=target))
    log = partial / "spark.log"
    try:
        # PySpark warns about versions of pandas it does not use, whenever it checks.
        with log.open("wb") as sink, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            manifest = _run(events, partial, master, params, sink)
    except RecsysError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        first = _logged_cause(log) or first  # Py4J's own line rarely says what went wrong
        kept = partial.parent / "spark-failed.log"
        if log.exists():
            log.replace(kept)
        shutil.rmtree(partial, ignore_errors=True)
        raise RecsysError(f"Spark failed: {first[:200]} (its log: {kept})") from None
    except BaseException:  # interrupted: no half-written run is left behind
        shutil.rmtree(partial, ignore_errors=True)
        raise
    manifest["source_export"] = str(Path(export).resolve())
    manifest["log"] = export_identity(events, manifest["trained_through_seq"])
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    # The old manifest goes first and the new one comes last: a folder caught half-replaced
    # has none, and the import refuses it.
    (target / MANIFEST).unlink(missing_ok=True)
    for name in ("users.parquet", "items.parquet", "spark.log", MANIFEST):
        old = target / name
        if old.is_dir():
            shutil.rmtree(old)
        (partial / name).replace(old)
    shutil.rmtree(partial)
    return manifest


def export_identity(events: Path, through: int) -> dict[str, int | str]:
    """The events of `events` (an export's events.parquet) up to seq `through` and their
    fingerprint, by DuckDB as the lab computes its own (`Store.log_identity`): what
    `import-factors` checks, so that factors trained on another lab's export are refused."""
    import duckdb

    from recsys.store.export import log_identity

    quoted = str(events).replace("'", "''")
    with duckdb.connect() as db:
        return log_identity(
            lambda sql, params: db.execute(sql, params).fetchall(),
            f"SELECT * FROM read_parquet('{quoted}')",
            through,
        )


def _logged_cause(log: Path) -> str | None:
    """The last ERROR line of Spark's log, without its time and logger ("Application has been
    killed. Reason: All masters are unresponsive! Giving up."), or None."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    errors = [line.split(" ERROR ", 1)[1] for line in lines if " ERROR " in line]
    return errors[-1].split(": ", 1)[-1].strip() if errors else None


def _run(events: Path, out: Path, master: str, params: ALSParams, sink) -> dict[str, Any]:
    from pyspark import SparkConf, SparkContext, __version__
    from pyspark.java_gateway import launch_gateway
    from pyspark.ml.feature import StringIndexer
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    conf = SparkConf().setMaster(master).setAppName("recsys-lab spark-train")
    conf.set("spark.ui.enabled", "false").set("spark.ui.showConsoleProgress", "false")
    if master.startswith("local"):
        conf.set("spark.sql.shuffle.partitions", "4")  # not 200 for a few thousand rows
    gateway = launch_gateway(conf, popen_kwargs={"stdout": sink, "stderr": sink})
    context = SparkContext(conf=conf, gateway=gateway)
    try:
        context.setLogLevel("WARN")
        context.setCheckpointDir(str(out / "checkpoints"))  # long ALS lineages are cut
        spark = SparkSession(context)
        log = spark.read.parquet(str(events))
        n_events, through = log.agg(F.count("*"), F.coalesce(F.max("seq"), F.lit(0))).first()
        pairs = _pairs(log, params, F)
        users = StringIndexer(inputCol="user_id", outputCol="u", stringOrderType="alphabetAsc")
        items = StringIndexer(inputCol="item_id", outputCol="i", stringOrderType="alphabetAsc")
        pairs = pairs.cache()
        if not pairs.take(1):
            raise RecsysError(
                "the export has no ratings to train explicit ALS on: leave out --explicit"
                if not params.implicitPrefs
                else "the export has no events with a weight to train on"
            )
        data = items.fit(pairs).transform(users.fit(pairs).transform(pairs))
        data = data.select(
            F.col("u").cast("int").alias("u"), F.col("i").cast("int").alias("i"),
            "rating", "user_id", "item_id",
        ).cache()  # fmt: skip
        blocks = max(2, context.defaultParallelism)
        als = ALS(
            rank=params.rank, maxIter=params.maxIter, regParam=params.regParam,
            implicitPrefs=params.implicitPrefs, alpha=params.alpha, seed=params.seed,
            userCol="u", itemCol="i", ratingCol="rating", nonnegative=False,
            numUserBlocks=blocks, numItemBlocks=blocks,
        )  # fmt: skip
        started = time.perf_counter()
        model = als.fit(data)
        counts = {"users": model.userFactors.count(), "items": model.itemFactors.count()}
        seconds = time.perf_counter() - started
        for side, key, index in (("users", "user_id", "u"), ("items", "item_id", "i")):
            ids = data.select(index, key).distinct()
            factors = model.userFactors if side == "users" else model.itemFactors
            joined = factors.join(ids, factors["id"] == ids[index])
            joined.select(key, F.col("features").alias("factors")).write.parquet(
                str(out / f"{side}.parquet")
            )
        sample = model.transform(data.orderBy("u", "i").limit(CHECKS)).collect()
        rows = data.count()
    finally:
        context.stop()
    return asdict(params) | {
        "format": "recsys-lab factors 1",
        "trained_through_seq": int(through),
        "events": int(n_events),
        "training_rows": int(rows),
        "users": counts["users"],
        "items": counts["items"],
        "fit_seconds": round(seconds, 3),
        "spark_version": __version__,
        "master": master,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "checks": [
            {"user_id": r["user_id"], "item_id": r["item_id"], "prediction": r["prediction"]}
            for r in sample
        ],
    }


def _pairs(log, params: ALSParams, F):
    """One row per (user_id, item_id) with its `rating`: the mean stars (explicit) or the
    summed signed event weight (implicit; `EventWeights.weight`, vectorised in Spark)."""
    if not params.implicitPrefs:
        rated = log.where(F.col("kind") == "rating").where(F.col("value").isNotNull())
        return rated.groupBy("user_id", "item_id").agg(F.avg("value").alias("rating"))
    from pyspark.sql import Window

    w = WEIGHT_PRESETS[params.weights]
    kind = F.col("kind")
    weight = F.lit(0.0)
    for name in KINDS:
        if name != "rating":
            weight = F.when(kind == name, F.lit(w.weight(name))).otherwise(weight)
    stars = F.col("value")
    if w.relative_ratings:
        earlier = (
            Window.partitionBy("user_id").orderBy("seq").rowsBetween(Window.unboundedPreceding, -1)
        )
        mean = F.avg(F.when(kind == "rating", stars)).over(earlier)
        rating = w.rating_choice + w.rating_per_star * (
            stars - F.coalesce(mean, F.lit(NEUTRAL_STARS))
        )
    else:
        rating = w.rating_base + w.rating_per_star * stars
    weight = F.when(kind == "rating", rating).otherwise(weight)
    summed = (
        log.withColumn("w", weight).groupBy("user_id", "item_id").agg(F.sum("w").alias("rating"))
    )
    return summed.where(F.col("rating") != 0.0)
