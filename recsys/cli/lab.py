"""CLI commands that use the lab as a person does: create it, ask, act, simulate, tune.

python -m recsys init [--world W] [--seed S] [--weights PRESET] [--reset]
python -m recsys recommend --user U [--k K] [--algorithm A] [--as-of SEQ]
python -m recsys interact --user U --item I --kind K [--value V]
python -m recsys simulate --persona P --steps N [--user U]
python -m recsys configure --algorithm A --set NAME=VALUE ... | --config FILE
python -m recsys algorithms | personas | retrain [--algorithm A]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from recsys.cli.common import (
    DEFAULT_ALGORITHM,
    DEFAULT_PACK,
    DEFAULT_SEED,
    PACKS,
    Result,
    add_command,
    algorithm,
    check_k,
    database_path,
    number,
    on_lab,
    on_store,
    parse_assignments,
    seed,
    with_item_ids,
)
from recsys.errors import RecsysError
from recsys.events import (
    KINDS,
    WEIGHT_PRESETS,
    validate_kind,
    validate_user,
    validate_value,
)


def add_parsers(commands: Any) -> None:
    """init, recommend, interact, simulate, configure, algorithms, personas and retrain."""
    init = add_command(commands, "init", "create the lab database with a generated world", run)
    init.add_argument("--world", choices=PACKS, default=DEFAULT_PACK)
    init.add_argument("--seed", type=seed, default=DEFAULT_SEED)
    init.add_argument(
        "--weights", choices=list(WEIGHT_PRESETS), default="default", help="event weights preset"
    )
    init.add_argument("--reset", action="store_true", help="replace an existing database")

    recommend = add_command(
        commands, "recommend", "the top-k recommendations of a user, with reasons", run
    )
    recommend.add_argument("--user", required=True)
    recommend.add_argument("--k", type=int, default=10)
    recommend.add_argument("--algorithm", type=algorithm, default=DEFAULT_ALGORITHM)
    recommend.add_argument(
        "--as-of", type=int, metavar="SEQ", help="time travel: the list right after event SEQ"
    )

    interact = add_command(
        commands, "interact", "record one event and print what the model learned", run
    )
    interact.add_argument("--user", required=True)
    interact.add_argument("--item", required=True)
    interact.add_argument("--kind", required=True, help=f"one of {', '.join(KINDS)}")
    interact.add_argument("--value", help="the rating, 0.5 to 5.0 in steps of 0.5")
    interact.add_argument("--k", type=int, default=10)
    interact.add_argument("--algorithm", type=algorithm, default=DEFAULT_ALGORITHM)

    simulate = add_command(
        commands, "simulate", "let a persona use the lab through the choice model", run
    )
    simulate.add_argument("--persona", required=True)
    simulate.add_argument("--steps", type=int, required=True)
    simulate.add_argument("--k", type=int, default=10)
    simulate.add_argument("--algorithm", type=algorithm, default=DEFAULT_ALGORITHM)
    simulate.add_argument("--seed", type=seed, default=0)
    simulate.add_argument(
        "--user", help="the user id that acts with the persona's taste (default: the persona)"
    )

    configure = add_command(
        commands, "configure", "set parameters of an algorithm; rebuilds it from the log", run
    )
    configure.add_argument("--algorithm", type=algorithm, required=True)
    configure.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter, e.g. --set factors=32 (repeatable)",
    )
    configure.add_argument("--config", metavar="FILE", help="a JSON object of parameters")

    add_command(commands, "algorithms", "the registered algorithms and their parameters", run)
    add_command(commands, "personas", "the personas of the lab's world", run)
    retrain = add_command(
        commands, "retrain", "full retrain of an algorithm; stores a model version", run
    )
    retrain.add_argument("--algorithm", type=algorithm, default=DEFAULT_ALGORITHM)


def run(args: argparse.Namespace) -> Result:
    """Run one of this module's commands. Raises `RecsysError` for bad input, before any
    database is created or opened."""
    if args.command in ("recommend", "interact") or (args.command == "simulate" and args.user):
        validate_user(args.user)
    if args.command in ("recommend", "interact", "simulate"):
        check_k(args.k)
    if args.command == "interact":
        validate_value(validate_kind(args.kind), args.value)
        _new_lab_item(args)
    if args.command == "configure":
        args.changes = _parameter_changes(args)
    if args.command == "algorithms":
        return _algorithms()
    if args.command == "init":
        return _init(args)
    if args.command == "personas":  # the world's table: no model needed
        return on_store(args, _personas)
    return on_lab(args, COMMANDS[args.command], _known_item if args.command == "interact" else None)


def _new_lab_item(args: argparse.Namespace) -> None:
    """Before a new lab is made for a --db that does not exist: its generated world numbers its
    items 0, 1, 2..., so anything else is refused before any file is written."""
    path = database_path(args)
    if path == ":memory:" or Path(path).exists():
        return
    text = str(args.item).strip()
    if not text.isdigit():
        raise RecsysError(
            f"unknown item {text[:40]!r}: {path} does not exist yet, and a new lab's generated "
            "items are numbered 0, 1, 2..."
        )


def _known_item(db, args: argparse.Namespace) -> None:
    """The item the dataset calls `--item` (MovieLens' movieId; a generated world's row),
    looked up on the lab's `Database` before the store or the engine is imported, and kept as
    its row in `args.item`. A file with no world yet passes: it is seeded and looked up then."""
    if not db.query("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'items'")[0][0]:
        return
    key = "coalesce(external_id, CAST(item_id AS VARCHAR))"
    found = db.query(f"SELECT item_id FROM items WHERE {key} = ?", [str(args.item).strip()])
    if found:
        args.item = int(found[0][0])
        return
    n = int(db.query("SELECT count(*) FROM items")[0][0])
    some = [k for (k,) in db.query(f"SELECT {key} FROM items ORDER BY item_id LIMIT 3")]
    shown = repr(str(args.item)) if len(str(args.item)) <= 40 else repr(str(args.item)[:37] + "...")
    raise RecsysError(
        f"unknown item {shown}: not an item id of this lab's {n:,} items "
        f"(its ids are like {', '.join(some)}{', ...' if n > 3 else ''})"
    )


def _init(args: argparse.Namespace) -> Result:
    from recsys.engine import Engine

    engine = Engine.create(
        database_path(args), args.world, args.seed, args.weights, reset=args.reset
    )
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


def _recommend(engine, args) -> Result:
    if args.as_of is not None:
        from recsys.lifecycle.timetravel import recommend_as_of

        ranking = recommend_as_of(engine, args.user, args.as_of, args.k, args.algorithm)
    else:
        ranking = engine.recommend(args.user, args.k, args.algorithm)
    lines = [
        f"Top {len(ranking.items)} for {args.user} ({ranking.algorithm}, right after event "
        f"{ranking.seq}" + (", rebuilt from the log" if args.as_of is not None else "") + "):"
    ]
    lines += [_item_line(r, engine.ids) for r in ranking.items]
    return {"json": with_item_ids(ranking.to_dict(), engine.ids), "text": "\n".join(lines)}


def _item_line(r, ids) -> str:
    extra = r.year if r.year is not None else (r.region or "")
    return (
        f"{r.rank:>3}. [{ids.key(r.item):>5}] {r.title} ({extra}; {', '.join(r.genres)})"
        f"  score {r.score:.3f}  {r.reason}"
    )


def _interact(engine, args) -> Result:
    item = args.item if isinstance(args.item, int) else engine.ids.row(args.item)
    step = engine.interact(
        args.user, item, args.kind, args.value, algorithm=args.algorithm, k=args.k
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
    return {"json": with_item_ids(step.to_dict(), engine.ids), "text": "\n".join(lines)}


def _simulate(engine, args) -> Result:
    from recsys.simulation import WINDOW, autopilot, summary

    records = autopilot(
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
            (number(result[f"{name}_utility_{p}"]), number(result[f"{name}_ctr_{p}"]))
            for p in parts
        )
        lines.append(f"{label:<22}{first[0]:>9}{first[1]:>7}{last[0]:>13}{last[1]:>7}")
    gaps = [number(result[f"gap_closed_{p}"], ".0%") for p in parts]
    lines.append(f"{'gap closed':<22}{gaps[0]:>9}{'':>7}{gaps[1]:>13}")
    return {"json": result, "text": "\n".join(lines)}


def _algorithms() -> Result:
    from recsys.algorithms import REGISTRY

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


def _personas(store, args) -> Result:
    frame = store.personas()[["name", "label", "description"]]
    rows = frame.to_dict("records")
    return {
        "json": rows,
        "text": "\n".join(f"{r['name']:<20} {r['label']}: {r['description']}" for r in rows),
    }


def _retrain(engine, args) -> Result:
    info = engine.retrain(args.algorithm)
    text = (
        f"{info['algorithm']}: {info['label']} trained on {info['events']} events in "
        f"{info['seconds']:.2f} s and serves"
    )
    info = info | {"version": info["number"], "version_id": info["version"]}
    info["production"] = engine.version_store.number_of(info["production"])
    return {"json": info, "text": text}


def _parameter_changes(args: argparse.Namespace) -> dict[str, Any]:
    """--config FILE and --set NAME=VALUE, checked against the bounds before the lab opens."""
    from recsys.algorithms import validate_config

    changes: dict[str, Any] = {}
    if args.config:
        try:
            loaded = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise RecsysError(f"cannot read {args.config}: {error}") from None
        except RecursionError:
            raise RecsysError(f"{args.config} nests its JSON too deeply to be parameters") from None
        if not isinstance(loaded, dict):
            raise RecsysError(f"{args.config} must hold a JSON object of parameters")
        changes.update(loaded)
    changes.update(parse_assignments(args.set, strings=False))
    if not changes:
        raise RecsysError("give parameters with --set NAME=VALUE or --config FILE")
    validate_config(args.algorithm, changes)  # bounds, names, types
    return changes


def _configure(engine, args) -> Result:
    info = engine.configure(args.algorithm, args.changes)
    settings = ", ".join(f"{k}={v}" for k, v in info["config"].items())
    info = info | {"version": info["number"], "version_id": info["version"]}
    info["production"] = engine.version_store.number_of(info["production"])
    return {
        "json": info,
        "text": (
            f"{info['algorithm']}: {info['label']} rebuilt from {info['events']} events in "
            f"{info['seconds']:.2f} s with {settings}; {info['outcome']}"
        ),
    }


COMMANDS = {
    "recommend": _recommend,
    "interact": _interact,
    "simulate": _simulate,
    "retrain": _retrain,
    "configure": _configure,
}
