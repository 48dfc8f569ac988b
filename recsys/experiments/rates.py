"""Rates per user (clicks per impression, likes per impression) that stay honest at 0 and small n.

The delta method (`stats.ratio`) is right for large samples, but its variance comes from the
data's own spread: an arm with no clicks has no spread, so it reports `0 [0, 0]`, and a
comparison against it divides by an se of nearly nothing (p = 2.5e-6 where Fisher's exact test
on the same counts says 4.6e-5). Here:

- **Interval:** the exact Clopper-Pearson interval (Clopper & Pearson 1934; as
  `scipy.stats.binomtest(...).proportion_ci(method="exact")`) on the *effective* counts:
  impressions divided by Kish's design effect (the variance the clustering adds over
  independent impressions), taken as at least 1, so the data never counts as more trials than
  its impressions. With no events (or only events) the clustering cannot be estimated, and the
  worst case is taken: every user counts as one trial (0 clicks from 30 users: [0, 0.116]).
  Exact rather than Wilson (which `stats.proportion` uses for independent trials) because the
  design effect is itself estimated from few users: in seeded simulations of 30 to 100
  strongly clustered users at rates 0.02 to 0.1, Wilson on effective counts covered 89-94 % of
  the time, Clopper-Pearson 92-95 %, the delta method 82-93 % (tests/test_rates.py).
- **Test:** the delta-method z-test while every cell of the effective 2 x 2 table expects at
  least 5 under H0 (Cochran's rule for the normal approximation) and both arms have an se
  above 0; otherwise Fisher's exact test (`scipy.stats.fisher_exact`) on the effective counts.
  No events in either arm gives p = 1: the data cannot tell the arms apart.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as scipy_stats

from recsys.experiments import stats
from recsys.experiments.stats import Comparison, Estimate

FEWEST_EXPECTED = 5  # Cochran's rule: below this many expected per cell, test exactly
FEWEST_TO_ESTIMATE = 10  # events (and non-events) below which clustering is not estimated
EXACT_TEST = "Fisher's exact test (effective counts)"


def _counts(numerators: ArrayLike, denominators: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x = stats._array(numerators, "numerators")
    y = stats._array(denominators, "denominators")
    stats._require(x.size == y.size, f"Got {x.size} numerators but {y.size} denominators.")
    stats._require(bool((x >= 0).all()), "numerators cannot be negative.")
    stats._require(bool((x <= y).all()), "A user cannot have more events than impressions.")
    stats._require(y.sum() > 0, "All denominators are 0: there is nothing to divide by.")
    return x, y


def design_effect(numerators: ArrayLike, denominators: ArrayLike) -> float:
    """Kish's design effect of a per-user rate: the delta-method variance of sum(x) / sum(y)
    over the binomial variance p(1 - p) / sum(y) of independent impressions. Above 1 when a
    person's impressions go together, below 1 when they exclude each other. With fewer than
    FEWEST_TO_ESTIMATE events (or non-events) it cannot be estimated (one click says nothing of
    how clicks cluster, and the estimate would say "independent"); then it is the worst case,
    mean impressions per user who had any (each user one trial), so an interval does not
    narrow twelvefold when the first click arrives. Shapes: two 1-d arrays, one value per
    user. RecsysError on bad input."""
    x, y = _counts(numerators, denominators)
    p = x.sum() / y.sum()
    if min(x.sum(), y.sum() - x.sum()) >= FEWEST_TO_ESTIMATE:
        delta = stats.ratio(x, y).se ** 2
        return float(delta / (p * (1 - p) / y.sum()))
    return float(y.sum() / np.count_nonzero(y))


def clopper_pearson(successes: float, trials: float, alpha: float = 0.05) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval for `successes` of `trials`, from beta quantiles,
    so fractional effective counts work too (trials > 0). Equals scipy's
    `binomtest(k, n).proportion_ci(method="exact")` on whole counts."""
    alpha = stats._alpha(alpha)
    low = (
        0.0
        if successes <= 0
        else scipy_stats.beta.ppf(alpha / 2, successes, trials - successes + 1)
    )
    high = (
        1.0
        if successes >= trials
        else scipy_stats.beta.ppf(1 - alpha / 2, successes + 1, trials - successes)
    )
    return float(low), float(high)


def rate(numerators: ArrayLike, denominators: ArrayLike, alpha: float = 0.05) -> Estimate:
    """sum(numerators) / sum(denominators) over users, with the exact interval on the effective
    counts (module docstring). `se` is the delta-method se (0 when there are no events), `n` the
    users. Each numerator must lie in [0, its denominator]; RecsysError otherwise."""
    x, y = _counts(numerators, denominators)
    # A design effect below 1 (impressions that exclude each other, or a delta variance of 0
    # when every user has the same rate) would count the data as more than its impressions.
    effect = max(design_effect(x, y), 1.0)
    value = float(x.sum() / y.sum())
    trials = float(y.sum()) / effect
    low, high = clopper_pearson(value * trials, trials, alpha)
    se = stats.ratio(x, y, alpha).se if x.size >= 2 else 0.0
    return Estimate(value, low, high, se, int(x.size))


def compare_rates(
    num_c: ArrayLike, den_c: ArrayLike, num_t: ArrayLike, den_t: ArrayLike, alpha: float = 0.05
) -> Comparison:
    """Treatment's rate against control's: the delta-method z-test of `stats.compare_ratios`
    where the normal approximation holds, Fisher's exact test on effective counts where it does
    not, p = 1 with no events at all (module docstring). Intervals are `rate`'s."""
    x_c, y_c = _counts(num_c, den_c)
    x_t, y_t = _counts(num_t, den_t)
    control, treatment = rate(x_c, y_c, alpha), rate(x_t, y_t, alpha)
    x, y = np.concatenate([x_c, x_t]), np.concatenate([y_c, y_t])
    pooled = x.sum() / y.sum()
    if pooled in (0.0, 1.0):
        said = "no events in either arm" if pooled == 0 else "every impression was an event"
        return stats._compare(control, treatment, 1.0, f"no evidence: {said}", alpha)
    effect = max(design_effect(x, y), 1.0)
    table = np.array([[x_c.sum(), y_c.sum() - x_c.sum()], [x_t.sum(), y_t.sum() - x_t.sum()]])
    effective = table / effect
    expected = effective.sum(axis=1, keepdims=True) * np.array([pooled, 1 - pooled])
    if expected.min() >= FEWEST_EXPECTED and min(control.se, treatment.se) > 0:
        # `stats.compare_ratios`' unpooled z-test, on the se `rate` already computed
        se = math.hypot(control.se, treatment.se)
        p_value = stats._two_sided_p(treatment.value - control.value, se)
        return stats._compare(control, treatment, p_value, "delta-method z-test", alpha)
    # Whole counts for the exact test; a cell with any event keeps at least one (rounding 1
    # click over a design effect of 3 to none would erase the only evidence).
    whole = np.maximum(np.rint(effective), (table > 0).astype(float)).astype(np.int64)
    p_value = float(scipy_stats.fisher_exact(whole).pvalue)
    return stats._compare(control, treatment, p_value, EXACT_TEST, alpha)
