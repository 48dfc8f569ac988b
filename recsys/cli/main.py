"""python -m recsys [--db PATH] COMMAND ...: script the lab; every command takes --json.

Bad input exits with status 2 and one line on stderr, and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from recsys.cli import (
    canary,
    data,
    evaluate,
    experiments,
    export,
    lab,
    lifecycle,
    models,
    plugins,
    spark,
)
from recsys.cli.common import Parser, Result, jsonable
from recsys.errors import RecsysError

# Each module adds its own subcommands and runs them; this order is the order of `--help`.
MODULES = (lab, models, evaluate, export, spark, lifecycle, canary, experiments, data, plugins)


def build_parser() -> Parser:
    """The parser of every command; `args.run(args)` runs the one parsed."""
    parser = Parser(prog="python -m recsys", description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="lab database file (default: $RECSYS_DB or data/lab.duckdb)")
    # Also before the command (`python -m recsys --json history ...`), as scripts often write it;
    # its own dest, as a subcommand's defaults overwrite the top level's.
    parser.add_argument(
        "--json", dest="json_first", action="store_true", help="print JSON (as COMMAND --json does)"
    )
    plugins.add_option(parser)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in MODULES:
        module.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command line (default: `sys.argv[1:]`) and print its result as text or JSON.

    Returns the exit status: 0 done, 2 bad input or a refused command (one line on stderr),
    130 interrupted, 141 when the reader of stdout closed it early (`... | head -1`), quietly,
    as a Unix tool killed by SIGPIPE would; `scenario check` exits 1 itself when a claim does
    not hold."""
    try:
        try:
            return _main(argv)
        finally:  # also after argparse's --help, which exits without flushing
            sys.stdout.flush()
    except BrokenPipeError:
        # Python's documented recipe (library/signal, "Note on SIGPIPE"): point stdout at
        # devnull so the interpreter's final flush does not raise a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _main(argv: list[str] | None) -> int:
    try:
        plugins.preload(sys.argv[1:] if argv is None else argv)
        args = build_parser().parse_args(argv)
        if args.db is not None and not (args.db.strip() and args.db.isprintable()):
            # "" would mean the default lab, and DuckDB cuts a path at a NUL byte
            raise RecsysError(f"--db {args.db!r}: give the lab database's file path")
        args.json = getattr(args, "json", False) or args.json_first
        result = run(args)
    except RecsysError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(
            json.dumps(result["json"], indent=2, default=jsonable, ensure_ascii=False), flush=True
        )
    else:
        print(result["text"], flush=True)
    return 0


def run(args: argparse.Namespace) -> Result:
    """The parsed command's result, from the module that added it."""
    return args.run(args)
