"""CLI commands about the algorithms' models: what they are, their parameters, retrains, and
why a model scores an item as it does.

python -m recsys algorithms
python -m recsys configure --algorithm A --set NAME=VALUE ... | --config FILE
python -m recsys retrain [--algorithm A]
python -m recsys explain --user U --item I [--algorithm A]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from recsys.cli.common import (
    DEFAULT_ALGORITHM,
    Result,
    add_command,
    algorithm,
    known_item,
    new_lab_item,
    on_lab,
    parse_assignments,
    with_item_ids,
)
from recsys.errors import RecsysError
from recsys.events import validate_user


def add_parsers(commands: Any) -> None:
    """configure, algorithms, retrain and explain."""
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
    retrain = add_command(
        commands, "retrain", "full retrain of an algorithm; stores a model version", run
    )
    retrain.add_argument("--algorithm", type=algorithm, default=DEFAULT_ALGORITHM)

    explain = add_command(
        commands,
        "explain",
        "why a model scores an item as it does: the score split into parts that add up to it",
        run,
    )
    explain.add_argument("--user", required=True)
    explain.add_argument("--item", required=True, help="the dataset's own item id")
    explain.add_argument("--algorithm", type=algorithm, default=DEFAULT_ALGORITHM)


def run(args: argparse.Namespace) -> Result:
    """Run one of this module's commands. Raises `RecsysError` for bad input (parameters out
    of bounds, an unknown user id or item), before any database is created or opened."""
    if args.command == "algorithms":
        return _algorithms()
    if args.command == "configure":
        args.changes = _parameter_changes(args)
    if args.command == "explain":
        validate_user(args.user)
        new_lab_item(args)
        return on_lab(args, _explain, known_item)
    return on_lab(args, COMMANDS[args.command])


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


def _explain(engine, args) -> Result:
    """The Simulator's "Explain the score of" panel: the production model's score of the item
    for the user, its named parts (they add up to it), the one the reason is about (`lead`)
    and the history items behind it (`related`: item and contribution)."""
    from recsys.algorithms import SCALES

    item = args.item if isinstance(args.item, int) else engine.ids.row(args.item)
    model = engine.model(args.algorithm, args.user)
    explanation = engine.explain(args.user, item, args.algorithm)
    info = {
        "user": args.user,
        "item": item,
        "title": engine.item_title(item),
        "algorithm": args.algorithm,
        "score": explanation.score,
        "scale": model.scale,
        "means": SCALES[model.scale],
        "reason": explanation.reason,
        "lead": explanation.lead,
        "parts": [
            {"name": name, "value": value, "lead": name == explanation.lead}
            for name, value in explanation.parts.items()
        ],
        "related": [{"item": i, "contribution": c} for i, c in explanation.related],
        "has_history": len(engine.history(args.user, 1)) > 0,
    }
    width = max(len(name) for name in explanation.parts)
    lines = [
        f"Why {info['title']} [{engine.ids.key(item)}] scores {explanation.score:+.3f} for "
        f"{args.user} ({args.algorithm}: {info['means']}):",
        f"  {explanation.reason}",
        "",
        *(
            f"{'*' if name == explanation.lead else ' '} {name:<{width}}  {value:+.3f}"
            for name, value in explanation.parts.items()
        ),
        "The parts add up to the score; * marks the part the reason is about.",
    ]
    if not info["has_history"]:
        lines.append(f"{args.user} has no events in this lab yet: any new visitor gets this score.")
    return {"json": with_item_ids(info, engine.ids), "text": "\n".join(lines)}


COMMANDS = {"configure": _configure, "retrain": _retrain, "explain": _explain}
