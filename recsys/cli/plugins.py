"""Plugins on the command line: the global `--plugin PATH` and `check-algorithm PATH`.

    python -m recsys [--plugin PATH ...] COMMAND ...     a plugin's algorithm as --algorithm
    python -m recsys check-algorithm PATH [--json]       the contract checks (exit 1 if one fails)

Before the parser is built, `preload` registers the plugins of the lab's `plugins/` folder,
of every `--plugin` and of installed entry points (`recsys.algorithms.discovery`); one that
cannot be loaded is said in one line on stderr and left out, and the command runs without it.
With no plugin anywhere nothing heavy is imported: `--help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from recsys.cli.common import PLUGINS, Result, add_command

ENTRY_POINT_GROUP = "recsys_lab.algorithms"  # recsys.algorithms.discovery
PLUGIN_FOLDER = Path(__file__).resolve().parents[2] / "plugins"  # recsys.algorithms.discovery


def add_parsers(commands: Any) -> None:
    """check-algorithm."""
    check = add_command(
        commands,
        "check-algorithm",
        "run the contract checks the built-ins pass on a plugin file (exit 1 if one fails)",
        run,
    )
    check.add_argument("path", help="a Python file defining an algorithm (docs/plugins.md)")


def add_option(parser: argparse.ArgumentParser) -> None:
    """The global `--plugin PATH` (repeatable); `preload` has read it before parsing."""
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="PATH",
        help="load an algorithm from a Python file (a plugin: code run with your rights)",
    )


def plugin_arguments(argv: list[str]) -> list[str]:
    """The paths given with `--plugin PATH` or `--plugin=PATH` (no command has its own)."""
    reader = argparse.ArgumentParser(add_help=False)
    reader.add_argument("--plugin", action="append", default=[])
    try:
        return reader.parse_known_args(argv)[0].plugin
    except SystemExit:  # `--plugin` without a path: the real parser says so
        return []


def preload(argv: list[str]) -> None:
    """Register the plugins of the folder, of `argv`'s `--plugin`s and of entry points, so
    that `--algorithm` accepts their names; a failure is one line on stderr."""
    paths = plugin_arguments(argv)
    folder = PLUGIN_FOLDER.is_dir() and any(
        not p.name.startswith(("_", "example")) for p in PLUGIN_FOLDER.glob("*.py")
    )
    if not (paths or folder or metadata.entry_points(group=ENTRY_POINT_GROUP)):
        return
    from recsys.algorithms.discovery import discover

    loaded = discover(paths)
    for problem in loaded.problems:
        print(f"warning: plugin left out: {problem}", file=sys.stderr)
    PLUGINS[:] = loaded.names


def run(args: argparse.Namespace) -> Result:
    """Load the file (exit 2 if it cannot be loaded), check each algorithm it defines."""
    from recsys.algorithms.checks import check_algorithm
    from recsys.algorithms.discovery import load_file

    reports = [check_algorithm(cls) for cls in load_file(args.path)]
    text = "\n\n".join(report.text() for report in reports)
    payload = [report.to_json() for report in reports]
    if all(report.passed for report in reports):
        return {"json": payload, "text": text}
    print(json.dumps(payload, indent=2) if args.json else text)
    sys.stdout.flush()
    raise SystemExit(1)
