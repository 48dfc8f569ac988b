"""CLI command that trains on Spark, outside the lab (docs/spark.md):

python -m recsys spark-train [--master URL] [--explicit] [--factors K --reg R --iterations N
    --alpha A --seed S --weights P] EXPORT_DIR [--output DIR] [--overwrite]

It reads a Parquet export (`python -m recsys export`), never the lab's database; its output is
what `python -m recsys versions import-factors DIR` stores as a version.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from recsys.cli.common import Result, add_command, seed
from recsys.data.factors import RANK_RANGE
from recsys.errors import RecsysError
from recsys.events import WEIGHT_PRESETS

REG, ITERATIONS, ALPHA = (0.0, 1e4), (1, 100), (0.0, 1e4)  # sane runs (Spark's own are wider)


def add_parsers(commands: Any) -> None:
    """spark-train."""
    train = add_command(
        commands,
        "spark-train",
        "train Spark MLlib's ALS on a Parquet export; write factors for versions import-factors",
        run,
    )
    train.add_argument("export", metavar="EXPORT_DIR", help="the folder `export` wrote")
    train.add_argument("--output", help="the factors folder (default: EXPORT_DIR/spark-factors)")
    train.add_argument(
        "--master", default="local[2]", help="Spark master: local[N] or spark://host:7077"
    )
    train.add_argument(
        "--explicit",
        action="store_true",
        help="explicit ALS on the ratings alone: scores stars, and the version does not learn "
        "per event in the lab (the default is implicit, every event's weight, as the lab's mf)",
    )
    low, high = RANK_RANGE
    train.add_argument("--factors", type=int, default=16, help=f"ALS rank, {low} to {high}")
    train.add_argument("--reg", type=float, default=0.1, help="ALS regParam")
    train.add_argument("--iterations", type=int, default=10, help="ALS maxIter, 1 to 100")
    train.add_argument(
        "--alpha", type=float, default=10.0, help="implicit confidence per unit of weight"
    )
    train.add_argument("--seed", type=seed, default=0)
    train.add_argument(
        "--weights", choices=tuple(WEIGHT_PRESETS), default="default", help="event weights preset"
    )
    train.add_argument("--overwrite", action="store_true", help="replace earlier factors")


def run(args: argparse.Namespace) -> Result:
    """Check the options, PySpark, Java and the folders before Spark starts, then train.
    Raises `RecsysError` (one line) for any of them or a failed Spark job."""
    for name, value, (low, high) in (
        ("--factors", args.factors, RANK_RANGE),
        ("--reg", args.reg, REG),
        ("--iterations", args.iterations, ITERATIONS),
        ("--alpha", args.alpha, ALPHA),
    ):
        if not low <= value <= high:  # NaN fails too
            raise RecsysError(f"{name} {value}: give a number from {low:g} to {high:g}")
    master = args.master.strip()
    if not master or not master.isprintable() or " " in master:
        raise RecsysError(f"--master {args.master!r}: give local[N] or spark://host:port")
    from recsys.data import spark_train

    spark_train.check_spark()
    spark_train.check_paths(args.export, args.output, args.overwrite)
    params = spark_train.ALSParams(
        rank=args.factors,
        regParam=args.reg,
        maxIter=args.iterations,
        implicitPrefs=not args.explicit,
        alpha=args.alpha,
        seed=args.seed,
        weights=args.weights,
    )
    manifest = spark_train.train(args.export, args.output, master, params, args.overwrite)
    output = args.output or f"{args.export.rstrip('/')}/spark-factors"
    mode = "explicit" if args.explicit else "implicit"
    # the lab the export came from, as given: the hint must not point at the default lab
    lab = f"--db {shlex.quote(args.db)} " if args.db else ""
    text = (
        f"trained ALS ({mode}, rank {args.factors}) on Spark {manifest['spark_version']} at "
        f"{master}: {manifest['users']:,} users, {manifest['items']:,} items from "
        f"{manifest['training_rows']:,} pairs in {manifest['fit_seconds']:.1f} s; factors in "
        f"{output}\nnext: python -m recsys {lab}versions import-factors {shlex.quote(output)}"
    )
    return {"json": manifest | {"output": output}, "text": text}
