"""What every command module of the CLI shares: the parser, argument types, formatting, the lab.

A command module (`lab`, `evaluate`, `export`, `lifecycle`, `experiments`, `data`) imports only
this module and the engine's packages, never another command module or `main`, and offers:

- `add_parsers(commands)`: adds its subcommands with `add_command`, each bound to its `run`;
- `run(args) -> Result`: validates what needs no database first (bad input must never create a
  lab file), then runs the command, opening the lab with `on_lab` when it needs one.

A `Result` is `{"json": <JSON-able value>, "text": <str>}`; `main` prints one of the two.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, NoReturn

from recsys.errors import RecsysError

Result = dict[str, Any]


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are `RecsysError`s: one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise RecsysError(message)


def add_command(
    commands: Any,
    name: str,
    help: str,
    run: Callable[[argparse.Namespace], Result],
) -> Parser:
    """Add the subcommand `name` (with `--json`) to `commands`, what `add_subparsers` returned;
    `main` calls `run(args)` for it."""
    sub = commands.add_parser(name, help=help, description=help)
    sub.add_argument("--json", action="store_true", help="print JSON for scripts")
    sub.set_defaults(run=run)  # argparse's documented way to dispatch a subcommand
    return sub


def on_lab(
    args: argparse.Namespace, handler: Callable[[Any, argparse.Namespace], Result]
) -> Result:
    """`handler(engine, args)` on the lab database named by `--db` (or the default), closed after.

    Raises `RecsysError` if the database is missing, newer than the code or held by another
    process."""
    from recsys.engine import Engine

    engine = Engine.open(args.db)
    try:
        return handler(engine, args)
    finally:
        engine.close()


def database_path(args: argparse.Namespace) -> str:
    """The lab database file that `--db`, `$RECSYS_DB` or the default names."""
    from recsys.engine import database_path as resolve

    return resolve(args.db)


def parse_assignments(items: list[str], strings: bool = True) -> dict[str, Any]:
    """NAME=VALUE pairs; a value is JSON (a number) or, with `strings`, plain text.

    Raises `RecsysError` for an item without `=` or, without `strings`, a value that is not JSON."""
    changes: dict[str, Any] = {}
    for item in items:
        name, equals, text = item.partition("=")
        if not equals or not name.strip():
            raise RecsysError(f"--set {item}: write NAME=VALUE")
        try:
            changes[name.strip()] = json.loads(text)
        except ValueError:
            if not strings:
                raise RecsysError(
                    f"--set {item}: the value must be a number, or true/false for a yes/no "
                    "parameter"
                ) from None
            changes[name.strip()] = text.strip()
    return changes


def seeds(text: str) -> list[int]:
    """--seeds 1,2,3"""
    return [int(part) for part in text.split(",")]


def number(value: float | None, spec: str = ".2f", missing: str = "n/a") -> str:
    """`value` formatted with `spec`, or `missing` when there is none."""
    return missing if value is None else format(value, spec)


def jsonable(value: Any) -> Any:
    """`json.dumps`'s `default`: datetimes, numpy values and arrays, sets and tuples.

    Raises `TypeError` for anything else, as `json` expects."""
    if hasattr(value, "isoformat"):  # datetimes and pandas Timestamps
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, set | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
