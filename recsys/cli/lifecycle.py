"""CLI commands for model versions, policies and the learning history.

python -m recsys versions list|train|promote V|rollback|compare A B|delete V [--algorithm A]
    [--json]: V is a version as its algorithm numbers it (3, v3 or mf@v3)
python -m recsys versions import-factors DIR [--algorithm mf]: factors trained on Spark
    (`spark-train`'s folder, docs/spark.md) as a new version
python -m recsys history [--user U] [--kind K ...] [--json]
python -m recsys policy [--set NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
from typing import Any

from recsys.cli.common import (
    TIMELINE_KINDS,
    Result,
    add_command,
    algorithm,
    number,
    on_lab,
    on_store,
    parse_assignments,
)
from recsys.errors import RecsysError
from recsys.events import validate_user

MAX_COMPARED = 1000  # versions compare --users
VERSION_ACTIONS = {
    "list": 0,
    "train": 0,
    "promote": 1,
    "rollback": 0,
    "compare": 2,
    "delete": 1,
    "import-factors": 1,
}


def add_parsers(commands: Any) -> None:
    """versions, history and policy."""
    versions = add_command(
        commands,
        "versions",
        "model versions: list, train, promote, roll back, compare, import factors from Spark",
        run,
    )
    versions.add_argument("action", choices=list(VERSION_ACTIONS))
    versions.add_argument(
        "targets",
        nargs="*",
        metavar="VERSION",
        help="a version as its algorithm numbers it: 3 or v3 with --algorithm, or mf@v3 "
        "(import-factors: the folder spark-train wrote)",
    )
    versions.add_argument(
        "--algorithm",
        type=algorithm,
        default=None,
        help="whose versions (list, train, rollback; which algorithm's v3 for the others)",
    )
    versions.add_argument("--force", action="store_true", help="promote past the gate")
    versions.add_argument("--users", type=int, default=20, help="compare: sample users")

    history = add_command(
        commands, "history", "what happened: events, updates, retrains, alias moves, alarms", run
    )
    history.add_argument("--user")
    history.add_argument(
        "--kind", action="append", choices=TIMELINE_KINDS, help="only these kinds (repeatable)"
    )
    history.add_argument("--since", type=int, default=0, help="first seq")
    history.add_argument("--until", type=int, help="last seq")
    history.add_argument("--limit", type=int, default=50)

    policy = add_command(
        commands, "policy", "show or change the retrain, drift, gate and canary policy", run
    )
    policy.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")


def run(args: argparse.Namespace) -> Result:
    """Run `versions`, `history` or `policy` on the lab. Raises `RecsysError` for bad input
    (checked before the lab opens) and for what the lifecycle refuses."""
    _check(args)
    if args.command == "history" or (args.command == "policy" and not args.changes):
        return on_store(args, COMMANDS[args.command])  # tables only: no model is served
    if args.command == "versions" and args.action == "list":
        return on_store(args, _list_versions)
    return on_lab(args, COMMANDS[args.command])


def _check(args) -> None:
    """Validate what needs no database, before one is opened."""
    if args.command == "versions":
        wanted = VERSION_ACTIONS[args.action]
        if args.action == "import-factors" and len(args.targets) != 1:
            raise RecsysError("versions import-factors takes one folder: the one spark-train wrote")
        if len(args.targets) != wanted:
            raise RecsysError(
                f"versions {args.action} takes {wanted} version(s), such as v3 "
                "with --algorithm mf, or mf@v3"
            )
        if args.action == "import-factors":
            from recsys.data.factors import read_factors

            if args.algorithm not in (None, "mf"):
                raise RecsysError(f"factors import into mf only, not {args.algorithm}")
            args.files = read_factors(args.targets[0])  # checked before the lab opens
            return
        for target in args.targets:
            number = target.partition("@")[2] if "@" in target else target
            number = number[1:] if number[:1] in ("v", "V") else number
            if not number.isdigit():
                raise RecsysError(f"a version is a number such as 3, v3 or mf@v3, got {target!r}")
        if args.action == "compare" and args.targets[0] == args.targets[1]:
            raise RecsysError("compare needs two different versions")
        if not 1 <= args.users <= MAX_COMPARED:
            raise RecsysError(f"--users {args.users}: give a number from 1 to {MAX_COMPARED}")
    if args.command == "history":
        if not 1 <= args.limit <= 100_000:
            raise RecsysError("--limit must be from 1 to 100000")
        if args.since < 0 or (args.until is not None and args.until < args.since):
            raise RecsysError(
                f"--since {args.since} --until {args.until}: give seqs from 0 up, "
                "--until at or after --since"
            )
        if args.user is not None:
            validate_user(args.user)
    if args.command == "policy":
        args.changes = parse_assignments(args.set)
        if args.changes:
            from recsys.lifecycle.policies import Policy

            Policy.from_dict(Policy().to_dict() | args.changes)


def _list_versions(store, args) -> dict[str, Any]:
    """Every version with its metrics: the store's table, once the versions stored without
    holdout metrics are measured (that alone needs the engine: it builds their models)."""
    from recsys.store.versions import VersionStore

    versions = VersionStore(store)
    if versions.unmeasured(args.algorithm):
        from recsys.engine import Engine

        engine = Engine(store)  # closes the store with it
        try:
            engine.lifecycle.measured(args.algorithm)
            frame = versions.versions(args.algorithm)
        finally:
            engine.close()
    else:
        frame = versions.versions(args.algorithm)
    shown = frame.drop(columns=["config", "created_at", "version_id", "parent_version"])
    shown["version"] = [f"v{n}" for n in shown["version"]]
    shown["parent"] = [f"v{int(n)}" if n == n and n is not None else "" for n in shown["parent"]]
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return {
        "json": records,
        "text": shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
    }


def _versions(engine, args) -> dict[str, Any]:
    """The JSON names versions as people read them: `version`, `production`, `was` are the
    algorithm's numbers (3 for v3); `version_id` is the lab's key, for scripts that keep it."""
    life, action, store = engine.lifecycle, args.action, engine.version_store
    if action == "import-factors":
        return _import_factors(engine, args)
    keys = [store.find(t, args.algorithm) for t in args.targets]
    if action == "train":
        info = life.train(args.algorithm, "manual", "gate")
        text = (
            f"{info['algorithm']}: {info['label']} trained on {info['events']:,} events in "
            f"{info['seconds']:.2f} s; {info['outcome']}"
        )
        info = info | {"version": info["number"], "version_id": info["version"]}
        info["production"] = store.number_of(info["production"])
        return {"json": info, "text": text}
    if action == "promote":
        info = life.promote(keys[0], force=args.force)
        text = (
            f"{info['algorithm']}: {life.label(info['production'])} now serves "
            f"(was {life.label(info['was'])})"
        )
        return {"json": _numbered(store, info, "production", "was"), "text": text}
    if action == "rollback":
        info = life.rollback(args.algorithm)
        text = f"{info['algorithm']}: rolled back from {info['was_label']} to {info['label']}"
        return {"json": _numbered(store, info, "production", "was"), "text": text}
    if action == "delete":
        algorithm, label = store.version(keys[0])["algorithm"], life.label(keys[0])
        life.delete(keys[0])
        deleted = {"algorithm": algorithm, "deleted": store.number_of(keys[0])}
        return {"json": deleted | {"version_id": keys[0]}, "text": f"{algorithm}: deleted {label}"}
    report = life.compare(*keys, sample=args.users)
    names = [f"{a} {life.label(k)}" for a, k in zip(report["algorithms"], keys, strict=True)]
    report = report | {"a": store.number_of(keys[0]), "b": store.number_of(keys[1])}
    lines = [f"{names[0]} vs {names[1]}"]
    for name, m in report["metrics"].items():
        delta = "" if m["delta"] is None else f"  Δ {m['delta']:+.4f}"
        lines.append(f"  {name:<14} {_num(m['a']):>8} {_num(m['b']):>8}{delta}")
    for name, c in report["config"].items():
        lines.append(f"  config {name}: {c['a']} -> {c['b']}")
    lines.append(
        f"  top-10 of {len(report['users'])} users: overlap {_num(report['mean_overlap'])}, "
        f"Kendall tau {_num(report['mean_kendall_tau'])}"
    )
    return {"json": report, "text": "\n".join(lines)}


def _import_factors(engine, args) -> dict[str, Any]:
    from recsys.data.factors import import_factors

    info = import_factors(engine, args.files, "mf")
    label = f"{info['algorithm']}@{info['label']}"
    text = (
        f"{info['algorithm']}: {info['label']} {info['trigger']}, from {args.files.folder} "
        f"({len(args.files.user_ids):,} users, {len(args.files.item_ids):,} items, "
        f"{info['events']:,} events); compare, A/B test (experiment simulate --arms "
        f"mf,{label}), canary or promote it like any version"
    )
    json_info = info | {"version": info["number"], "version_id": info["version"]}
    return {"json": json_info, "text": text}


def _numbered(store, info: dict, *fields: str) -> dict:
    """`info` with the version keys of `fields` as their algorithm's numbers."""
    return info | {field: store.number_of(info[field]) for field in fields}


def _num(value) -> str:
    return number(value, ".4f", "—")


def _history(store, args) -> dict[str, Any]:
    from recsys.store.versions import timeline

    if args.user is not None and not store.user_exists(args.user):
        raise RecsysError(
            f"no user {args.user!r} in this lab: pick one who acted (python -m recsys history)"
        )
    frame = timeline(
        store,
        args.user,
        args.kind or TIMELINE_KINDS,
        args.since,
        args.until,
        args.limit,
    ).head(args.limit)
    frame = frame.astype(object).where(frame.notna(), None)
    text = "\n".join(
        f"{seq:>8} {kind:<14} {algorithm or '':<10} {user or '':<18} {what}"
        for seq, kind, algorithm, user, what in zip(
            frame["seq"],
            frame["kind"],
            frame["algorithm"],
            frame["user_id"],
            frame["what"],
            strict=True,
        )
    )
    return {"json": frame.to_dict("records"), "text": text or "nothing happened yet"}


def _policy(lab, args) -> dict[str, Any]:
    """The policy as stored (`lab` is the store), or changed (`lab` is the engine: a canary
    share starts or stops serving candidates)."""
    if args.changes:
        policy = lab.lifecycle.set_policy(args.changes)
    else:
        from recsys.lifecycle.policies import Policy

        policy = Policy.load(lab.meta())
    values = policy.to_dict()
    text = "\n".join(f"{name:<20} {value}" for name, value in values.items())
    return {"json": values, "text": text}


COMMANDS = {
    "versions": _versions,
    "history": _history,
    "policy": _policy,
}
