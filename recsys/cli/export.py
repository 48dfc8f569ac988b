"""CLI commands that take the lab out: the log tables as files, the session report as HTML.

python -m recsys export DIRECTORY [--format parquet|csv] [--overwrite]
python -m recsys report OUTPUT.html [--user U] [--algorithm A]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from recsys.cli.common import DEFAULT_ALGORITHM, Result, add_command, algorithm, on_lab, on_store
from recsys.errors import RecsysError
from recsys.events import validate_user


def add_parsers(commands: Any) -> None:
    """export and report."""
    export = add_command(
        commands, "export", "write the log tables as Parquet or CSV files into a folder", run
    )
    export.add_argument("directory", help="the folder to write into (created if missing)")
    export.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    export.add_argument("--overwrite", action="store_true", help="replace earlier exports")
    report = add_command(
        commands, "report", "the session report: one HTML file that opens offline", run
    )
    report.add_argument("output", help="the .html file to write")
    report.add_argument("--user", help="whose interactions to replay (default: the last to act)")
    report.add_argument("--algorithm", type=algorithm, default=DEFAULT_ALGORITHM)


def run(args: argparse.Namespace) -> Result:
    """Check the target (a folder, an .html file) before the lab opens, then write it.

    Raises `RecsysError` for a bad target or one that cannot be written."""
    if args.command == "export":
        from recsys.data.export import check_target

        check_target(args.directory, args.format, args.overwrite)
        return on_store(args, _export)
    _check_report(args)
    return on_lab(args, _report)


def _check_report(args) -> None:
    if args.user is not None:
        validate_user(args.user)
    output = Path(args.output)
    if output.is_dir():
        raise RecsysError(f"{output} is a folder; give the .html file to write")
    if output.suffix.lower() not in (".html", ".htm"):
        raise RecsysError(f"the report is HTML: name the file .html, got {output.name!r}")


def _report(engine, args) -> Result:
    from recsys.data.report import session_report

    if args.user is not None and args.user not in engine.users():
        raise RecsysError(
            f"no user {args.user!r} in this lab: pick one who acted (python -m recsys history)"
        )
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


def _export(store, args) -> Result:
    from types import SimpleNamespace

    from recsys.data.export import export_lab
    from recsys.store.versions import VersionStore

    versions = VersionStore(store)
    if versions.deferred() and args.format == "parquet":
        from recsys.engine import Engine

        lab = Engine(store)  # fits the seed versions a new lab has not used yet, to export them
    else:
        # export_lab reads `lab.store` under `lab.lock`; without an engine, the store's
        # writers' lock gives the same consistent cut of the log.
        lab = SimpleNamespace(store=store, lock=store.write_lock, version_store=versions)
    info = export_lab(lab, args.directory, args.format, args.overwrite)
    lines = [f"wrote to {info['directory']}:"] + [
        f"  {name:28s} {rows:>9,} rows" for name, rows in info["files"].items()
    ]
    return {"json": info, "text": "\n".join(lines)}
