"""A planned test, run: the sample-size calculator's answer simulated at the size it needs.

`stats.sample_size` counts users as trials (one visit, one item each). The run does exactly
that: 2 x n simulated people (past the world's own, drawn from its population model), one
visit each to a one-item list, so the planned test and the simulated one are the same test.
What comes back says whether it detected the effect it was sized for, with the power it was
planned for beside the power it really had: the world's true rates (ground truth) need not be
the baseline and effect someone planned with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recsys.errors import RecsysError
from recsys.experiments import stats
from recsys.experiments.population import MAX_PEOPLE
from recsys.experiments.simulation import simulate


def simulate_planned(
    engine,
    control: str,
    treatment: str,
    baseline: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    *,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> dict[str, Any]:
    """Size the test (`stats.sample_size`), simulate `control` vs `treatment` with that many
    users per arm, and judge it. Returns `plan` (baseline, mde, alpha, power, per_arm),
    `measured` (rates, lift, p_value, detected), `truth` (the arms' true rates and lift),
    `power_had` (the planned size's power at the true rates), `reached` (detected in the
    effect's true direction), `sentence` and `report` (the run's report). RecsysError for bad
    input (the calculator's, an arm's, or a size past MAX_PEOPLE people)."""
    per_arm = stats.sample_size(baseline, mde, alpha, power)
    if 2 * per_arm > MAX_PEOPLE:
        raise RecsysError(
            f"the test needs {per_arm:,} users per arm, more than a simulated run holds "
            f"({MAX_PEOPLE:,} people); plan for a larger effect"
        )
    result = simulate(
        engine, f"{control},{treatment}", users=2 * per_arm, sessions=1, slate=1, seed=seed,
        progress=progress,
    )  # fmt: skip
    ctr = next(
        c
        for c in result["comparisons"]
        if c["metric"] == "ctr" and c["arm"] == result["arms"][1]["arm"]
    )
    true_control, true_treatment = (arm["true_ctr"] for arm in result["arms"])
    true_lift = true_treatment / true_control - 1 if true_control else None
    had = (
        stats.power_of(true_control, true_treatment, per_arm, alpha)
        if 0 < true_control < 1 and 0 < true_treatment < 1
        else None
    )
    detected = bool(ctr["significant"])
    right_way = (
        true_lift is not None and ctr["lift"] is not None and ((ctr["lift"] > 0) == (true_lift > 0))
    )
    reached = detected and right_way
    out = {
        "plan": {"baseline": baseline, "mde": mde, "alpha": alpha, "power": power,
                 "per_arm": per_arm},
        "measured": {
            "control": ctr.get("control"),
            "treatment": ctr.get("treatment"),
            "lift": ctr["lift"],
            "p_value": ctr["p_value"],
            "detected": detected,
        },
        "truth": {"control": true_control, "treatment": true_treatment, "lift": true_lift},
        "power_had": had,
        "reached": reached,
        "report": result,
    }  # fmt: skip
    out["sentence"] = _sentence(out, control, treatment)
    return out


def _sentence(run: dict[str, Any], control: str, treatment: str) -> str:
    plan, measured, truth = run["plan"], run["measured"], run["truth"]
    planned = (
        f"Planned: {plan['per_arm']:,} users per arm to detect {plan['mde']:+.1%} on a "
        f"{plan['baseline']:.1%} baseline with {plan['power']:.0%} power at alpha {plan['alpha']}."
    )
    if run["reached"]:
        head = (
            f"The test detected the effect: {treatment} vs {control} {measured['lift']:+.1%} "
            f"(p {_p(measured['p_value'])})."
        )
    elif measured["detected"]:
        head = (
            f"The test found {measured['lift']:+.1%} (p {_p(measured['p_value'])}), the wrong "
            "direction: the truth says otherwise."
        )
    else:
        lift = "n/a" if measured["lift"] is None else f"{measured['lift']:+.1%}"
        head = f"The test missed it: {lift}, p {_p(measured['p_value'])} (not significant)."
    if truth["lift"] is None or run["power_had"] is None:
        return f"{head} {planned}"
    sentence = (
        f"{head} {planned} The world's true rates are {truth['control']:.1%} and "
        f"{truth['treatment']:.1%} ({truth['lift']:+.1%}), so this size had "
        f"{run['power_had']:.0%} power to find it."
    )
    if abs(truth["control"] / plan["baseline"] - 1) > 0.25:
        sentence += f" To plan for this world, use a baseline of {truth['control']:.1%}."
    return sentence


def _p(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "< 1e-16" if value < 1e-16 else f"{value:.2g}"
