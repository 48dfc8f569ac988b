"""CLI commands for the canary: a version of an algorithm served to a share of its users beside
production, as the Model versions page's canary does.

python -m recsys canary set --algorithm A --version V --share PERCENT
python -m recsys canary clear --algorithm A
python -m recsys canary show --algorithm A

The canary is the candidate alias plus the lab's `canary_share` policy (percent of users, split
by a hash of the user id; one share for every algorithm with a candidate). `_set_canary` and
`_clear_canary` are kept thin on purpose: they use the lifecycle's existing moves
(`serve_candidate`, `set_policy`) in one transaction, and become one call each once the
lifecycle offers the canary as an action of its own.
"""

from __future__ import annotations

import argparse
from typing import Any

from recsys.cli.common import ALGORITHMS, DEFAULT_ALGORITHM, Result, add_command, algorithm, on_lab
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
        try:
            args.version = int(args.version.strip().lstrip("v"))
        except ValueError:
            raise RecsysError(
                f"--version: a version id such as 7 or v7, not {args.version[:40]!r}"
            ) from None
        if not 0 < args.share <= 100:  # NaN fails too
            raise RecsysError(
                f"--share is a percent of users above 0 and at most 100, got {args.share:g}; "
                "canary clear stops a canary"
            )
    elif args.version is not None or args.share is not None:
        raise RecsysError(f"canary {args.action} takes no --version or --share")
    return on_lab(args, COMMANDS[args.action])


def _set(engine, args) -> Result:
    _set_canary(engine.lifecycle, args.algorithm, args.version, args.share)
    return _show(engine, args)


def _clear(engine, args) -> Result:
    _clear_canary(engine.lifecycle, args.algorithm)
    return _show(engine, args)


def _set_canary(life, name: str, version: int, share: float) -> None:
    """Serve `version` of `name` to `share` percent of its users: the candidate alias and the
    share, all or nothing. Raises `RecsysError`, changing nothing, for an unknown version, one
    of another algorithm, or production."""
    versions = life.version_store
    with life.host.lock:
        owner = versions.version(version)["algorithm"]
        if owner != name:
            raise RecsysError(f"v{version} is a {owner} version, not {name}'s")
        if versions.alias(name, "production") == version:
            raise RecsysError(f"v{version} is {name}'s production already: pick another version")
        reason = f"canary: v{version} serves {share:g} % of {name}'s users"
        with life.store.db.batch():
            if versions.alias(name, "candidate") != version:
                life.serve_candidate(name, version, "user", reason, life.host.last_seq + 1)
            life.set_policy({"canary_share": share})


def _clear_canary(life, name: str) -> None:
    """Stop `name`'s canary: no candidate (the version stays), production serves everyone.
    The lab's share drops to 0 when no other algorithm has a candidate."""
    versions = life.version_store
    with life.host.lock:
        candidate = versions.alias(name, "candidate")
        if candidate is None:
            return
        others = [a for a in ALGORITHMS if a != name and versions.alias(a, "candidate")]
        reason = f"canary cleared: production serves all of {name}'s users"
        with life.store.db.batch():
            life.serve_candidate(name, None, "user", reason, life.host.last_seq + 1)
            if not others:
                life.set_policy({"canary_share": 0.0})


def _show(engine, args) -> Result:
    """The canary as the page shows it: production, candidate, share, and the live metrics
    of the versions that served this algorithm's events."""
    life, name = engine.lifecycle, args.algorithm
    production = life.version_store.alias(name, "production")
    candidate = life.version_store.alias(name, "candidate")
    share = life.policy.canary_share if candidate is not None else 0.0
    live = life.live_metrics(name)
    live = live[live["version"].isin({v for v in (production, candidate) if v is not None})]
    records = live.astype(object).where(live.notna(), None).to_dict("records")
    info = {
        "algorithm": name,
        "production": production,
        "candidate": candidate,
        "share": share,
        "serving": bool(candidate is not None and share > 0),
        "live": records,
    }
    if info["serving"]:
        head = f"{name}: v{candidate} serves {share:g} % of users, v{production} the rest"
    elif candidate is not None:
        head = f"{name}: v{candidate} is the candidate but serves nobody (share 0 %)"
    else:
        head = f"{name}: no canary; v{production} serves everyone"
    lines = [head] + [
        f"  v{r['version']} ({r['arm']}): {r['events']:,} events, reward mean "
        f"{_number(r['reward mean'])}, {r['likes']:,} likes, mean rating "
        f"{_number(r['mean rating'])}"
        for r in records
    ]
    return {"json": info, "text": "\n".join(lines)}


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


COMMANDS = {"set": _set, "clear": _clear, "show": _show}
