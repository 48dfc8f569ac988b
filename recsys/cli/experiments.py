"""CLI commands for A/B experiments.

python -m recsys experiment create NAME --arms mf,popularity [--split 50,50] [--mode live]
python -m recsys experiment list | show NAME | stop NAME
python -m recsys experiment simulate --arms mf,popularity [--users N] [--sessions N] [--seed S]
python -m recsys experiment aa [--runs 200] [--algorithm mf]
python -m recsys experiment offpolicy NAME --target mf
python -m recsys experiment size --baseline 0.08 --mde 0.05 [--power 0.8]
python -m recsys experiment analytics [--days 7]
"""

from __future__ import annotations

import argparse
from typing import Any

from recsys.cli.common import Result, add_command, algorithm, on_lab, on_store, seed
from recsys.errors import RecsysError
from recsys.experiments.metrics import LABELS, UNITS

ACTIONS = ("create", "list", "show", "stop", "simulate", "aa", "offpolicy", "size", "analytics")
NEEDS_NAME = ("create", "show", "stop", "offpolicy")
READ_ONLY = ("list", "show", "analytics")  # the experiment tables only: no model is served


def add_parsers(commands: Any) -> None:
    """experiment ACTION."""
    ex = add_command(
        commands, "experiment", "A/B experiments: create, list, show, stop, simulate, A/A, ...", run
    )
    ex.add_argument("action", choices=ACTIONS)
    ex.add_argument("name", nargs="?", help="the experiment (create, show, stop, offpolicy)")
    ex.add_argument("--arms", help="comma-separated arms: mf, mf@v3, mf(factors=8), B=mf")
    ex.add_argument("--split", help="percent per arm, e.g. 50,50 (default: even)")
    ex.add_argument("--mode", choices=("live", "simulated"), default="live", help="create")
    ex.add_argument("--slate", type=int, default=10, help="items per list")
    ex.add_argument("--explore", type=float, default=0.0, help="chance of a random lead item")
    ex.add_argument("--seed", type=seed, default=0)
    ex.add_argument(
        "--users",
        type=int,
        help="simulate/aa: simulated people (default: the world's; more are drawn from its "
        "population model)",
    )
    ex.add_argument(
        "--keep-people",
        action="store_true",
        help="simulate: add the people drawn past the world's own to the lab's users",
    )
    ex.add_argument("--sessions", type=int, default=20, help="simulate/aa: visits per person")
    ex.add_argument("--unit", choices=UNITS, default="user", help="unit of analysis for rates")
    ex.add_argument("--sequential", action="store_true", help="always-valid intervals too")
    ex.add_argument("--alpha", type=float, default=0.05)
    ex.add_argument("--runs", type=int, default=200, help="aa: how many A/A tests")
    ex.add_argument(
        "--algorithm", type=algorithm, default="mf", help="aa: the algorithm in both arms"
    )
    ex.add_argument("--target", help="offpolicy: the policy to evaluate (mf, mf@v3)")
    ex.add_argument("--baseline", type=float, help="size: the control's rate, e.g. 0.08")
    ex.add_argument("--mde", type=float, help="size: minimum detectable effect (relative)")
    ex.add_argument("--power", type=float, default=0.8, help="size: chance to detect it")
    ex.add_argument("--days", type=float, default=7.0, help="analytics: last N lab days")


def run(args: argparse.Namespace) -> Result:
    """Run `experiment ACTION`; `size` is arithmetic and opens no lab. Raises `RecsysError` for
    bad input (checked before the lab opens) and for what the experiment store refuses."""
    _check(args)
    if args.action == "size":
        return _experiment(None, args)
    if args.action in READ_ONLY:
        return on_store(args, _read)
    return on_lab(args, _experiment)


def _check(args) -> None:
    """Validate what needs no database, before one is opened."""
    if args.action in NEEDS_NAME and not args.name:
        raise RecsysError(f"experiment {args.action} needs the experiment's name")
    if args.action in ("create", "simulate") and not args.arms:
        raise RecsysError(f"experiment {args.action} needs --arms, e.g. --arms mf,popularity")
    if args.action == "offpolicy" and not args.target:
        raise RecsysError("experiment offpolicy needs --target, e.g. --target mf")
    if not 0 < args.alpha < 1:
        raise RecsysError("--alpha must be between 0 and 1")
    if args.action == "size":
        if args.baseline is None or args.mde is None:
            raise RecsysError("experiment size needs --baseline and --mde")
        from recsys.experiments import stats  # scipy: only for the commands that need it

        args.result = stats.sample_size(args.baseline, args.mde, args.alpha, args.power)


def _experiment(engine, args) -> Result:
    # The statistics import scipy: loaded with a lab, not for `--help` or a bad option.
    from recsys.experiments.analysis import report

    action = args.action
    if action == "size":
        n = args.result
        text = (
            f"{n} trials (users with one visit each) per arm to detect a {args.mde:+.1%} "
            f"relative change of a {args.baseline:.2%} rate with {args.power:.0%} power at "
            f"alpha {args.alpha}"
        )
        return {"json": {"per_arm": n, "total": 2 * n}, "text": text}
    if action == "create":
        from recsys.experiments.simulation import create

        experiment = create(
            engine,
            args.name,
            args.arms,
            args.split,
            mode=args.mode,
            slate=args.slate,
            explore=args.explore,
            seed=args.seed,
        )
        return {"json": experiment.to_dict(), "text": f"created {_describe(experiment)}"}
    if action == "stop":
        experiment = engine.stop_experiment(args.name)
        return {"json": experiment.to_dict(), "text": f"stopped {_describe(experiment)}"}
    if action == "simulate":
        from recsys.experiments.simulation import simulate

        result = simulate(
            engine,
            args.arms,
            name=args.name,
            split=args.split,
            users=args.users,
            sessions=args.sessions,
            seed=args.seed,
            slate=args.slate,
            explore=args.explore,
            keep_people=args.keep_people,
        )
        if args.unit != "user" or args.sequential or args.alpha != 0.05:
            experiment = engine.experiments.get(result["experiment"]["name"])
            result = report(engine.store, experiment, unit=args.unit,
                            sequential=args.sequential, alpha=args.alpha)  # fmt: skip
        return {"json": result, "text": render(result)}
    if action == "aa":
        from recsys.experiments.aa import aa_rates

        result = aa_rates(
            engine,
            args.algorithm,
            runs=args.runs,
            users=args.users,
            sessions=args.sessions,
            slate=args.slate,
            alpha=args.alpha,
            seed=args.seed,
        )
        rates = result["false_positive_rate"]
        text = (
            f"{result['runs']} A/A tests ({result['algorithm']} vs itself, {result['users']} "
            f"people x {result['sessions']} visits), alpha {args.alpha}: false-positive rate "
            f"{rates['user']:.3f} (user unit, delta method), {rates['impression']:.3f} "
            f"(impressions as independent), {rates['peeking']:.3f} (fixed p-value peeked "
            f"{result['looks']} times), {rates['sequential']:.3f} (always-valid interval "
            "peeked as often)"
        )
        return {"json": result, "text": text}
    from recsys.experiments.offpolicy import evaluate_experiment  # the one action left

    result = evaluate_experiment(engine, engine.experiments.get(args.name), args.target)
    truth = "unknown" if result["truth"] is None else f"{result['truth']:.4f}"
    lines = [
        f"{result['target']} in the lead slot, from {result['impressions']} logged "
        f"impressions of {result['experiment']!r}: simulated truth {truth}, naive logged "
        f"rate {result['logged_ctr']:.4f}, effective sample size "
        f"{result['effective_sample_size']:.0f}"
    ]
    for e in result["estimates"]:
        mark = "" if e["covers_truth"] is None else (" covers truth" if e["covers_truth"] else "")
        lines.append(
            f"  {e['method']:14s} {e['value']:.4f}  [{e['low']:.4f}, {e['high']:.4f}]{mark}"
        )
    return {"json": result, "text": "\n".join(lines)}


def _read(store, args) -> Result:
    """list, show and analytics: the experiment tables, read without the engine's models."""
    from recsys.experiments.assignment import Experiments

    experiments, action = Experiments(store), args.action
    if action == "list":
        rows = [_row(e) for e in experiments.list()]
        lines = [f"{r['name']:32s} {r['mode']:9s} {r['status']:8s} {r['arms']}" for r in rows] or [
            "no experiments yet"
        ]
        return {"json": rows, "text": "\n".join(lines)}
    # The statistics import scipy: only for the actions that compute them.
    from recsys.experiments.analysis import most_active, performance, report

    if action == "show":
        experiment = experiments.get(args.name)
        result = report(
            store, experiment, unit=args.unit, sequential=args.sequential, alpha=args.alpha
        )
        return {"json": result, "text": render(result)}
    lab_time = store.last_ts()  # the lab clock: the newest event's time
    days = args.days
    result = {
        "days": days,
        "performance": performance(store, lab_time, days).to_dict("records"),
        "most_active": most_active(store, lab_time, days).to_dict("records"),
        "top_items": experiments.top_items().to_dict("records"),
    }
    lines = [f"last {days:g} lab days, per algorithm:"]
    for r in result["performance"] or [{}]:
        lines.append(
            f"  {r['algorithm']:15s} users {r['users']:5d} events {r['events']:6d} "
            f"like rate {r['like_rate']}"
            if r
            else "  no served events"
        )
    active = ", ".join(f"{r['user_id']} ({r['events']})" for r in result["most_active"])
    top = ", ".join(f"{r['title']} ({r['clicks']} clicks)" for r in result["top_items"][:5])
    lines.append(f"most active users: {active or 'none'}")
    lines.append(f"top recommendations: {top or 'none (no impressions logged yet)'}")
    return {"json": result, "text": "\n".join(lines)}


def _row(experiment) -> dict[str, Any]:
    return {
        "name": experiment.name,
        "mode": experiment.mode,
        "status": experiment.status,
        "arms": ", ".join(f"{a.name} ({a.label}) {a.share:g}%" for a in experiment.arms),
    }


def _describe(experiment) -> str:
    row = _row(experiment)
    return f"{experiment.mode} experiment {experiment.name!r}: {row['arms']}"


def _p(value: float) -> str:
    return "< 1e-16" if value < 1e-16 else f"{value:.3g}"


def render(result: dict[str, Any]) -> str:
    """The report as text: one line per arm, one per comparison, SRM, truth and verdict."""
    ex = result["experiment"]
    lines = [f"{ex['name']} ({ex['mode']}, {ex['status']}), unit: {result['unit']}"]
    for arm in result["arms"]:
        ctr = arm["ctr"]
        ctr_text = (
            "n/a" if ctr is None else f"{ctr['value']:.4f} [{ctr['low']:.4f}, {ctr['high']:.4f}]"
        )
        truth = "" if arm["true_ctr"] is None else f"  true CTR {arm['true_ctr']:.4f}"
        regret = "" if arm["regret"] is None else f"  regret@k {arm['regret']:.3f}"
        lines.append(
            f"  {arm['arm']:16s} users {arm['users']:5d}  impressions {arm['impressions']:7d}  "
            f"CTR {ctr_text}{truth}{regret}"
        )
    for c in result["comparisons"]:
        if c["p_value"] is None:
            continue
        lift = (
            "n/a"
            if c["lift"] is None
            else f"{c['lift']:+.2%} [{c['lift_low']:+.2%}, {c['lift_high']:+.2%}]"
        )
        seq = ""
        if c.get("sequential_low") is not None:
            seq = f"  always-valid [{c['sequential_low']:+.2%}, {c['sequential_high']:+.2%}]"
        bayes = (
            "chance to beat: no evidence (no events in either arm)"
            if c["chance_to_beat"] is None
            else f"chance to beat {c['chance_to_beat']:.1%}, expected loss {c['expected_loss']:.4g}"
        )
        lines.append(
            f"  {c['arm']} vs control, {LABELS[c['metric']]}: lift {lift}, p {_p(c['p_value'])} "
            f"({c['test']}), {bayes}{seq}"
        )
    srm = result["srm"]
    if srm:
        state = "MISMATCH" if srm["mismatch"] else "ok"
        lines.append(f"  sample ratio: {srm['counts']} users, p {srm['p_value']:.3g} ({state})")
    if result.get("interleaving"):
        il = result["interleaving"]
        lines.append(
            f"  team-draft interleaving {il['a']} vs {il['b']}: {il['b']} preferred by "
            f"{il['users_b']} people, {il['a']} by {il['users_a']} ({il['preference']:.1%} "
            f"[{il['low']:.1%}, {il['high']:.1%}] for {il['b']}), sign test p {_p(il['p_value'])}"
        )
    if result.get("drawn_people"):
        lines.append(
            f"  {result['drawn_people']:,} of the people were drawn from the world's population "
            "model (each served as a look-alike of their persona)"
        )
    if result.get("impressions_per_second"):
        lines.append(f"  simulated at {result['impressions_per_second']:,.0f} impressions/s")
    lines.append(result["verdict"])
    return "\n".join(lines)
