"""CLI commands for the canary: a version of an algorithm served to a share of its users beside
production, as the Model versions page's Canary tab does.

python -m recsys canary set --algorithm A --version V --share PERCENT
python -m recsys canary clear --algorithm A
python -m recsys canary show --algorithm A

The commands are thin over the lifecycle's canary actions (`Lifecycle.set_canary`,
`clear_canary`, `canary_status`): each change is one transaction and a row of the alias
history. Versions are named as everywhere else: `3` or `v3` of `--algorithm`, or `mf@v3`.
"""

from __future__ import annotations

import argparse
from typing import Any

from recsys.cli.common import DEFAULT_ALGORITHM, Result, add_command, algorithm, on_lab
from recsys.errors import RecsysError

ACTIONS = ("set", "clear", "show")


def add_parsers(commands: Any) -> None:
    """canary set|clear|show."""
    canary = add_command(
        commands,
        "canary",
        "serve a version to a share of an algorithm's users beside production, or stop",
        run,
    )
    canary.add_argument("action", choices=ACTIONS)
    canary.add_argument("--algorithm", type=algorithm, default=DEFAULT_ALGORITHM)
    canary.add_argument("--version", metavar="V", help="set: the version to serve, e.g. 7 or v7")
    canary.add_argument(
        "--share", type=float, metavar="PERCENT", help="set: percent of users, above 0 up to 100"
    )


def run(args: argparse.Namespace) -> Result:
    """Check the options before the lab opens, then act. Raises `RecsysError` for bad input
    and for what the lifecycle refuses (another algorithm's version, production itself)."""
    if args.action == "set":
        if args.version is None or args.share is None:
            raise RecsysError("canary set needs --version V and --share PERCENT")
        text = args.version.strip()
        number = text.partition("@")[2] if "@" in text else text
        number = number[1:] if number[:1] in ("v", "V") else number
        if not number.isdigit():
            raise RecsysError(f"--version: a version such as 3, v3 or mf@v3, not {text[:40]!r}")
        if not 0 < args.share <= 100:  # NaN fails too
            raise RecsysError(
                f"--share is a percent of users above 0 and at most 100, got {args.share:g}; "
                "canary clear stops a canary"
            )
    elif args.version is not None or args.share is not None:
        raise RecsysError(f"canary {args.action} takes no --version or --share")
    return on_lab(args, COMMANDS[args.action])


def _set(engine, args) -> Result:
    key = engine.version_store.find(args.version, args.algorithm)
    owner = engine.version_store.version(key)["algorithm"]
    if owner != args.algorithm:
        raise RecsysError(f"{args.version} is {owner}'s version, not {args.algorithm}'s")
    return _shown(engine.lifecycle.set_canary(args.algorithm, key, args.share))


def _clear(engine, args) -> Result:
    return _shown(engine.lifecycle.clear_canary(args.algorithm))


def _show(engine, args) -> Result:
    return _shown(engine.lifecycle.canary_status(args.algorithm))


def _shown(status: dict) -> Result:
    """The canary as the page shows it: production, candidate, share, and the live metrics of
    each side since the canary started. The JSON names versions by their numbers (3 for v3)."""
    name, share = status["algorithm"], status["share"]
    production, candidate = status["production_label"], status["candidate_label"]
    live = status["live"]
    records = live.astype(object).where(live.notna(), None).to_dict("records")
    for r in records:  # as elsewhere in JSON: the number people read, and the lab's key
        r["version_id"], r["version"] = r["version"], _number(r["label"])
    info = {
        "algorithm": name,
        "production": _number(production),
        "candidate": _number(candidate) if status["candidate"] is not None else None,
        "share": share,
        "serving": status["serving"],
        "since_seq": status["since_seq"],
        "live": records,
    }
    if status["serving"]:
        head = f"{name}: {candidate} serves {share:g} % of users, {production} the rest"
    elif status["candidate"] is not None:
        head = f"{name}: {candidate} is the candidate but serves nobody (share 0 %)"
    else:
        head = f"{name}: no canary; {production} serves everyone"
    lines = [head] + [
        f"  {r['label']}: {r.get('users', 0):,} users, {r['events']:,} events, CTR "
        f"{_rate(r.get('CTR'))}, like rate {_rate(r.get('like rate'))}"
        for r in records
    ]
    return {"json": info, "text": "\n".join(lines)}


def _number(label: str) -> int | None:
    return int(label[1:]) if label[:1] == "v" and label[1:].isdigit() else None


def _rate(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


COMMANDS = {"set": _set, "clear": _clear, "show": _show}
