"""What every command module of the CLI shares: the parser, argument types, formatting, the lab.

A command module (`lab`, `models`, `evaluate`, `export`, `lifecycle`, `canary`, `experiments`,
`data`) imports only this module and the engine's packages, never another command module or
`main`, and offers:

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
import sys
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
# What a visit's context may say (recsys.events.DEVICES; recsys.algorithms.linucb's clock parts,
# which the lab clock fills in when a context leaves them out).
CONTEXT = {
    "device": ("desktop", "mobile", "tv"),
    "time_of_day": ("night", "morning", "afternoon", "evening"),
    "day_type": ("weekday", "weekend"),
}


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


def new_lab_item(args: argparse.Namespace) -> None:
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


def known_item(db, args: argparse.Namespace) -> None:
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
        if (
            args.db is not None
            and path != ":memory:"
            and getattr(args, "command", "") not in ("init", "scenario")
        ):
            # A mistyped --db would otherwise answer from a fresh lab without a word.
            print(
                f"note: {path} held no lab, so a new one was seeded with the default world "
                "(check --db if you meant another file)",
                file=sys.stderr,
            )
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


def parse_assignments(
    items: list[str], strings: bool = True, option: str = "--set"
) -> dict[str, Any]:
    """NAME=VALUE pairs given with `option`; a value is JSON (a number) or, with `strings`,
    plain text.

    Raises `RecsysError` for an item without `=` or, without `strings`, a value that is not JSON."""
    changes: dict[str, Any] = {}
    for item in items:
        name, equals, text = item.partition("=")
        if not equals or not name.strip():
            raise RecsysError(f"{option} {item}: write NAME=VALUE")
        try:
            changes[name.strip()] = json.loads(text)
        except RecursionError:
            raise RecsysError(f"{option} {name.strip()}: the value nests too deeply") from None
        except ValueError:
            if not strings:
                raise RecsysError(
                    f"{option} {item}: the value must be a number, or true/false for a yes/no "
                    "parameter"
                ) from None
            changes[name.strip()] = text.strip()
    return changes


def parse_context(items: list[str] | None) -> dict[str, str] | None:
    """--context key=value ... as the context a page sends with a visit (None if none), every
    key and value one of `CONTEXT`'s (a typo would otherwise be stored and silently read as
    the default). Raises `RecsysError` naming what it accepts."""
    if not items:
        return None
    context = {}
    for item in items:
        key, equals, value = (part.strip() for part in item.partition("="))
        if not equals or not key:
            raise RecsysError(f"--context {item}: write KEY=VALUE, e.g. device=mobile")
        if key not in CONTEXT:
            raise RecsysError(f"--context {key[:40]!r}: the lab's context has {', '.join(CONTEXT)}")
        if value not in CONTEXT[key]:
            raise RecsysError(
                f"--context {key}={value[:40]!r}: choose one of {', '.join(CONTEXT[key])}"
            )
        if key in context:
            raise RecsysError(f"--context {key} is given twice: give each key once")
        context[key] = value
    return context


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
