"""The statistics of an A/B test: estimates, comparisons, always-valid intervals, Bayes, planning.

The experiment randomises *users*, but click-through is counted per *impression*, so one user
contributes many correlated impressions. Treating impressions as independent trials makes every
interval too narrow; `ratio` and `compare_ratios` therefore work on per-user sums (clicks,
impressions) and get their variance from the delta method. `proportion` and
`compare_proportions` are the classic binomial versions, right when the unit *is* the trial (one
conversion per user). Everything here is pure numpy + scipy and deterministic: Monte Carlo takes
a seed. Bad input raises `RecsysError` with a one-line message.

>>> est = proportion(30, 200)
>>> round(est.value, 3), round(est.low, 3), round(est.high, 3)
(0.15, 0.107, 0.206)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from recsys.errors import RecsysError


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its (1 - alpha) interval, standard error and units it rests on."""

    value: float
    low: float
    high: float
    se: float
    n: int


@dataclass(frozen=True)
class Comparison:
    """Treatment against control; `lift` and every interval on it are relative (t / c - 1).

    `sequential_low` / `sequential_high` stay None until `sequential_lift` fills them.
    """

    control: Estimate
    treatment: Estimate
    difference: float
    lift: float
    lift_low: float
    lift_high: float
    p_value: float
    test: str
    sequential_low: float | None = None
    sequential_high: float | None = None


@dataclass(frozen=True)
class Bayes:
    """Posterior chance that treatment beats control, and the expected loss of shipping it.

    `expected_loss` is E[max(control - treatment, 0)] in the metric's own units: what you give
    up on average if you pick treatment and it is in fact worse.
    """

    chance_to_beat: float
    expected_loss: float


@dataclass(frozen=True)
class SampleRatio:
    """Observed users per arm against those the planned split expects (sample ratio mismatch)."""

    counts: tuple[int, ...]
    expected: tuple[float, ...]
    p_value: float
    mismatch: bool


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise RecsysError(message)


def _real(value: object, name: str) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    _require(ok and math.isfinite(value), f"{name} must be a finite number, not {value!r}.")
    return float(value)


def _alpha(alpha: float) -> float:
    alpha = _real(alpha, "alpha")
    _require(0 < alpha < 1, f"alpha must be in (0, 1), not {alpha!r}.")
    return alpha


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - _alpha(alpha) / 2))


def _count(value: object, name: str, least: int = 0) -> int:
    """A whole number >= least; integral floats (as SQL sums often are) are accepted."""
    message = f"{name} must be a whole number >= {least}, not {value!r}."
    number = _real(value, name)
    _require(number.is_integer() and number >= least, message)
    return int(number)


def _array(values: ArrayLike, name: str, least: int = 2) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise RecsysError(f"{name} must be a list of numbers.") from None
    _require(array.ndim == 1, f"{name} must be a flat list of numbers, one per user.")
    _require(array.size >= least, f"{name} needs at least {least} users, got {array.size}.")
    _require(bool(np.isfinite(array).all()), f"{name} must contain only finite numbers.")
    return array


def _two_sided_p(difference: float, se: float) -> float:
    # With zero variance there is no noise: identical arms give p = 1, different ones p = 0.
    if se > 0:
        return float(2 * stats.norm.sf(abs(difference) / se))
    return 1.0 if difference == 0 else 0.0


def proportion(successes: int, trials: int, alpha: float = 0.05) -> Estimate:
    """Share of successes with the Wilson score interval.

    Wilson rather than the textbook p ± z·se because it stays inside [0, 1] and keeps close to
    its nominal coverage for small n or rates near 0 and 1 (0 clicks gives [0, high], not
    [0, 0]). `se` is still the plain sqrt(p(1-p)/n), for use in comparisons.
    """
    trials = _count(trials, "trials", least=1)
    successes = _count(successes, "successes")
    _require(successes <= trials, f"successes ({successes}) cannot exceed trials ({trials}).")
    z = _z(alpha)
    p = successes / trials
    shrink = 1 + z**2 / trials
    centre = (p + z**2 / (2 * trials)) / shrink
    half = z / shrink * math.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2))
    return Estimate(p, centre - half, centre + half, math.sqrt(p * (1 - p) / trials), trials)


def ratio(numerators: ArrayLike, denominators: ArrayLike, alpha: float = 0.05) -> Estimate:
    """sum(numerators) / sum(denominators) over users, e.g. clicks per impression.

    The variance is the delta method for a ratio of means (Deng et al. 2018, "Applying the
    Delta Method in Metric Analytics"): with per-user means mx, my over n users,
    var(R) = (var_x/my² - 2·mx·cov_xy/my³ + mx²·var_y/my⁴) / n. That equals
    var(x - R·y) / (my²·n), which is how it is computed: never negative by rounding. Users with
    no impressions (denominator 0) are still units and count in n. Normal interval.
    """
    x = _array(numerators, "numerators")
    y = _array(denominators, "denominators")
    _require(x.size == y.size, f"Got {x.size} numerators but {y.size} denominators.")
    _require(bool((y >= 0).all()), "denominators cannot be negative.")
    my = y.mean()
    _require(my > 0, "All denominators are 0: there is nothing to divide by.")
    value = x.sum() / y.sum()
    se = math.sqrt(np.var(x - value * y, ddof=1) / (my**2 * x.size))
    z = _z(alpha)
    return Estimate(float(value), value - z * se, value + z * se, se, int(x.size))


def mean(values: ArrayLike, alpha: float = 0.05) -> Estimate:
    """Sample mean with a Student t interval (n - 1 degrees of freedom), e.g. average rating."""
    x = _array(values, "values")
    se = float(x.std(ddof=1) / math.sqrt(x.size))
    half = float(stats.t.ppf(1 - _alpha(alpha) / 2, x.size - 1)) * se
    value = float(x.mean())
    return Estimate(value, value - half, value + half, se, int(x.size))


def _lift(control: Estimate, treatment: Estimate) -> tuple[float, float]:
    """Relative lift t/c - 1 and its delta-method se; nan for both when the control is 0."""
    c, t = control.value, treatment.value
    if c == 0:
        return math.nan, math.nan
    se = math.sqrt(treatment.se**2 / c**2 + t**2 * control.se**2 / c**4)
    return t / c - 1, se


def _compare(
    control: Estimate, treatment: Estimate, p_value: float, test: str, alpha: float
) -> Comparison:
    lift, se = _lift(control, treatment)
    z = _z(alpha)
    difference = treatment.value - control.value
    return Comparison(
        control, treatment, difference, lift, lift - z * se, lift + z * se, p_value, test
    )


def compare_proportions(s_c: int, n_c: int, s_t: int, n_t: int, alpha: float = 0.05) -> Comparison:
    """Two-proportion z-test with the pooled variance under H0 (= chi-square without correction);
    Fisher's exact test (`scipy.stats.fisher_exact`) when a cell of the 2 x 2 table expects
    fewer than 5 under H0 (Cochran's rule), where the normal approximation fails.

    Right when each trial is its own randomised unit (one conversion per user). For clicks per
    impression, where one user has many impressions, use `compare_ratios`.
    """
    control = proportion(s_c, n_c, alpha)
    treatment = proportion(s_t, n_t, alpha)
    pooled = (control.value * control.n + treatment.value * treatment.n) / (control.n + treatment.n)
    if min(pooled, 1 - pooled) * min(control.n, treatment.n) < 5:
        table = [[s_c, control.n - s_c], [s_t, treatment.n - s_t]]
        p_value = float(stats.fisher_exact(table).pvalue)
        return _compare(control, treatment, p_value, "Fisher's exact test", alpha)
    se = math.sqrt(pooled * (1 - pooled) * (1 / control.n + 1 / treatment.n))
    p_value = _two_sided_p(treatment.value - control.value, se)
    return _compare(control, treatment, p_value, "two-proportion z-test", alpha)


def compare_ratios(
    num_c: ArrayLike, den_c: ArrayLike, num_t: ArrayLike, den_t: ArrayLike, alpha: float = 0.05
) -> Comparison:
    """Per-user ratio metrics compared by an unpooled delta-method z-test (see `ratio`).

    z = (R_t - R_c) / sqrt(se_t² + se_c²), two-sided p from the normal. With every
    denominator 1 this is the unpooled two-proportion test.
    """
    control = ratio(num_c, den_c, alpha)
    treatment = ratio(num_t, den_t, alpha)
    se = math.hypot(control.se, treatment.se)
    p_value = _two_sided_p(treatment.value - control.value, se)
    return _compare(control, treatment, p_value, "delta-method z-test", alpha)


def compare_means(x_c: ArrayLike, x_t: ArrayLike, alpha: float = 0.05) -> Comparison:
    """Welch's t-test (unequal variances), as scipy.stats.ttest_ind(x_t, x_c, equal_var=False).

    The lift interval uses the normal delta method on the two means' se, like the other
    comparisons. If both arms have zero variance scipy has no p-value; then p is 1 for equal
    means and 0 otherwise.
    """
    control = mean(x_c, alpha)
    treatment = mean(x_t, alpha)
    welch = stats.ttest_ind(np.asarray(x_t, float), np.asarray(x_c, float), equal_var=False)
    p_value = float(welch.pvalue)
    if math.isnan(p_value):
        p_value = _two_sided_p(treatment.value - control.value, 0.0)
    return _compare(control, treatment, p_value, "Welch t-test", alpha)


def sequential_interval(
    estimate: float, se: float, n: int, alpha: float = 0.05, tuning_n: int = 5000
) -> tuple[float, float]:
    """An always-valid (anytime-valid) interval: safe to look at after every batch of users.

    Why peeking at a fixed-horizon p-value misleads: p < alpha promises a false alarm rate of
    alpha for *one* look at a sample size fixed in advance. Looking every day and stopping the
    first time p dips below alpha gives an A/A test many chances to cross by luck, and the
    chances add up: with 20 looks roughly one A/A test in four is declared a winner at alpha 5%.

    Why this interval does not: it is a confidence sequence, which covers the truth at every n
    *simultaneously* with probability 1 - alpha. So "stop as soon as it excludes 0" keeps the
    false alarm rate at alpha, however often you look and whenever you stop. The price is
    width: at any single n it is wider than the fixed-horizon interval.

    This is the asymptotic normal-mixture confidence sequence (the boundary of Howard, Ramdas,
    McAuliffe & Sekhon 2021, in the asymptotic form of Waudby-Smith et al., arXiv 2103.06476,
    eq. 9 and 161), as GrowthBook and Eppo use it: with
    rho = sqrt((-2 log alpha + log(-2 log alpha + 1)) / tuning_n), the half-width is
    se · sqrt(2 (n rho² + 1) / (n rho²) · log(sqrt(n rho² + 1) / alpha)). `tuning_n` is the
    sample size where the interval is tightest relative to the fixed one; set it near the
    number of units you expect. `n` counts units in both arms together. A nan estimate gives
    nan bounds.
    """
    se = _real(se, "se")
    _require(se >= 0, f"se cannot be negative, not {se!r}.")
    n = _count(n, "n", least=1)
    tuning_n = _count(tuning_n, "tuning_n", least=1)
    log_alpha = math.log(_alpha(alpha))
    rho2 = (-2 * log_alpha + math.log(-2 * log_alpha + 1)) / tuning_n
    spread = n * rho2
    half = se * math.sqrt(2 * (spread + 1) / spread * math.log(math.sqrt(spread + 1) / alpha))
    return estimate - half, estimate + half


def sequential_lift(
    comparison: Comparison, n: int | None = None, alpha: float = 0.05, tuning_n: int = 5000
) -> Comparison:
    """A copy of `comparison` with the always-valid interval on its lift filled in.

    A separate step rather than a parameter of every compare_* so the fixed-horizon numbers
    stay the default and the sequential ones are an explicit choice. `n` defaults to the users
    in both arms; the lift's se is the same delta-method se behind `lift_low` / `lift_high`.
    """
    if n is None:
        n = comparison.control.n + comparison.treatment.n
    lift, se = _lift(comparison.control, comparison.treatment)
    if math.isnan(se):
        return dataclasses.replace(comparison, sequential_low=math.nan, sequential_high=math.nan)
    low, high = sequential_interval(lift, se, n, alpha, tuning_n)
    return dataclasses.replace(comparison, sequential_low=low, sequential_high=high)


def _posterior_summary(control: np.ndarray, treatment: np.ndarray) -> Bayes:
    loss = np.maximum(control - treatment, 0)
    return Bayes(float(np.mean(treatment > control)), float(np.mean(loss)))


def bayes_proportions(
    s_c: int,
    n_c: int,
    s_t: int,
    n_t: int,
    prior: tuple[float, float] = (1.0, 1.0),
    draws: int = 200_000,
    seed: int = 0,
) -> Bayes:
    """Beta-Binomial posteriors (uniform Beta(1, 1) prior by default), compared by Monte Carlo."""
    control, treatment = proportion(s_c, n_c), proportion(s_t, n_t)
    _require(len(prior) == 2, f"prior must be two numbers (alpha, beta), not {prior!r}.")
    a, b = (_real(v, "Each prior parameter") for v in prior)
    _require(a > 0 and b > 0, f"prior parameters must be positive, not {prior!r}.")
    rng = np.random.default_rng(seed)
    draws = _count(draws, "draws", least=1)
    p_c = rng.beta(a + s_c, b + control.n - s_c, draws)
    p_t = rng.beta(a + s_t, b + treatment.n - s_t, draws)
    return _posterior_summary(p_c, p_t)


def bayes_means(x_c: ArrayLike, x_t: ArrayLike, draws: int = 200_000, seed: int = 0) -> Bayes:
    """Each arm's mean as N(mean, se²) (flat prior, large-sample), compared by Monte Carlo."""
    control, treatment = mean(x_c), mean(x_t)
    rng = np.random.default_rng(seed)
    draws = _count(draws, "draws", least=1)
    m_c = rng.normal(control.value, control.se, draws)
    m_t = rng.normal(treatment.value, treatment.se, draws)
    return _posterior_summary(m_c, m_t)


def sample_ratio(
    counts: Sequence[int], shares: Sequence[float], threshold: float = 0.001
) -> SampleRatio:
    """Chi-square goodness of fit of users per arm against the planned split.

    A mismatch means assignment or logging is broken, so no other number in the experiment can
    be trusted. The threshold is strict (0.001 by default) because this check runs on every
    experiment and a false alarm halts a healthy one. `shares` are fractions summing to 1 or
    percentages summing to 100.
    """
    counts = tuple(_count(c, "Each arm's user count") for c in counts)
    _require(len(counts) >= 2, "A sample ratio check needs at least two arms.")
    _require(len(shares) == len(counts), f"Got {len(counts)} counts but {len(shares)} shares.")
    _require(sum(counts) > 0, "No users in any arm: nothing to check.")
    weights = _array(shares, "shares")
    _require(bool((weights > 0).all()), "Every share must be positive.")
    total = weights.sum()
    ok = abs(total - 1) <= 1e-6 or abs(total - 100) <= 1e-6
    _require(ok, f"shares must sum to 1 or to 100, not {total:g}.")
    expected = weights / total * sum(counts)
    threshold = _real(threshold, "threshold")
    _require(0 < threshold < 1, f"threshold must be in (0, 1), not {threshold!r}.")
    p_value = float(stats.chisquare(counts, expected).pvalue)
    return SampleRatio(counts, tuple(float(e) for e in expected), p_value, p_value < threshold)


def sample_size(
    baseline: float, mde: float, alpha: float = 0.05, power: float = 0.8, relative: bool = True
) -> int:
    """Users per arm for a two-sided two-proportion test to detect `mde` with `power`.

    n = (z_{1-a/2}·sqrt(2·pbar·(1-pbar)) + z_power·sqrt(p1(1-p1) + p2(1-p2)))² / (p2 - p1)²,
    the first term under H0 (pooled) and the second under H1, which is how the test is run.
    `mde` is relative (0.1 = +10%) unless `relative=False`, then absolute (0.01 = +1 point).
    """
    baseline, mde, power = _real(baseline, "baseline"), _real(mde, "mde"), _real(power, "power")
    _require(0 < baseline < 1, f"baseline must be a rate in (0, 1), not {baseline!r}.")
    _require(mde != 0, "mde must be non-zero: no sample size detects a zero effect.")
    _require(0 < power < 1, f"power must be in (0, 1), not {power!r}.")
    p1 = baseline
    p2 = baseline * (1 + mde) if relative else baseline + mde
    _require(0 < p2 < 1, f"baseline and mde give a treatment rate of {p2:g}, outside (0, 1).")
    pbar = (p1 + p2) / 2
    spread = _z(alpha) * math.sqrt(2 * pbar * (1 - pbar)) + stats.norm.ppf(power) * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return math.ceil(spread**2 / (p2 - p1) ** 2)


def power_of(p1: float, p2: float, n: int, alpha: float = 0.05) -> float:
    """The chance that `sample_size`'s two-sided test with `n` users per arm finds true rates
    `p1` and `p2` different (normal approximation; its inverse: `power_of(b, b * (1 + mde),
    sample_size(b, mde))` is at least the power asked for). Equal rates give alpha."""
    _require(0 < p1 < 1 and 0 < p2 < 1, f"rates must be in (0, 1), not {p1!r} and {p2!r}.")
    n, pbar, z = _count(n, "n", least=1), (p1 + p2) / 2, _z(alpha)
    null_sd = math.sqrt(2 * pbar * (1 - pbar))
    alt_sd = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    shift = abs(p2 - p1) * math.sqrt(n)
    return float(
        stats.norm.cdf((shift - z * null_sd) / alt_sd)
        + stats.norm.cdf((-shift - z * null_sd) / alt_sd)
    )
