"""python -m recsys [--db PATH] COMMAND ...: script the lab; every command takes --json.

Bad input exits with status 2 and one line on stderr, and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from recsys.algorithms import DEFAULT_ALGORITHM, REGISTRY
from recsys.cli import data as cli_data
from recsys.cli.experiments import COMMANDS as EXPERIMENT_COMMANDS
from recsys.cli.experiments import add_commands as add_experiment_commands
from recsys.cli.experiments import check as check_experiment
from recsys.cli.lifecycle import COMMANDS as LIFECYCLE_COMMANDS
from recsys.cli.lifecycle import add_commands, check
from recsys.errors import RecsysError
from recsys.events import KINDS, WEIGHT_PRESETS, validate_kind, validate_user, validate_value
from recsys.world import DEFAULT_PACK, DEFAULT_SEED, PACKS


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise RecsysError(message)


def build_parser() -> Parser:
    parser = Parser(prog="python -m recsys", description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="lab database file (default: $RECSYS_DB or data/lab.duckdb)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, help: str) -> Parser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("--json", action="store_true", help="print JSON for scripts")
        return sub

    init = command("init", "create the lab database with a generated world")
    init.add_argument("--world", choices=PACKS, default=DEFAULT_PACK)
    init.add_argument("--seed", type=int, default=DEFAULT_SEED)
    init.add_argument(
        "--weights", choices=list(WEIGHT_PRESETS), default="default", help="event weights preset"
    )
    init.add_argument("--reset", action="store_true", help="replace an existing database")

    recommend = command("recommend", "the top-k recommendations of a user, with reasons")
    recommend.add_argument("--user", required=True)
    recommend.add_argument("--k", type=int, default=10)
    recommend.add_argument("--algorithm", default=DEFAULT_ALGORITHM)
    recommend.add_argument(
        "--as-of", type=int, metavar="SEQ", help="time travel: the list right after event SEQ"
    )

    interact = command("interact", "record one event and print what the model learned")
    interact.add_argument("--user", required=True)
    interact.add_argument("--item", required=True)
    interact.add_argument("--kind", required=True, help=f"one of {', '.join(KINDS)}")
    interact.add_argument("--value", help="the rating, 0.5 to 5.0 in steps of 0.5")
    interact.add_argument("--k", type=int, default=10)
    interact.add_argument("--algorithm", default=DEFAULT_ALGORITHM)

    simulate = command("simulate", "let a persona use the lab through the choice model")
    simulate.add_argument("--persona", required=True)
    simulate.add_argument("--steps", type=int, required=True)
    simulate.add_argument("--k", type=int, default=10)
    simulate.add_argument("--algorithm", default=DEFAULT_ALGORITHM)
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument(
        "--user", help="the user id that acts with the persona's taste (default: the persona)"
    )

    configure = command("configure", "set parameters of an algorithm; rebuilds it from the log")
    configure.add_argument("--algorithm", required=True)
    configure.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter, e.g. --set factors=32 (repeatable)",
    )
    configure.add_argument("--config", metavar="FILE", help="a JSON object of parameters")

    evaluate = command("evaluate", "offline evaluation on the lab's log or on CSV files")
    evaluate.add_argument(
        "--algorithms",
        default="mf,item_knn,content,popularity",
        help="comma-separated names, or 'all'",
    )
    evaluate.add_argument("--k", type=int, default=10)
    evaluate.add_argument("--split", choices=("random", "temporal"), default="random")
    evaluate.add_argument("--test-share", type=float, default=0.2, help="random split")
    evaluate.add_argument("--last", type=int, default=1, help="temporal split: items per user")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--train", metavar="CSV", help="user_id,item_id,rating[,timestamp]")
    evaluate.add_argument("--test", metavar="CSV", help="held-out ratings, same format")
    evaluate.add_argument(
        "--predictions-out",
        metavar="CSV",
        help="with --train/--test: user_id,item_id,rating,prediction",
    )

    command("algorithms", "the registered algorithms and their parameters")
    command("personas", "the personas of the lab's world")
    retrain = command("retrain", "full retrain of an algorithm; stores a model version")
    retrain.add_argument("--algorithm", default=DEFAULT_ALGORITHM)
    export = command("export", "write the log tables as Parquet or CSV files into a folder")
    export.add_argument("directory", help="the folder to write into (created if missing)")
    export.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    export.add_argument("--overwrite", action="store_true", help="replace earlier exports")
    report = command("report", "the session report: one HTML file that opens offline")
    report.add_argument("output", help="the .html file to write")
    report.add_argument("--user", help="whose interactions to replay (default: the last to act)")
    report.add_argument("--algorithm", default=DEFAULT_ALGORITHM)
    bench = command("bench", "measure interact/recommend latency and replay throughput")
    bench.add_argument("--quick", action="store_true", help="small worlds, few repetitions")
    bench.add_argument(
        "--quality", action="store_true", help="only top-10 quality on MovieLens vs implicit"
    )
    bench.add_argument(
        "--loop", action="store_true", help="only the live loop against the hidden taste"
    )
    bench.add_argument("--visits", type=int, help="live loop: visits per fresh user (30)")
    bench.add_argument("--seeds", type=seeds, help="live loop: comma-separated, e.g. 1,2,3")
    add_commands(command)
    add_experiment_commands(command)
    cli_data.add_commands(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        result = run(args)
    except RecsysError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(result["json"], indent=2, default=_jsonable))
    else:
        print(result["text"])
    return 0


def run(args: argparse.Namespace) -> dict[str, Any]:
    # Check everything that needs no database first, so bad input never creates one.
    if args.command in ("recommend", "interact") or (args.command == "simulate" and args.user):
        validate_user(args.user)
    if args.command == "interact":
        validate_value(validate_kind(args.kind), args.value)
    if args.command == "configure":
        args.changes = _parameter_changes(args)
    check(args)
    check_experiment(args)
    cli_data.check(args)
    if args.command == "export":
        from recsys.data.export import check_target

        check_target(args.directory, args.format, args.overwrite)
    if args.command == "report":
        _check_report(args)
    if args.command == "algorithms":
        return _algorithms()
    if args.command == "experiment" and args.action == "size":  # arithmetic, no database
        return EXPERIMENT_COMMANDS["experiment"](None, args)
    if cli_data.without_database(args):
        return cli_data.COMMANDS[args.command](None, args)
    if args.command == "import":
        return cli_data.run_import(args)
    if args.command == "evaluate" and (args.train or args.test):
        return _evaluate_files(args)
    if args.command == "bench":
        from recsys.bench.run import live_loop, ranking_quality, run_bench

        if args.loop:
            report = live_loop(args.visits, args.seeds)
        else:
            report = ranking_quality() if args.quality else run_bench(quick=args.quick)
        return {"json": report, "text": report["text"]}

    from recsys.engine import Engine

    if args.command == "init":
        engine = Engine.create(_path(args), args.world, args.seed, args.weights, reset=args.reset)
        try:
            info = {
                "db": engine.store.path,
                "world": engine.world,
                "seed": args.seed,
                "weights": args.weights,
                "items": engine.catalog.n,
                "users": len(engine.users()),
                "events": engine.last_seq,
            }
        finally:
            engine.close()
        text = (
            f"Created {info['db']}: the {info['world']} world (seed {args.seed}) with "
            f"{info['items']} items, {info['users']} users and {info['events']} events."
        )
        return {"json": info, "text": text}

    engine = Engine.open(args.db)
    try:
        return COMMANDS[args.command](engine, args)
    finally:
        engine.close()


def _path(args: argparse.Namespace) -> str:
    from recsys.engine import database_path

    return database_path(args.db)


def _recommend(engine, args) -> dict[str, Any]:
    if args.as_of is not None:
        from recsys.lifecycle.timetravel import recommend_as_of

        ranking = recommend_as_of(engine, args.user, args.as_of, args.k, args.algorithm)
    else:
        ranking = engine.recommend(args.user, args.k, args.algorithm)
    lines = [
        f"Top {len(ranking.items)} for {args.user} ({ranking.algorithm}, right after event "
        f"{ranking.seq}" + (", rebuilt from the log" if args.as_of is not None else "") + "):"
    ]
    lines += [_item_line(r) for r in ranking.items]
    return {"json": ranking.to_dict(), "text": "\n".join(lines)}


def _item_line(r) -> str:
    extra = r.year if r.year is not None else (r.region or "")
    return (
        f"{r.rank:>3}. [{r.item:>5}] {r.title} ({extra}; {', '.join(r.genres)})"
        f"  score {r.score:.3f}  {r.reason}"
    )


def _interact(engine, args) -> dict[str, Any]:
    step = engine.interact(
        args.user, args.item, args.kind, args.value, algorithm=args.algorithm, k=args.k
    )
    d = step.diff
    lines = [step.message, "", f"{'before':<44} after"]
    for i in range(max(len(step.before.items), len(step.after.items))):
        old = step.before.items[i].title if i < len(step.before.items) else ""
        new = step.after.items[i] if i < len(step.after.items) else None
        mark = ""
        if new is not None:
            move = next((m for m in d.moved if m.item == new.item), None)
            mark = (
                "  NEW"
                if any(e.item == new.item for e in d.entered)
                else f"  {'▲' if move.places > 0 else '▼'}{abs(move.places)}"
                if move
                else ""
            )
        lines.append(f"{i + 1:>2}. {old[:40]:<40} {i + 1:>2}. {new.title if new else ''}{mark}")
    if d.left:
        lines.append("left: " + ", ".join(r.title for r in d.left))
    timings = ", ".join(f"{k} {v:.2f}" for k, v in step.timings.items())
    lines.append(f"timings (ms): {timings}")
    return {"json": step.to_dict(), "text": "\n".join(lines)}


def _simulate(engine, args) -> dict[str, Any]:
    from recsys.simulation import WINDOW, simulate, summary

    records = simulate(
        engine,
        args.persona,
        args.steps,
        k=args.k,
        algorithm=args.algorithm,
        seed=args.seed,
        user=args.user,
    )
    result = summary(records)
    parts = (f"first{WINDOW}", f"last{WINDOW}")
    lines = [
        f"{args.user or args.persona} (taste of {args.persona}) with {args.algorithm}: "
        f"{result['steps']} visits, {result['picks']} picks, {result['events']} events.",
        f"The top {args.k} against the hidden taste: mean utility (the world's hidden scale) "
        "and true CTR (chance of a click per visit).",
        f"{'':<22}{f'first {WINDOW}':>16}{f'last {WINDOW}':>20}",
        f"{'':<22}{'utility':>9}{'CTR':>7}{'utility':>13}{'CTR':>7}",
    ]
    for label, name in (
        ("oracle (ceiling)", "oracle"),
        (args.algorithm, "true"),
        ("popularity (floor)", "popularity"),
    ):
        first, last = (
            (_number(result[f"{name}_utility_{p}"]), _number(result[f"{name}_ctr_{p}"]))
            for p in parts
        )
        lines.append(f"{label:<22}{first[0]:>9}{first[1]:>7}{last[0]:>13}{last[1]:>7}")
    gaps = [_number(result[f"gap_closed_{p}"], ".0%") for p in parts]
    lines.append(f"{'gap closed':<22}{gaps[0]:>9}{'':>7}{gaps[1]:>13}")
    return {"json": result, "text": "\n".join(lines)}


def _number(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def seeds(text: str) -> list[int]:
    """--seeds 1,2,3"""
    return [int(part) for part in text.split(",")]


def _algorithms() -> dict[str, Any]:
    info = [
        {
            "name": name,
            "summary": cls.summary,
            "personalized": cls.personalized,
            "parameters": cls.config_class.bounds(),
        }
        for name, cls in REGISTRY.items()
    ]
    lines = []
    for a in info:
        lines.append(f"{a['name']}: {a['summary']}")
        lines += [
            f"    {p['name']} = {p['default']}  [{p['low']}, {p['high']}]  {p['help']}"
            for p in a["parameters"]
        ]
    return {"json": info, "text": "\n".join(lines)}


def _personas(engine, args) -> dict[str, Any]:
    frame = engine.personas[["name", "label", "description"]]
    rows = frame.to_dict("records")
    return {
        "json": rows,
        "text": "\n".join(f"{r['name']:<20} {r['label']}: {r['description']}" for r in rows),
    }


def _retrain(engine, args) -> dict[str, Any]:
    info = engine.retrain(args.algorithm)
    return {
        "json": info,
        "text": (
            f"{info['algorithm']}: version {info['version']} trained on "
            f"{info['events']} events in {info['seconds']:.2f} s"
        ),
    }


def _parameter_changes(args: argparse.Namespace) -> dict[str, Any]:
    """--config FILE and --set NAME=VALUE, checked against the bounds before the lab opens."""
    from recsys.algorithms import algorithm_class

    changes: dict[str, Any] = {}
    if args.config:
        try:
            loaded = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise RecsysError(f"cannot read {args.config}: {error}") from None
        if not isinstance(loaded, dict):
            raise RecsysError(f"{args.config} must hold a JSON object of parameters")
        changes.update(loaded)
    changes.update(parse_assignments(args.set, strings=False))
    if not changes:
        raise RecsysError("give parameters with --set NAME=VALUE or --config FILE")
    cls = algorithm_class(args.algorithm)
    cls.config_class.from_dict(cls.config_class().to_dict() | changes)  # bounds, names, types
    return changes


def parse_assignments(items: list[str], strings: bool = True) -> dict[str, Any]:
    """NAME=VALUE pairs; a value is JSON (a number) or, with `strings`, plain text."""
    changes: dict[str, Any] = {}
    for item in items:
        name, equals, text = item.partition("=")
        if not equals or not name.strip():
            raise RecsysError(f"--set {item}: write NAME=VALUE")
        try:
            changes[name.strip()] = json.loads(text)
        except ValueError:
            if not strings:
                raise RecsysError(f"--set {item}: the value must be a number") from None
            changes[name.strip()] = text.strip()
    return changes


def _configure(engine, args) -> dict[str, Any]:
    info = engine.configure(args.algorithm, args.changes)
    settings = ", ".join(f"{k}={v}" for k, v in info["config"].items())
    return {
        "json": info,
        "text": (
            f"{info['algorithm']}: version {info['version']} rebuilt "
            f"from {info['events']} events in {info['seconds']:.2f} s "
            f"with {settings}"
        ),
    }


def _algorithm_names(text: str) -> list[str]:
    from recsys.algorithms import algorithm_class

    names = (
        list(REGISTRY)
        if text.strip() == "all"
        else [n.strip() for n in text.split(",") if n.strip()]
    )
    if not names:
        raise RecsysError("--algorithms needs at least one name")
    return [algorithm_class(n).name for n in names]


def _evaluate(engine, args) -> dict[str, Any]:
    from recsys.evaluation import evaluate, random_split, results_frame, temporal_split

    names = _algorithm_names(args.algorithms)
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
        f"events\n" + frame.to_string(index=False, float_format=lambda v: f"{v:.4f}")
    )
    return {"json": {"split": split.name, "results": frame.to_dict("records")}, "text": text}


def _evaluate_files(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from recsys.data.ratings import catalog_for, rating_events, read_ratings
    from recsys.evaluation import Split, evaluate, predict, results_frame

    if not (args.train and args.test):
        raise RecsysError("give both --train and --test")
    names = _algorithm_names(args.algorithms)
    train, test = read_ratings(args.train), read_ratings(args.test)
    catalog, index = catalog_for(train, test)
    split = Split(
        rating_events(train, index), rating_events(test, index, len(train.users) + 1), "files"
    )
    results = evaluate(names, split, catalog, args.k, seed=args.seed)
    if args.predictions_out:
        cls = REGISTRY[names[0]]
        model = cls(catalog=catalog, seed=args.seed)
        model.fit(split.train, catalog)
        items = np.array([index[i] for i in test.items], dtype=np.int64)
        predicted = predict(model, np.array(test.users, dtype=object), items)
        try:
            with open(args.predictions_out, "w", encoding="utf-8") as out:
                out.write("user_id,item_id,rating,prediction\n")
                for user, item, rating, guess in zip(
                    test.users, test.items, test.ratings.tolist(), predicted.tolist(), strict=True
                ):
                    out.write(f"{user},{item},{rating:g},{guess:.6f}\n")
        except OSError as error:
            raise RecsysError(f"cannot write {args.predictions_out}: {error.strerror}") from None
    frame = results_frame(results)
    text = (
        f"{len(train.users):,} training and {len(test.users):,} test ratings, "
        f"{catalog.n:,} items\n" + frame.to_string(index=False, float_format=lambda v: f"{v:.4f}")
    )
    if args.predictions_out:
        text += f"\npredictions of {names[0]} written to {args.predictions_out}"
    return {"json": {"split": "files", "results": frame.to_dict("records")}, "text": text}


def _check_report(args) -> None:
    if args.user is not None:
        validate_user(args.user)
    from recsys.algorithms import algorithm_class

    algorithm_class(args.algorithm)
    output = Path(args.output)
    if output.is_dir():
        raise RecsysError(f"{output} is a folder; give the .html file to write")
    if output.suffix.lower() not in (".html", ".htm"):
        raise RecsysError(f"the report is HTML: name the file .html, got {output.name!r}")


def _report(engine, args) -> dict[str, Any]:
    from recsys.data.report import session_report

    page = session_report(engine, args.user, args.algorithm)
    output = Path(args.output)
    partial = output.with_name(output.name + ".partial")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(page, encoding="utf-8")
        partial.replace(output)  # a half-written report never takes the name
    except OSError as error:
        raise RecsysError(f"cannot write {output}: {error.strerror or error}") from None
    info = {"output": str(output), "bytes": len(page.encode("utf-8"))}
    return {"json": info, "text": f"wrote {output} ({info['bytes'] / 1e6:.1f} MB, opens offline)"}


def _export(engine, args) -> dict[str, Any]:
    from recsys.data.export import export_lab

    info = export_lab(engine, args.directory, args.format, args.overwrite)
    lines = [f"wrote to {info['directory']}:"] + [
        f"  {name:28s} {rows:>9,} rows" for name, rows in info["files"].items()
    ]
    return {"json": info, "text": "\n".join(lines)}


COMMANDS = {
    "export": _export,
    "report": _report,
    "recommend": _recommend,
    "interact": _interact,
    "simulate": _simulate,
    "personas": _personas,
    "retrain": _retrain,
    "configure": _configure,
    "evaluate": _evaluate,
    **LIFECYCLE_COMMANDS,
    **EXPERIMENT_COMMANDS,
    **cli_data.COMMANDS,
}


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):  # datetimes and pandas Timestamps
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, set | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
