"""CLI commands that use the lab as a person does: create it, ask, act, simulate, tune.

python -m recsys init [--world W] [--seed S] [--weights PRESET] [--reset]
python -m recsys recommend --user U [--k K] [--algorithm A] [--context KEY=VALUE ...]
    [--as-of SEQ | --log]
python -m recsys interact --user U --item I --kind K [--value V] [--context KEY=VALUE ...]
    [--request-id ID]
python -m recsys simulate --persona P --steps N [--user U]
python -m recsys personas
"""

from __future__ import annotations

import argparse
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
    known_item,
    new_lab_item,
    number,
    on_lab,
    on_store,
    parse_context,
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

CONTEXT_HELP = "the visit's context, e.g. device=mobile time_of_day=evening day_type=weekend"


def add_parsers(commands: Any) -> None:
    """init, recommend, interact, simulate and personas."""
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
    # None tells "not given" apart, as --log then takes the live experiment's length.
    recommend.add_argument("--k", type=int, default=None, help="list length (10)")
    recommend.add_argument("--algorithm", type=algorithm, default=DEFAULT_ALGORITHM)
    recommend.add_argument(
        "--as-of", type=int, metavar="SEQ", help="time travel: the list right after event SEQ"
    )
    recommend.add_argument(
        "--context",
        nargs="+",
        action="extend",
        metavar="KEY=VALUE",
        help=CONTEXT_HELP + " (LinUCB reads it)",
    )
    recommend.add_argument(
        "--log",
        action="store_true",
        help="show the list as the Simulator does in a live A/B experiment: the user's arm's "
        "list, logged as impressions; prints its request id for interact --request-id",
    )

    interact = add_command(
        commands, "interact", "record one event and print what the model learned", run
    )
    interact.add_argument("--user", required=True)
    interact.add_argument("--item", required=True)
    interact.add_argument("--kind", required=True, help=f"one of {', '.join(KINDS)}")
    interact.add_argument("--value", help="the rating, 0.5 to 5.0 in steps of 0.5")
    interact.add_argument("--k", type=int, default=10)
    interact.add_argument(
        "--algorithm",
        type=algorithm,
        help=f"default {DEFAULT_ALGORITHM}; the arm's with --request-id",
    )
    interact.add_argument(
        "--context", nargs="+", action="extend", metavar="KEY=VALUE", help=CONTEXT_HELP
    )
    interact.add_argument(
        "--request-id",
        type=int,
        metavar="ID",
        help="the logged list (recommend --log) the event is on: credits it to that impression",
    )

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

    add_command(commands, "personas", "the personas of the lab's world", run)


def run(args: argparse.Namespace) -> Result:
    """Run one of this module's commands. Raises `RecsysError` for bad input, before any
    database is created or opened."""
    if args.command in ("recommend", "interact") or (args.command == "simulate" and args.user):
        validate_user(args.user)
    if args.command == "recommend":
        args.k_given, args.k = args.k is not None, 10 if args.k is None else args.k
    if args.command in ("recommend", "interact", "simulate"):
        check_k(args.k)
    if args.command in ("recommend", "interact"):
        args.context = parse_context(args.context)
    if args.command == "recommend" and args.as_of is not None and (args.log or args.context):
        raise RecsysError(
            "--as-of rebuilds a list as it was shown, with its own context; --log and "
            "--context are for a list shown now: give one or the other"
        )
    if args.command == "interact":
        validate_value(validate_kind(args.kind), args.value)
        new_lab_item(args)
    if args.command == "init":
        return _init(args)
    if args.command == "personas":  # the world's table: no model needed
        return on_store(args, _personas)
    return on_lab(
        args, COMMANDS[args.command], _known_event if args.command == "interact" else None
    )


def _known_event(db, args: argparse.Namespace) -> None:
    """The item (`known_item`) and, with --request-id, a list of the live experiment that
    showed that item to this user; checked on the bare `Database`, before any model is built."""
    given = str(args.item).strip()
    known_item(db, args)
    if args.request_id is None or not isinstance(args.item, int):
        return  # a new lab: checked again once it is seeded
    rows = db.query(
        "SELECT i.user_id, i.item_id, e.name, e.status, e.mode FROM impressions i "
        "JOIN experiments e USING (experiment_id) WHERE i.request_id = ? ORDER BY i.position",
        [args.request_id],
    )
    rid = args.request_id
    if not rows:
        raise RecsysError(
            f"unknown request id {rid}: no list was logged under it (recommend --log prints one)"
        )
    owner, _, name, status, mode = rows[0]
    if owner != args.user:
        raise RecsysError(f"request id {rid} is a list shown to another user, not {args.user!r}")
    if status != "running" or mode != "live":
        raise RecsysError(
            f"request id {rid} is a list of experiment {name!r}, which is not a running live "
            "experiment: nothing of it can be credited"
        )
    if args.item not in {row[1] for row in rows}:
        raise RecsysError(f"item {given[:40]!r} was not in list {rid}")


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
    exposure = None
    if args.as_of is not None:
        from recsys.lifecycle.timetravel import recommend_as_of

        ranking = recommend_as_of(engine, args.user, args.as_of, args.k, args.algorithm)
    elif args.log:
        if engine.live_experiment is None:
            raise RecsysError(
                "--log: no live experiment runs, so no list is logged; start one with "
                "experiment create NAME --arms mf,popularity --mode live"
            )
        slate = engine.live_experiment.slate
        if args.k_given and args.k != slate:
            raise RecsysError(
                f"--log shows the live experiment's list of {slate} (every arm is judged on "
                f"lists of one length): leave out --k or give --k {slate}"
            )
        ranking, exposure = engine.show(args.user, args.k, args.algorithm, args.context)
    else:
        ranking = engine.recommend(args.user, args.k, args.algorithm, args.context)
    lines = [
        f"Top {len(ranking.items)} for {args.user} ({ranking.algorithm}, right after event "
        f"{ranking.seq}" + (", rebuilt from the log" if args.as_of is not None else "") + "):"
    ]
    lines += [_item_line(r, engine.ids) for r in ranking.items]
    info = with_item_ids(ranking.to_dict(), engine.ids)
    if exposure is not None:
        info["exposure"] = exposure
        lines.append(
            f"logged as request {exposure['request_id']}: experiment {exposure['experiment']}, "
            f"arm {exposure['arm']} ({exposure['label']}); pass --request-id "
            f"{exposure['request_id']} to interact"
        )
    return {"json": info, "text": "\n".join(lines)}


def _item_line(r, ids) -> str:
    extra = r.year if r.year is not None else (r.region or "")
    return (
        f"{r.rank:>3}. [{ids.key(r.item):>5}] {r.title} ({extra}; {', '.join(r.genres)})"
        f"  score {r.score:.3f}  {r.reason}"
    )


def _interact(engine, args) -> Result:
    item = args.item if isinstance(args.item, int) else engine.ids.row(args.item)
    algorithm, k = args.algorithm or DEFAULT_ALGORITHM, args.k
    if args.request_id is not None:  # as the Simulator: the arm decides the algorithm and k
        arm = engine.live_experiment.assign(args.user)
        if args.algorithm not in (None, arm.algorithm):
            raise RecsysError(
                f"list {args.request_id} was shown by {arm.algorithm} (arm {arm.name}); "
                f"leave out --algorithm or give {arm.algorithm}"
            )
        algorithm, k = arm.algorithm, engine.live_experiment.slate
    step = engine.interact(
        args.user,
        item,
        args.kind,
        args.value,
        args.context,
        algorithm=algorithm,
        k=k,
        request_id=args.request_id,
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


def _personas(store, args) -> Result:
    frame = store.personas()[["name", "label", "description"]]
    rows = frame.to_dict("records")
    return {
        "json": rows,
        "text": "\n".join(f"{r['name']:<20} {r['label']}: {r['description']}" for r in rows),
    }


COMMANDS = {
    "recommend": _recommend,
    "interact": _interact,
    "simulate": _simulate,
}
