"""What every command module of the CLI shares: the parser, argument types, formatting, the lab.

A command module (`lab`, `evaluate`, `export`, `lifecycle`, `experiments`, `data`) imports only
this module and the engine's packages, never another command module or `main`, and offers:

- `add_parsers(commands)`: adds its subcommands with `add_command`, each bound to its `run`;
- `run(args) -> Result`: validates what needs no database first (bad input must never create a
  lab file), then runs the command, opening the lab with `on_lab` when it needs the served
  models, or only its tables with `on_store`.

A `Result` is `{"json": <JSON-able value>, "text": <str>}`; `main` prints one of the two.

Building the parser imports no numpy, pandas or DuckDB (`--help` and a bad option answer at
once): the names it offers are plain constants here, which tests/test_cli_names.py checks
against the modules that own them, and the command modules import the engine's heavier
packages inside their command functions.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from recsys.errors import RecsysError

Result = dict[str, Any]

# The registry's names in its order (recsys.algorithms.REGISTRY) and its default.
ALGORITHMS = (
    "mf",
    "item_knn",
    "content",
    "popularity",
    "trending",
    "epsilon_greedy",
    "ucb1",
    "thompson",
    "linucb",
    "hybrid",
)
DEFAULT_ALGORITHM = "mf"
PLUGINS: list[str] = []  # the plugins' algorithms this run registered (recsys.cli.plugins)
PACKS, DEFAULT_PACK, DEFAULT_SEED = ("movies", "destinations"), "movies", 42  # recsys.world
MAX_K = 100  # recsys.ranking
TIMELINE_KINDS = (  # recsys.store.history
    "interaction",
    "online update",
    "retrain",
    "mini-batch",
    "promotion",
    "candidate",
    "rollback",
    "drift alarm",
    "taste shift",
)
IMPORT_FORMATS = ("lab", "movielens", "movielens-100k")  # recsys.data.importer.FORMATS


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


def algorithm(name: str) -> str:
    """A registered algorithm's name (an argparse `type`); raises `RecsysError` for another,
    worded as `recsys.algorithms.algorithm_class` words it."""
    if name not in ALGORITHMS and name not in PLUGINS:
        known = ", ".join((*ALGORITHMS, *PLUGINS))
        raise RecsysError(
            f"unknown algorithm {name!r}; choose one of {known} (a plugin's needs its file in "
            "plugins/ or --plugin PATH)"
        )
    return name


def check_k(k: int) -> int:
    """`k` if it is from 1 to `MAX_K` (`recsys.ranking.validate_k`'s rule and words)."""
    if not 1 <= k <= MAX_K:
        raise RecsysError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
    return k


def on_lab(
    args: argparse.Namespace,
    handler: Callable[[Any, argparse.Namespace], Result],
    check: Callable[[Any, argparse.Namespace], None] | None = None,
) -> Result:
    """`handler(engine, args)` on the lab database named by `--db` (or the default), closed after.
    `check(db, args)` validates against the lab's tables (a `Database`: DuckDB alone, without
    pandas or the engine) before anything else is imported, so bad input fails fast.

    Raises `RecsysError` if the database is newer than the code or held by another process."""
    path = database_path(args)
    if check is not None and path != ":memory:" and Path(path).exists():
        from recsys.store.connection import Database

        db = Database.open(path)
        try:
            check(db, args)
        except BaseException:
            db.close()
            raise
        store = _seeded(args, db)
    else:
        store = _seeded(args)
    if store is not None:
        try:
            from recsys.engine import Engine

            engine = Engine(store)
        except BaseException:
            store.close()
            raise
    else:  # a new lab: seeded (and its models trained) as the engine opens it
        from recsys.engine import Engine

        engine = Engine.open(args.db)
    try:
        if store is None and check is not None:
            check(engine.store.db, args)
        return handler(engine, args)
    finally:
        engine.close()


def on_store(
    args: argparse.Namespace, handler: Callable[[Any, argparse.Namespace], Result]
) -> Result:
    """`handler(store, args)` for a command that only reads or writes tables: the lab's
    `Store`, without the engine's models. A missing or empty lab is created as `on_lab` does."""
    store = _seeded(args)
    if store is None:
        return on_lab(args, lambda engine, a: handler(engine.store, a))
    try:
        return handler(store, args)
    finally:
        store.close()


def _seeded(args: argparse.Namespace, db=None):
    """The lab's `Store` (over `db` if it is already open) if the database exists and holds a
    world, else None."""
    path = database_path(args)
    if db is None and (path == ":memory:" or not Path(path).exists()):
        return None
    from recsys.store.connection import Database
    from recsys.store.database import Store

    store = Store(db or Database.open(path))
    if store.is_empty():
        store.close()
        return None
    return store


def database_path(args: argparse.Namespace) -> str:
    """The lab database file that `--db`, `$RECSYS_DB` or the default names."""
    from recsys.store.paths import database_path as resolve

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
        except RecursionError:
            raise RecsysError(f"--set {name.strip()}: the value nests too deeply") from None
        except ValueError:
            if not strings:
                raise RecsysError(
                    f"--set {item}: the value must be a number, or true/false for a yes/no "
                    "parameter"
                ) from None
            changes[name.strip()] = text.strip()
    return changes


MAX_SEED = 2**31 - 1  # numpy takes any seed >= 0; DuckDB stores a seed as a 32-bit integer


def seed(text: str) -> int:
    """--seed: a whole number from 0 to MAX_SEED (argparse's type; its error is one line)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"give a whole number from 0 to {MAX_SEED}, not {text!r}")
    return value


def seeds(text: str) -> list[int]:
    """--seeds 1,2,3"""
    return [seed(part) for part in text.split(",")]


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


ITEM_FIELDS = frozenset({"item", "item_id"})  # where an output names an item by its row


def with_item_ids(value: Any, ids) -> Any:
    """JSON output with the dataset's own item ids (`recsys.events.ItemIds`, as text) where
    it held the lab's item rows: every `item` or `item_id` field, at any depth. The rows never
    leave the engine."""
    if isinstance(value, dict):
        return {
            k: ids.key(v)
            if k in ITEM_FIELDS and isinstance(v, int) and not isinstance(v, bool)
            else with_item_ids(v, ids)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [with_item_ids(v, ids) for v in value]
    return value
