"""CLI commands that measure: offline quality (`evaluate`) and speed (`bench`).

python -m recsys evaluate [--algorithms mf,popularity|all] [--split random|temporal]
python -m recsys evaluate --train CSV --test CSV [--predictions-out CSV]
python -m recsys sweep --algorithm A --param NAME --values V1,V2,... [--split ...] [--seed S]
python -m recsys bench [--quick] | --quality | --peers | --loop [--visits N] [--seeds 1,2,3]
    | --sizes [--big] [--against OLD_TREE] [--repeat N] | --size 100k|1m|4m|25m [--against OLD_TREE]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from recsys.cli.common import (
    ALGORITHMS,
    Result,
    add_command,
    algorithm,
    check_k,
    on_lab,
    seed,
    seeds,
)
from recsys.errors import RecsysError


def add_parsers(commands: Any) -> None:
    """evaluate and bench."""
    evaluate = add_command(
        commands, "evaluate", "offline evaluation on the lab's log or on CSV files", run
    )
    evaluate.add_argument(
        "--algorithms",
        default="mf,item_knn,content,popularity",
        help="comma-separated names, or 'all'",
    )
    evaluate.add_argument("--k", type=int, default=10)
    evaluate.add_argument("--split", choices=("random", "temporal"), default="random")
    evaluate.add_argument("--test-share", type=float, default=0.2, help="random split")
    evaluate.add_argument("--last", type=int, default=1, help="temporal split: items per user")
    evaluate.add_argument("--seed", type=seed, default=0)
    evaluate.add_argument("--train", metavar="CSV", help="user_id,item_id,rating[,timestamp]")
    evaluate.add_argument("--test", metavar="CSV", help="held-out ratings, same format")
    evaluate.add_argument(
        "--predictions-out",
        metavar="CSV",
        help="with --train/--test: user_id,item_id,rating,prediction",
    )
    evaluate.add_argument(
        "--scale",
        metavar="LOW:HIGH",
        help="with --train/--test: the ratings' scale, e.g. 1:10, or 'implicit' for 0/1 or "
        "counts (default: read off the ratings)",
    )

    sweep = add_command(
        commands,
        "sweep",
        "the Evaluation page's parameter sweep: one algorithm fitted and measured per value",
        run,
    )
    sweep.add_argument("--algorithm", type=algorithm, required=True)
    sweep.add_argument("--param", required=True, metavar="NAME", help="one of its parameters")
    sweep.add_argument("--values", required=True, metavar="V1,V2,...", help="comma-separated")
    sweep.add_argument("--k", type=int, default=10)
    sweep.add_argument("--split", choices=("random", "temporal"), default="random")
    sweep.add_argument("--last", type=int, default=1, help="temporal split: items per user")
    sweep.add_argument("--seed", type=seed, default=0, help="the random split's seed")

    bench = add_command(
        commands, "bench", "measure interact/recommend latency and replay throughput", run
    )
    bench.add_argument("--quick", action="store_true", help="small worlds, few repetitions")
    bench.add_argument(
        "--quality", action="store_true", help="only top-10 quality on MovieLens vs implicit"
    )
    bench.add_argument(
        "--loop", action="store_true", help="only the live loop against the hidden taste"
    )
    bench.add_argument(
        "--peers", action="store_true", help="only MF vs River (online) and Surprise (batch)"
    )
    bench.add_argument("--visits", type=int, help="live loop: visits per fresh user (30)")
    bench.add_argument("--seeds", type=seeds, help="live loop: comma-separated, e.g. 1,2,3")
    bench.add_argument(
        "--sizes", action="store_true", help="only import/reopen/reset/retrain time and memory"
    )
    bench.add_argument(
        "--first-page",
        action="store_true",
        help="only streamlit run to the first card in Chromium, beside hello world",
    )
    bench.add_argument(
        "--populations",
        action="store_true",
        help="only simulated A/B runs at the world's size and with 100,000 people",
    )
    bench.add_argument(
        "--size",
        choices=("100k", "1m", "4m", "25m"),
        help="only one MovieLens-sized log: import, reopen, interact, recommend, retrain",
    )
    bench.add_argument("--big", action="store_true", help="sizes: add the 4M-event import")
    bench.add_argument("--against", help="sizes, size, first page: also measure this folder's code")
    bench.add_argument(
        "--repeat", type=int, help="sizes, populations, first page: repetitions (1, 3, 5)"
    )


def run(args: argparse.Namespace) -> Result:
    """Run `evaluate` (on the lab, or on files without one) or `bench` (its own temporary labs).

    Raises `RecsysError` for bad input, such as an unknown algorithm or unreadable file."""
    if args.command == "bench":
        return _bench(args)
    if args.command == "sweep":
        args.points = _sweep_values(args)
        return on_lab(args, _sweep)
    args.names = _algorithm_names(args.algorithms)
    for given, option in ((args.predictions_out, "--predictions-out"), (args.scale, "--scale")):
        if given and not (args.train or args.test):
            raise RecsysError(f"{option} is for files: give it with --train and --test")
    if args.train or args.test:
        return _evaluate_files(args)
    return on_lab(args, _evaluate)


BENCH_MODES = ("quality", "loop", "peers", "sizes", "size", "first_page")
BENCH_OPTIONS = {  # an option and the modes it is for
    "visits": ("loop",),
    "seeds": ("loop",),
    "big": ("sizes",),
    "against": ("sizes", "size", "first_page"),
    "repeat": ("sizes", "first_page"),
}


def _check_bench(args: argparse.Namespace) -> None:
    """One mode at a time, options only with the modes they are for, and in range."""
    modes = [m for m in BENCH_MODES if getattr(args, m)]
    if len(modes) > 1 or (modes and args.quick):
        chosen = ", ".join(_flag(m) for m in (["quick"] if args.quick else []) + modes)
        raise RecsysError(f"bench runs one measurement at a time, got {chosen}: pick one")
    for option, wanted in BENCH_OPTIONS.items():
        if getattr(args, option) not in (None, False) and not set(modes) & set(wanted):
            needs = " or ".join(_flag(m) for m in wanted)
            raise RecsysError(f"{_flag(option)} is for bench {needs}: add that, or drop it")
    if args.repeat is not None and not 1 <= args.repeat <= 100:
        raise RecsysError(f"--repeat {args.repeat}: give a whole number from 1 to 100")
    if args.against is not None and not Path(args.against, "recsys").is_dir():
        raise RecsysError(f"--against {args.against}: give a folder holding the lab's recsys/")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _bench(args: argparse.Namespace) -> Result:
    _check_bench(args)
    from recsys.bench.run import live_loop, ranking_quality, run_bench

    if args.sizes or args.size or args.populations:  # this tree beside --against's
        from recsys.bench import bigsize, populations, sizes

        trees = {"new": sizes.THIS_TREE} | ({"old": args.against} if args.against else {})
        if args.sizes:
            chosen = sizes.SIZES | (sizes.BIG_SIZES if args.big else {})
            report = sizes.run_sizes(chosen, trees, args.repeat or 1)
        elif args.size:
            report = bigsize.run_size(args.size, trees)  # its progress on stderr
        else:
            report = populations.run_populations(trees, args.repeat or 3)
    elif args.first_page:
        from recsys.bench.run import first_page

        report = first_page(args.repeat or 5, args.against)
    elif args.peers:
        from recsys.bench.peers import peers

        report = peers()
    elif args.loop:
        report = live_loop(args.visits, args.seeds)
    else:
        report = ranking_quality() if args.quality else run_bench(quick=args.quick)
    return {"json": report, "text": report["text"]}


def _sweep_values(args: argparse.Namespace) -> list:
    """--values read as the parameter's type (a flag as 0/1) and checked against its bounds
    before the lab opens. Raises `RecsysError` naming the parameters or the bounds."""
    from recsys.algorithms import REGISTRY, validate_config

    check_k(args.k)
    if args.split == "temporal" and not 1 <= args.last <= 20:
        raise RecsysError(f"--last must be from 1 to 20 items per user, got {args.last}")
    bounds = {b["name"]: b for b in REGISTRY[args.algorithm].config_class.bounds()}
    if args.param not in bounds:
        raise RecsysError(
            f"{args.algorithm} has no parameter {args.param[:40]!r}; choose one of "
            f"{', '.join(bounds)}"
        )
    kind = bounds[args.param]["type"]
    parse = {"int": int, "bool": int, "float": float}.get(kind, str.strip)
    try:
        values = [parse(v) for v in args.values.split(",") if v.strip()]
    except ValueError:
        raise RecsysError(
            f"--values {args.values[:60]!r}: give {kind} values separated by commas, e.g. 4,8,16"
        ) from None
    if not values:
        raise RecsysError("--values needs at least one value, e.g. 4,8,16")
    for value in values:
        validate_config(args.algorithm, {args.param: value})
    return values


def _sweep(engine, args) -> Result:
    """The page's sweep (`recsys.ui.evaluation.parameter_sweep`) on the same split, k and
    users: one row per value with its metrics, `fit seconds` and `seconds` (what it cost)."""
    import sys

    from recsys.evaluation import random_split, results_records, sweep, temporal_split

    events = engine.store.events()
    split = (
        random_split(events, 0.2, args.seed)  # the page's split: 80/20 with its seed
        if args.split == "random"
        else temporal_split(events, args.last)
    )

    def progress(done: int, total: int, row: dict) -> None:
        if sys.stderr.isatty():  # a person watching; a script reads the result
            print(
                f"{done} of {total}: {args.param} = {row[args.param]} took {row['seconds']:.1f} s",
                file=sys.stderr,
            )

    frame = sweep(
        args.algorithm,
        args.param,
        args.points,
        split,
        engine.catalog,
        args.k,
        engine.weights,
        progress=progress,
    )
    info = {
        "algorithm": args.algorithm,
        "parameter": args.param,
        "split": split.name,
        "k": args.k,
        "seed": args.seed,
        "points": results_records(frame),
    }
    text = (
        f"{args.algorithm}, {args.param} swept on the {split.name} split "
        f"({len(split.train):,} training and {len(split.test):,} test events); seconds is "
        "each point's fit and measurement\n" + _table(frame, args.param)
    )
    return {"json": info, "text": text}


def _table(frame, parameter: str) -> str:
    """The sweep's rows as text: metrics to 4 decimals ("n/a" where undefined), users whole."""
    shown = frame.copy()
    metrics = [c for c in shown.columns if c not in (parameter, "users")]
    shown[metrics] = shown[metrics].astype(float)
    if "users" in shown.columns:
        shown["users"] = shown["users"].astype(int)
    return shown.to_string(index=False, na_rep="n/a", float_format=lambda v: f"{v:.4f}")


def _algorithm_names(text: str) -> list[str]:
    names = (
        list(ALGORITHMS)
        if text.strip() == "all"
        else [n.strip() for n in text.split(",") if n.strip()]
    )
    if not names:
        raise RecsysError("--algorithms needs at least one name")
    return [algorithm(n) for n in names]


def _evaluate(engine, args) -> Result:
    from recsys.evaluation import (
        evaluate,
        random_split,
        results_frame,
        results_records,
        temporal_split,
    )

    names = args.names
    events = engine.store.events()
    split = (
        random_split(events, args.test_share, args.seed)
        if args.split == "random"
        else temporal_split(events, args.last)
    )
    results = evaluate(names, split, engine.catalog, args.k, engine.weights, seed=args.seed)
    frame = results_frame(results)
    text = (
        f"{split.name} split: {len(split.train):,} training and {len(split.test):,} test "
        f"events\n" + frame.to_string(index=False, na_rep="n/a", float_format=lambda v: f"{v:.4f}")
    )
    return {"json": {"split": split.name, "results": results_records(frame)}, "text": text}


def _evaluate_files(args: argparse.Namespace) -> Result:
    if not (args.train and args.test):
        raise RecsysError("give both --train and --test")
    import numpy as np

    from recsys.data.ratings import catalog_for, rating_events, read_ratings
    from recsys.data.scale import choose, parse_scale
    from recsys.evaluation import Split, evaluate, results_frame, results_records

    names = args.names
    given = parse_scale(args.scale) if args.scale else None
    train, test = read_ratings(args.train), read_ratings(args.test)
    scale = choose(np.concatenate([train.ratings, test.ratings]), given)
    catalog, index = catalog_for(train, test)
    split = Split(
        rating_events(train, index, scale=scale),
        rating_events(test, index, len(train.users) + 1, scale),
        "files",
    )
    results = evaluate(names, split, catalog, args.k, seed=args.seed)
    for result in results:  # errors in the data's own units (a linear map: errors scale too)
        for name in ("RMSE", "MAE"):
            value = result.metrics.get(name)
            if scale.implicit or value is None:
                result.metrics[name] = None
            else:
                result.metrics[name] = float(scale.from_stars(value) - scale.from_stars(0.0))
    if args.predictions_out:
        _write_predictions(args, names[0], split, catalog, test, index, scale)
    frame = results_frame(results)
    text = (
        f"{len(train.users):,} training and {len(test.users):,} test ratings, "
        f"{catalog.n:,} items\n"
        + frame.to_string(index=False, na_rep="n/a", float_format=lambda v: f"{v:.4f}")
    )
    if args.predictions_out:
        text += f"\npredictions of {names[0]} written to {args.predictions_out}"
    notes = [*train.notes, *test.notes, scale.describe(), *_overlap(train, test)]
    text += "".join(f"\nnote: {note}" for note in notes)
    payload = {
        "split": "files",
        "scale": {"low": scale.low, "high": scale.high, "implicit": scale.implicit},
        "results": results_records(frame),
        "notes": notes,
    }
    return {"json": payload, "text": text}


def _overlap(train, test) -> list[str]:
    """A note when test rows repeat a (user, item) pair of the training file: a model that
    memorises its training data scores those well, so the metrics overstate."""
    seen = set(zip(train.users, train.items, strict=True))
    repeated = sum(pair in seen for pair in zip(test.users, test.items, strict=True))
    if not repeated:
        return []
    return [
        f"warning: {repeated:,} of {len(test.users):,} test rows repeat a (user, item) pair of "
        "the training file, so the metrics overstate; drop them for an honest test"
    ]


def _write_predictions(args, name, split, catalog, test, index, scale) -> None:
    """One row per test rating: the prediction on the data's scale, or the model's score
    (column `score`) for implicit feedback, where there is no rating to predict."""
    import csv

    import numpy as np

    from recsys.algorithms import ModelSpec, build_model
    from recsys.evaluation import predict

    model = build_model(ModelSpec(name, seed=args.seed), catalog)
    model.fit(split.train, catalog)
    items = np.array([index[i] for i in test.items], dtype=np.int64)
    predicted = predict(model, np.array(test.users, dtype=object), items, not scale.implicit)
    guesses = predicted if scale.implicit else scale.from_stars(predicted)
    column = "score" if scale.implicit else "prediction"
    try:
        with open(args.predictions_out, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)  # quotes an id with a comma or a quote in it
            writer.writerow(["user_id", "item_id", "rating", column])
            for user, item, rating, guess in zip(
                test.users, test.items, test.ratings.tolist(), guesses.tolist(), strict=True
            ):
                writer.writerow([user, item, f"{rating:g}", f"{guess:.6f}"])
    except OSError as error:
        raise RecsysError(f"cannot write {args.predictions_out}: {error.strerror}") from None
