"""CLI commands that bring data in and set the lab up.

python -m recsys import --format lab|movielens|movielens-100k PATH [--dry-run] [--map ...] [--json]
python -m recsys download movielens-small [--dir DIR] [--force] [--import]
python -m recsys scenario list|show|load|save|delete|check [NAME|FILE] [--json] (check: exit 1
    if a claim does not hold) | drift [--personas a,b] [--before N] [--after N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from recsys.cli.common import (
    DEFAULT_ALGORITHM,
    IMPORT_FORMATS,
    Result,
    add_command,
    algorithm,
    number,
    on_lab,
    on_store,
    seed,
)
from recsys.errors import RecsysError

SCENARIO_ACTIONS = ("list", "show", "load", "save", "delete", "check", "drift")
SCENARIO_TABLE = ("list", "show", "delete")  # the scenarios table only: no model is served


def add_parsers(commands: Any) -> None:
    """import, download and scenario."""
    imp = add_command(
        commands, "import", "replace the lab's data with a dataset (validated, all or nothing)", run
    )
    imp.add_argument("--format", required=True, choices=IMPORT_FORMATS)
    imp.add_argument("path", help="a folder with the format's files, or a .zip of them")
    imp.add_argument("--dry-run", action="store_true", help="only validate and report")
    imp.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FILE:COLUMN=THEIRS",
        help="read our COLUMN from their column, e.g. interactions.csv:user_id=customer",
    )
    imp.add_argument("--seed", type=seed, default=42, help="seed of the fitted ground truth")
    imp.add_argument(
        "--scale",
        metavar="LOW:HIGH",
        help="the ratings' scale, e.g. 1:10, or 'implicit' for 0/1 or counts (default: the "
        "lab CSV reads it off the ratings, MovieLens is 0.5:5)",
    )
    imp.add_argument(
        "--holdout",
        type=float,
        metavar="SHARE",
        help="share of (user, item) pairs set aside to measure versions on, from 0 (keep every "
        "event) to 0.5 (default 0.1; a lab export's marked holdout is kept as it is)",
    )

    download = add_command(commands, "download", "fetch a public dataset (needs the network)", run)
    download.add_argument("name", help="movielens-small")
    download.add_argument("--dir", help="where to keep it (default: data/downloads)")
    download.add_argument("--force", action="store_true", help="download again")
    download.add_argument(
        "--import", dest="then_import", action="store_true", help="then import it"
    )

    scenario = add_command(
        commands,
        "scenario",
        "list, show, load, save or delete scenarios; check a built-in's claims; run taste drift",
        run,
    )
    scenario.add_argument(
        "action",
        choices=SCENARIO_ACTIONS,
        help="check NAME|FILE loads a built-in scenario (or a file of one) and measures the "
        "claims its paragraph makes; check alone measures the loaded one's on the lab as it "
        "is now. Exit status 0 if every claim holds, 1 if one does not, 2 for bad input",
    )
    scenario.add_argument("target", nargs="?", help="a scenario name, or a .json file")
    scenario.add_argument("--title", default="", help="save: a title")
    scenario.add_argument("--description", default="", help="save: what it shows")
    scenario.add_argument("--output", help="save/show: also write the JSON to this file")
    scenario.add_argument("--overwrite", action="store_true", help="save: replace one by that name")
    scenario.add_argument("--personas", help="drift: comma-separated (default: the first two)")
    scenario.add_argument("--before", type=int, default=150, help="drift: visits before the shift")
    scenario.add_argument("--after", type=int, default=250, help="drift: visits after the shift")
    scenario.add_argument(
        "--algorithm", type=algorithm, default=DEFAULT_ALGORITHM, help="drift: the algorithm"
    )
    scenario.add_argument("--seed", type=seed, default=0, help="drift: seed")


def run(args: argparse.Namespace) -> Result:
    """Run `import`, `download` or `scenario`. Raises `RecsysError` for bad input (an import's
    files are read and validated before any lab opens); `SystemExit(1)` when a checked claim
    does not hold."""
    _check(args)
    if args.command == "scenario" and args.action in SCENARIO_TABLE:
        if hasattr(args, "setup"):  # show a file's scenario: no database
            return _scenario_table(None, args)
        return on_store(args, _scenario_table)
    if _without_database(args):
        return COMMANDS[args.command](None, args)
    if args.command == "import":
        return _run_import(args)
    return on_lab(args, COMMANDS[args.command])


def _check(args) -> None:
    """Validate what needs no database (an import's files included) before one is opened."""
    if args.command == "import":
        from recsys.data.importer import read_path
        from recsys.data.scale import parse_scale

        args.mapping = _mapping(args.map)
        if args.holdout is not None and not 0 <= args.holdout <= 0.5:
            raise RecsysError(f"--holdout {args.holdout:g}: give a share from 0 to 0.5")
        scale = parse_scale(args.scale) if args.scale else None
        args.report = read_path(args.format, args.path, mapping=args.mapping or None, scale=scale)
    if args.command == "download":
        from recsys.data.download import DATASETS

        if args.name not in DATASETS:
            raise RecsysError(f"unknown dataset {args.name!r}; choose one of {', '.join(DATASETS)}")
    if args.command == "scenario":
        needs = args.action in ("show", "load", "save", "delete")
        if needs and not args.target:
            raise RecsysError(f"scenario {args.action} needs a scenario name or a .json file")
        if args.action in ("list", "drift") and args.target:
            raise RecsysError(f"scenario {args.action} takes no name, got {args.target!r}")
        if args.action in ("show", "load", "check") and (args.target or "").endswith(".json"):
            args.setup = _read_scenario(args.target)
        if args.action == "check" and args.target:
            _has_claims(args.setup["name"] if hasattr(args, "setup") else args.target)
        if args.action == "save":
            from recsys.data.scenarios import NAME_PATTERN

            if not NAME_PATTERN.fullmatch(args.target):
                raise RecsysError(
                    "a scenario name is lower-case letters, digits, '-' or '_', e.g. my-setup"
                )


def _has_claims(name: str | None, what: str = "") -> None:
    from recsys.data.scenario_checks import claims
    from recsys.data.scenario_library import CLAIMS

    if not claims(name):
        only = f"only the built-in scenarios make claims ({', '.join(CLAIMS)})"
        raise RecsysError(f"nothing to check for {what or repr(name)}: {only}")


def _without_database(args) -> bool:
    """Commands that never open the lab: a dry run, a plain download."""
    return (args.command == "import" and (args.dry_run or not args.report.ok)) or (
        args.command == "download" and not args.then_import
    )


def _mapping(items: list[str]) -> dict[str, dict[str, str]]:
    mapping: dict[str, dict[str, str]] = {}
    for item in items:
        file, colon, pair = item.partition(":")
        ours, equals, theirs = pair.partition("=")
        if not (colon and equals and file and ours and theirs):
            raise RecsysError(f"--map {item}: write FILE:COLUMN=THEIRS, e.g. items.csv:title=name")
        mapping.setdefault(file.strip(), {})[ours.strip()] = theirs.strip()
    return mapping


def _read_scenario(path: str) -> dict[str, Any]:
    from recsys.data.scenarios import parse

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RecsysError(f"cannot read {path}: {error}") from None
    return parse(text, path)


def _import(engine, args) -> Result:
    report = args.report
    if not report.ok or args.dry_run:
        if not report.ok:
            # The report goes to stdout (it can be long); the one-line error to stderr.
            print(json.dumps(report.to_dict(), indent=2) if args.json else report.text())
            raise RecsysError(
                f"{report.n_problems:,} problem{'' if report.n_problems == 1 else 's'} in the "
                f"{args.format} files; nothing was imported"
            )
        from recsys.data.lab import accounting, split_preview

        split = accounting(*split_preview(report, args.holdout, args.seed))
        text = f"{report.text()}\n{split}\nDry run: nothing changed."
        return {"json": report.to_dict() | {"accounting": split}, "text": text}
    from recsys.data.lab import load_dataset

    info = load_dataset(
        engine, report, path=args.path, mapping=args.mapping, seed=args.seed, holdout=args.holdout
    )
    return _imported(info, report)


def _run_import(args) -> Result:
    """`import` opens the lab itself: a new database is seeded with the dataset directly,
    instead of generating the default world first only to replace it."""
    from recsys.data.lab import accounting, dataset_lab
    from recsys.engine import Engine, database_path

    path = database_path(args.db)
    if path != ":memory:" and Path(path).exists():
        engine = Engine.open(path)
        try:
            return _import(engine, args)
        finally:
            engine.close()
    world = dataset_lab(args.report, args.path, args.mapping, args.seed, args.holdout)
    engine = Engine.open(path, world=world)
    try:
        info = engine.summary() | {
            "held_out": len(world.holdout),
            "accounting": accounting(len(world.events), len(world.holdout)),
            "seconds": {},
            "format": args.format,
            "path": str(args.path),
            "summary": args.report.summary(),
        }
        return _imported(info, args.report)
    finally:
        engine.close()


def _imported(info: dict[str, Any], report) -> Result:
    text = (
        f"Imported {info['world']}: {info['items']:,} items, {info['users']:,} users, "
        f"{info['events']:,} events in the log and {info['held_out']:,} held out; "
        f"{DEFAULT_ALGORITHM} trained on it, the other algorithms when first used.\n"
        f"{info['accounting']}"
    )
    return {"json": info | {"report": report.to_dict()}, "text": text}


def _download(engine, args) -> Result:
    from recsys.data.download import download

    info = download(args.name, args.dir, force=args.force)
    text = (
        f"{'Downloaded' if info['downloaded'] else 'Already here'}: {info['path']} "
        f"({info['licence']})"
    )
    if engine is None:
        return {"json": info, "text": text}
    from recsys.data.importer import read_path
    from recsys.data.lab import load_dataset

    report = read_path(info["format"], info["path"])
    imported = load_dataset(engine, report, path=info["path"])
    text += f"\nImported {imported['items']:,} items and {imported['events']:,} events."
    return {"json": info | {"import": imported}, "text": text}


def _scenario_table(store, args) -> Result:
    """scenario list, show and delete: the scenarios table, without the engine's models (and
    `show` of a file without any database)."""
    from recsys.data import scenarios

    if args.action == "list":
        rows = scenarios.catalogue(store)
        current = store.meta().get("scenario")
        lines = [
            f"{'*' if r['name'] == current else ' '} {r['name']:<22} "
            f"{'built-in' if r['builtin'] else 'saved':<9} {r['title']}"
            for r in rows
        ]
        return {"json": rows, "text": "\n".join(lines)}
    if args.action == "show":
        setup = getattr(args, "setup", None) or scenarios.get(store, args.target)
        _write(args.output, setup)
        return {"json": setup, "text": scenarios.dumps(setup)}
    scenarios.delete(store, args.target)
    return {"json": {"deleted": args.target}, "text": f"deleted scenario {args.target}"}


def _scenario(engine, args) -> Result:
    from recsys.data import scenarios
    from recsys.data.scenario_checks import line as claim_line
    from recsys.data.scenario_checks import run as check_claims

    action = args.action
    if action == "drift":
        from recsys.simulation import taste_drift

        personas = [p.strip() for p in args.personas.split(",")] if args.personas else None
        report = taste_drift(
            engine, personas, args.before, args.after, algorithm=args.algorithm, seed=args.seed
        )
        return {"json": report, "text": _drift_text(report)}
    if action == "save":
        setup = scenarios.current(engine, args.target, args.title, args.description)
        # All or nothing: the file is written aside first, the scenario saved, then the file
        # takes its name; a step that fails undoes the ones before it.
        partial = _write(args.output, setup, aside=True)
        try:
            scenarios.save(engine.store, setup, overwrite=args.overwrite)
        except BaseException:
            if partial:
                partial.unlink(missing_ok=True)
            raise
        if partial:
            partial.replace(args.output)
        where = f" and {args.output}" if args.output else ""
        return {"json": setup, "text": f"saved scenario {args.target} in the lab{where}"}
    if action == "check" and not args.target:
        name = engine.meta.get("scenario")
        _has_claims(name, f"the lab's scenario {name!r}" if name else "the lab (no scenario)")
        return _checked(args, name, "on the lab as it is", check_claims(engine, name))
    setup = getattr(args, "setup", None) or scenarios.get(engine.store, args.target)
    done = scenarios.load(engine, setup)
    if action == "check":
        return _checked(args, setup["name"], "loaded anew", done["checks"])
    lab = done["lab"]
    lines = [
        f"Loaded scenario {setup['name']} ({setup['title']}): {lab['world']}, "
        f"{lab['items']:,} items, {lab['events']:,} events.",
        *(f"experiment {e['name']}: {e.get('verdict', 'live')}" for e in done["experiments"]),
        *(f"run: {json.dumps(r)}" for r in done["runs"]),
        _claims_line(done["checks"]),
        *(claim_line(r) for r in done["checks"]),
        setup["description"],
    ]
    return {"json": done, "text": "\n".join(line for line in lines if line)}


def _drift_text(report: dict[str, Any]) -> str:
    """The taste-drift run in one paragraph (`scenario drift`)."""
    first = report["first_alarm_after_shift"]
    shifts = ", ".join(f"{a} → {b}" for a, b in report["shifts"].items())
    retrains = ", ".join(
        f"v{r['version']} ({r['trigger']}) at {r['at_seq']:,}" for r in report["retrains"]
    )
    before, after = (number(report[k], ".4f", "—") for k in ("reward_before", "reward_after"))
    return (
        f"Taste shift at seq {report['shift_seq']:,} ({shifts}); "
        f"reward {before} before, {after} after. "
        + (
            f"The detector fired at seq {first:,} ({first - report['shift_seq']} events later)"
            if first
            else "The detector did not fire"
        )
        + f", {report['alarms_before_shift']} alarm(s) before the shift; "
        f"{len(report['retrains'])} retrain(s): {retrains or 'none'}"
    )


def _claims_line(results: list[dict]) -> str:
    held = sum(r["passed"] for r in results)
    return f"{held} of {len(results)} claims hold" if results else ""


def _checked(args, name: str, how: str, results: list[dict]) -> Result:
    """The checks as text or JSON; a claim that does not hold exits with status 1 (printed
    here: the caller prints and exits 0 only for a result it gets back)."""
    from recsys.data.scenario_checks import line

    text = "\n".join(
        [f"Scenario {name}, {how}: {_claims_line(results)}.", *(line(r) for r in results)]
    )
    if all(r["passed"] for r in results):
        return {"json": results, "text": text}
    print(json.dumps(results, indent=2) if args.json else text)
    sys.stdout.flush()
    raise SystemExit(1)


def _write(output: str | None, setup: dict, aside: bool = False) -> Path | None:
    """Write `setup` as JSON to `output` (with `aside`, to `output.partial`, returned, for the
    caller to rename once the rest has worked). RecsysError with one line if it cannot."""
    if not output:
        return None
    from recsys.data.scenarios import dumps

    target = Path(output)
    if target.is_dir():
        raise RecsysError(f"{output} is a folder; give the .json file to write")
    if aside:
        target = target.with_name(target.name + ".partial")
    try:
        target.write_text(dumps(setup) + "\n", encoding="utf-8")
    except OSError as error:
        raise RecsysError(f"cannot write {output}: {error.strerror or error}") from None
    return target


COMMANDS = {"import": _import, "download": _download, "scenario": _scenario}
