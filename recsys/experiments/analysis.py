"""The statistics of an experiment, read from its impressions.

Rates (click-through, like rate, rating rate) are per impression, but the unit that was
randomised is the user, and one person's impressions are not independent: someone who likes
the catalogue clicks often in every session. With `unit="user"` (the default) each user is one
observation (their clicks and impressions) and the rate's variance comes from the delta method,
as GrowthBook and Eppo do for ratio metrics; `unit="impression"` is the textbook two-proportion
z-test that treats every impression as independent, kept so a student can see in A/A tests how
far off it is (here too conservative: one visit yields at most one pick, so a person's
impressions exclude each other). Average rating is a mean over ratings (Welch's t-test).

The Bayesian chance to beat control uses Beta-Binomial posteriors; for the user unit the counts
are first divided by the design effect (the delta-method variance over the binomial one), so the
posterior is as wide as the clustering makes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from recsys.errors import RecsysError
from recsys.experiments import rates, stats
from recsys.experiments.assignment import Experiment, Experiments
from recsys.experiments.metrics import METRICS, RATES, UNITS
from recsys.store.database import Store
from recsys.world import DAY


def report(
    store: Store,
    experiment: Experiment,
    *,
    unit: str = "user",
    sequential: bool = False,
    alpha: float = 0.05,
    tuning_n: int | None = None,
) -> dict[str, Any]:
    """Per arm and metric: estimate and interval; per treatment arm against control: lift with
    its interval, p-value, chance to beat control and expected loss; the SRM check; and, for a
    simulated run, the ground truth next to what was measured. With `sequential`, a lift is
    significant only when its always-valid interval excludes zero (safe under peeking);
    `tuning_n` is the planned sample the interval is tightest at (default: the simulated
    sample, or 1,000 users for a live experiment), fixed before looking."""
    if unit not in UNITS:
        raise RecsysError(f"unknown unit {unit!r}; choose user or impression")
    experiments = Experiments(store)
    users = experiments.per_user(experiment.experiment_id)
    ratings = experiments.ratings(experiment.experiment_id)
    truth = experiment.details.get("truth", {})
    arms, by_arm = [], {}
    for arm in experiment.arms:
        mine = users[users["arm"] == arm.name]
        by_arm[arm.name] = (mine, ratings.loc[ratings["arm"] == arm.name, "rating"].to_numpy())
        row = {
            "arm": arm.name,
            "label": arm.label,
            "share": arm.share,
            "users": len(mine),
            "impressions": int(mine["impressions"].sum()),
            "true_ctr": truth.get(arm.name, {}).get("population_ctr"),
            "regret": truth.get(arm.name, {}).get("regret"),
        }
        for metric in METRICS:
            row[metric] = _estimate(metric, mine, by_arm[arm.name][1], unit, alpha)
        arms.append(row)
    comparisons = []
    control = experiment.control.name
    for arm in experiment.arms[1:]:
        for metric in METRICS:
            comparisons.append(
                _compare(metric, by_arm[control], by_arm[arm.name], unit, alpha)
                | {"arm": arm.name, "metric": metric}
            )
    if sequential:
        tuning_n = tuning_n or int(experiment.details.get("users", 1000))
        for row in comparisons:
            if row["comparison"] is not None:
                # n: the units behind the two compared estimates (users, or impressions)
                seq = stats.sequential_lift(row["comparison"], None, alpha, tuning_n)
                low, high = _finite(seq.sequential_low), _finite(seq.sequential_high)
                row["sequential_low"], row["sequential_high"] = low, high
                row["significant"] = low is not None and (low > 0 or high < 0)
    for row in comparisons:
        row.pop("comparison")
    counts = [int((users["arm"] == a.name).sum()) for a in experiment.arms]
    srm = None
    if sum(counts):
        check = stats.sample_ratio(counts, [a.share for a in experiment.arms])
        srm = {
            "counts": counts,
            "expected": [round(e, 1) for e in check.expected],
            "p_value": check.p_value,
            "mismatch": check.mismatch,
        }
    result = {
        "experiment": experiment.to_dict(),
        "unit": unit,
        "alpha": alpha,
        "sequential": sequential,
        "arms": arms,
        "comparisons": comparisons,
        "srm": srm,
        "interleaving": experiment.details.get("interleaving"),
        "oracle_winner": experiment.details.get("oracle_winner"),
        "identical_arms": "truth" in experiment.details
        and experiment.details.get("oracle_winner") is None,
        "impressions_per_second": experiment.details.get("impressions_per_second"),
        # people past the world's own, drawn from its population model for this run
        "drawn_people": experiment.details.get("drawn_people", 0),
    }
    result["verdict"] = verdict(result)
    return result


def _estimate(metric, users: pd.DataFrame, ratings: np.ndarray, unit: str, alpha: float):
    try:
        if metric == "avg_rating" and unit == "user":  # a user's ratings go together too
            value = stats.ratio(users["rating_sum"], users["ratings"], alpha)
        elif metric == "avg_rating":
            value = stats.mean(ratings, alpha)
        elif unit == "user":
            value = rates.rate(users[RATES[metric]], users["impressions"], alpha)
        else:
            value = stats.proportion(
                int(users[RATES[metric]].sum()), int(users["impressions"].sum()), alpha
            )
    except RecsysError:  # too little data for an interval yet
        return None
    return {"value": value.value, "low": value.low, "high": value.high, "n": value.n}


def _compare(metric, control, treatment, unit: str, alpha: float) -> dict[str, Any]:
    (c_users, c_ratings), (t_users, t_ratings) = control, treatment
    empty = {
        "comparison": None,
        "lift": None,
        "lift_low": None,
        "lift_high": None,
        "p_value": None,
        "chance_to_beat": None,
        "expected_loss": None,
        "test": None,
        "significant": False,
    }
    try:
        if metric == "avg_rating" and unit == "user":
            comparison = stats.compare_ratios(
                c_users["rating_sum"], c_users["ratings"], t_users["rating_sum"],
                t_users["ratings"], alpha,
            )  # fmt: skip
            bayes = _normal_bayes(comparison)
        elif metric == "avg_rating":
            comparison = stats.compare_means(c_ratings, t_ratings, alpha)
            bayes = stats.bayes_means(c_ratings, t_ratings, draws=50_000, seed=0)
        else:
            column = RATES[metric]
            s_c, n_c = int(c_users[column].sum()), int(c_users["impressions"].sum())
            s_t, n_t = int(t_users[column].sum()), int(t_users["impressions"].sum())
            if unit == "user":
                comparison = rates.compare_rates(
                    c_users[column], c_users["impressions"], t_users[column],
                    t_users["impressions"], alpha,
                )  # fmt: skip
                s_c, n_c = _effective(s_c, n_c, comparison.control)
                s_t, n_t = _effective(s_t, n_t, comparison.treatment)
            else:
                comparison = stats.compare_proportions(s_c, n_c, s_t, n_t, alpha)
            # With no events (or only events) in both arms, the posteriors differ only by
            # their sizes: a "chance to beat" would be read as evidence where there is none.
            no_events = s_c + s_t == 0 or (s_c == n_c and s_t == n_t)
            bayes = (
                None
                if no_events
                else stats.bayes_proportions(s_c, n_c, s_t, n_t, draws=50_000, seed=0)
            )
    except RecsysError:
        return empty
    return {
        "comparison": comparison,
        "control": comparison.control.value,
        "treatment": comparison.treatment.value,
        "lift": _finite(comparison.lift),
        "lift_low": _finite(comparison.lift_low),
        "lift_high": _finite(comparison.lift_high),
        "p_value": _finite(comparison.p_value),
        "significant": bool(comparison.p_value < alpha),
        "chance_to_beat": None if bayes is None else bayes.chance_to_beat,
        "expected_loss": None if bayes is None else bayes.expected_loss,
        "test": comparison.test,
    }


def _effective(successes: int, trials: int, estimate: stats.Estimate) -> tuple[int, int]:
    """Counts scaled by the design effect (Kish): as informative as the clustered data. The
    effect is below 1 when a person's impressions exclude each other (one pick per visit), and
    then the posterior is narrower than a binomial one, in line with the delta-method test."""
    p = successes / trials if trials else 0.0
    binomial = p * (1 - p) / trials if trials else 0.0
    effect = estimate.se**2 / binomial if binomial > 0 and estimate.se > 0 else 1.0
    return round(successes / effect), max(round(trials / effect), 1)


def _normal_bayes(comparison: stats.Comparison) -> stats.Bayes:
    """Chance to beat control and expected loss from normal posteriors of the two means
    (flat priors): D = treatment - control ~ N(difference, se_c² + se_t²)."""
    se = float(np.hypot(comparison.control.se, comparison.treatment.se))
    d = comparison.difference
    if se == 0:
        return stats.Bayes(float(d > 0) + 0.5 * (d == 0), max(-d, 0.0))
    z = d / se
    return stats.Bayes(float(norm.cdf(z)), float(se * norm.pdf(z) - d * norm.cdf(-z)))


def _finite(value) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def verdict(result: dict[str, Any]) -> str:
    """One plain sentence on the primary metric (click-through rate)."""
    rows = [c for c in result["comparisons"] if c["metric"] == "ctr"]
    if result["srm"] and result["srm"]["mismatch"]:
        return (
            "Sample ratio mismatch: the arms did not get the users the split promised, so the "
            "assignment or logging is broken; do not trust the results."
        )
    if not rows or all(r["p_value"] is None for r in rows):
        return "Not enough data yet to compare the arms."
    control = result["experiment"]["control"]
    better = [r for r in rows if r["significant"] and r["treatment"] > r["control"]]
    worse = [r["arm"] for r in rows if r["significant"] and r["treatment"] < r["control"]]
    how = "always-valid interval" if result["sequential"] else "p"
    if better:
        best = max(better, key=lambda r: r["treatment"])
        winner = best["arm"]
        lift = "" if best["lift"] is None else f"lift {best['lift']:+.1%}, "
        sentence = (
            f"{winner} beats the control {control} on click-through rate "
            f"({lift}p = {best['p_value']:.2g}"
            + (", always-valid interval above zero" if result["sequential"] else "")
            + ")."
        )
    elif worse:
        winner = control
        sentence = (
            f"The control {control} is significantly better on click-through rate than "
            f"{', '.join(worse)}; no arm beats it."
        )
    else:
        winner = None
        pmin = min(r["p_value"] for r in rows if r["p_value"] is not None)
        sentence = (
            f"No arm differs significantly from the control {control} on click-through rate "
            + (
                "(every always-valid interval includes zero); "
                if how != "p"
                else f"(smallest p = {pmin:.3f}); "
            )
            + "keep collecting data or accept that the difference is smaller than this test "
            "can see."
        )
    oracle = result.get("oracle_winner")
    if oracle is None and result.get("identical_arms"):
        return sentence + (
            " Ground truth: the arms are identical, so any significant difference is a false "
            "positive."
        )
    if len(rows) > 1:
        sentence += f" With {len(rows)} arms against one control, expect more false alarms."
    if oracle and winner:
        right = "right" if winner == oracle else "wrong"
        sentence += f" Ground truth: the best arm is {oracle}, so the test picked the {right} one."
    elif oracle:
        sentence += f" Ground truth: the best arm is {oracle}."
    return sentence


def cumulative(
    store: Store,
    experiment: Experiment,
    metric: str = "ctr",
    *,
    unit: str = "user",
    points: int = 20,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The metric per arm as the data arrived: at `points` moments of the lab clock, the
    estimate and interval on everything logged so far, plus the lift and its p-value."""
    if metric not in METRICS or metric == "avg_rating":
        raise RecsysError(f"cumulative curves cover {', '.join(RATES)}")
    rows = Experiments(store).timeline(experiment.experiment_id)
    if rows.empty:
        return pd.DataFrame()
    cuts = np.unique(np.quantile(rows["ts"], np.linspace(0.05, 1.0, points)))
    column = RATES[metric]
    control = experiment.control.name
    out = []
    for cut in cuts:
        sofar = (
            rows[rows["ts"] <= cut]
            .groupby(["arm", "user_id"], as_index=False)[["impressions", column]]
            .sum()
        )
        groups = {a: g for a, g in sofar.groupby("arm")}
        for arm in experiment.arms:
            mine = groups.get(arm.name)
            estimate = (
                _estimate(metric, mine, np.array([]), unit, alpha) if mine is not None else None
            )
            if estimate is None:
                continue
            row = {
                "arm": arm.name,
                "day": (cut - experiment.created_ts) / DAY,
                "users": len(mine),
                **{k: estimate[k] for k in ("value", "low", "high")},
                "lift": None,
                "lift_low": None,
                "lift_high": None,
                "p_value": None,
            }
            if arm.name != control and control in groups:
                compared = _compare(metric, (groups[control], None), (mine, None), unit, alpha)
                row |= {k: compared[k] for k in ("lift", "lift_low", "lift_high", "p_value")}
            out.append(row)
    return pd.DataFrame(out)


def performance(store: Store, lab_time: float, days: float) -> pd.DataFrame:
    """Per algorithm over the last `days` of the lab clock (live and simulation events)."""
    if not np.isfinite(days) or days <= 0:
        raise RecsysError("days must be above 0")
    return Experiments(store).performance(lab_time - days * DAY)


def most_active(store: Store, lab_time: float, days: float, limit: int = 10) -> pd.DataFrame:
    if not np.isfinite(days) or days <= 0:
        raise RecsysError("days must be above 0")
    return Experiments(store).most_active(lab_time - days * DAY, limit)
