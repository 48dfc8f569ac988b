"""A/B statistics against scipy.stats, closed forms and small seeded simulations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from recsys.errors import RecsysError
from recsys.experiments.stats import (
    Comparison,
    bayes_means,
    bayes_proportions,
    compare_means,
    compare_proportions,
    compare_ratios,
    mean,
    power_of,
    proportion,
    ratio,
    sample_ratio,
    sample_size,
    sequential_interval,
    sequential_lift,
)

SEED = 42


def clustered_users(rng: np.random.Generator, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Clicks and impressions per user; true click-through 0.2, users far from independent.

    Impressions per user are geometric (some users get none) and each user has their own
    click rate from Beta(2, 8), so impressions of one user are correlated: the design effect
    is about 3, which a binomial interval on pooled impressions ignores.
    """
    impressions = rng.geometric(1 / 12, n_users) - 1
    clicks = rng.binomial(impressions, rng.beta(2, 8, n_users))
    return clicks.astype(float), impressions.astype(float)


# --- estimates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "trials"), [(0, 10), (3, 10), (30, 200), (200, 200), (7, 1000)]
)
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_wilson_interval_matches_scipy(successes, trials, alpha):
    est = proportion(successes, trials, alpha)
    ci = stats.binomtest(successes, trials).proportion_ci(1 - alpha, method="wilson")
    assert est.low == pytest.approx(ci.low, abs=1e-12)
    assert est.high == pytest.approx(ci.high, abs=1e-12)
    assert est.value == successes / trials
    assert est.se == pytest.approx(math.sqrt(est.value * (1 - est.value) / trials))
    assert est.n == trials


def test_mean_interval_is_student_t():
    x = np.random.default_rng(SEED).normal(3.5, 1.0, 40)
    est = mean(x, alpha=0.1)
    low, high = stats.t.interval(0.9, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert (est.low, est.high) == pytest.approx((low, high), rel=1e-12)
    assert est.se == pytest.approx(stats.sem(x))
    assert est.n == 40


def test_ratio_se_is_the_delta_method_formula_and_zero_impression_users_count():
    clicks, impressions = clustered_users(np.random.default_rng(SEED), 300)
    assert (impressions == 0).any()
    est = ratio(clicks, impressions)
    n, mx, my = len(clicks), clicks.mean(), impressions.mean()
    var_x, var_y = clicks.var(ddof=1), impressions.var(ddof=1)
    cov = np.cov(clicks, impressions, ddof=1)[0, 1]
    variance = (var_x / my**2 - 2 * mx * cov / my**3 + mx**2 * var_y / my**4) / n
    assert est.value == pytest.approx(clicks.sum() / impressions.sum())
    assert est.se == pytest.approx(math.sqrt(variance), rel=1e-10)
    assert est.n == 300
    assert est.high - est.value == pytest.approx(1.959964 * est.se, rel=1e-6)


def test_ratio_interval_covers_the_true_rate_95_percent_where_binomial_does_not():
    rng = np.random.default_rng(SEED)
    delta_hits = binomial_hits = 0
    for _ in range(400):
        clicks, impressions = clustered_users(rng, 400)
        est = ratio(clicks, impressions)
        naive = proportion(int(clicks.sum()), int(impressions.sum()))
        delta_hits += est.low <= 0.2 <= est.high
        binomial_hits += naive.low <= 0.2 <= naive.high
    assert 0.92 <= delta_hits / 400 <= 0.98
    assert binomial_hits / 400 < 0.85


# --- comparisons -------------------------------------------------------------------------------


# (0, 50, 3, 60), once here, expects under 5 in a cell: it is Fisher's exact test now
# (tests/test_rates.py), since the chi-square approximation fails there.
@pytest.mark.parametrize(
    "counts", [(100, 1000, 120, 1000), (5, 40, 12, 45), (480, 5000, 430, 4800)]
)
def test_two_proportion_p_value_equals_chi2_contingency(counts):
    s_c, n_c, s_t, n_t = counts
    result = compare_proportions(s_c, n_c, s_t, n_t)
    table = [[s_c, n_c - s_c], [s_t, n_t - s_t]]
    assert result.p_value == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue)
    assert result.test == "two-proportion z-test"
    assert result.difference == pytest.approx(s_t / n_t - s_c / n_c)


def test_welch_p_value_equals_ttest_ind():
    rng = np.random.default_rng(SEED)
    x_c, x_t = rng.normal(3.4, 1.0, 80), rng.normal(3.7, 1.6, 50)
    result = compare_means(x_c, x_t)
    assert result.p_value == pytest.approx(stats.ttest_ind(x_t, x_c, equal_var=False).pvalue)
    assert result.test == "Welch t-test"
    assert result.difference == pytest.approx(x_t.mean() - x_c.mean())


def test_ratio_with_one_impression_per_user_is_the_unpooled_two_proportion_test():
    rng = np.random.default_rng(SEED)
    clicks_c = (rng.random(3000) < 0.10).astype(float)
    clicks_t = (rng.random(3000) < 0.115).astype(float)
    result = compare_ratios(clicks_c, np.ones(3000), clicks_t, np.ones(3000))
    p_c, p_t = clicks_c.mean(), clicks_t.mean()
    se = math.sqrt(p_c * (1 - p_c) / 3000 + p_t * (1 - p_t) / 3000)
    unpooled_p = 2 * stats.norm.sf(abs(p_t - p_c) / se)
    assert result.test == "delta-method z-test"
    assert result.p_value == pytest.approx(unpooled_p, rel=0.01)
    pooled = compare_proportions(int(clicks_c.sum()), 3000, int(clicks_t.sum()), 3000)
    assert result.p_value == pytest.approx(pooled.p_value, rel=0.05)


def test_lift_and_its_delta_method_interval():
    result = compare_proportions(100, 1000, 120, 1000)
    assert result.lift == pytest.approx(0.2)
    c, t = result.control, result.treatment
    se = math.sqrt(t.se**2 / c.value**2 + t.value**2 * c.se**2 / c.value**4)
    assert result.lift_low == pytest.approx(0.2 - 1.959964 * se, rel=1e-6)
    assert result.lift_high == pytest.approx(0.2 + 1.959964 * se, rel=1e-6)
    assert result.sequential_low is None and result.sequential_high is None


def test_zero_control_gives_nan_lift_not_an_error():
    result = sequential_lift(compare_proportions(0, 100, 5, 100))
    assert math.isnan(result.lift) and math.isnan(result.lift_low) and math.isnan(result.lift_high)
    assert math.isnan(result.sequential_low) and math.isnan(result.sequential_high)
    assert result.difference == pytest.approx(0.05)
    assert math.isnan(compare_means([0.0, 1.0, -1.0], [1.0, 2.0, 3.0]).lift)


# --- sequential --------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [100, 1000, 5000, 50_000])
def test_sequential_interval_is_wider_than_the_fixed_one(n):
    low, high = sequential_interval(0.1, 0.02, n)
    fixed = 1.959964 * 0.02
    assert low < 0.1 - fixed and high > 0.1 + fixed
    assert high - 0.1 == pytest.approx(0.1 - low)


def test_sequential_interval_is_tightest_near_the_tuning_n():
    def width(n):
        return sequential_interval(0.0, 1.0, n, tuning_n=5000)[1]

    assert width(5000) < width(2500) and width(5000) < width(10_000)


def test_sequential_lift_defaults_to_users_in_both_arms():
    result = sequential_lift(compare_proportions(100, 1000, 120, 1000), alpha=0.1, tuning_n=800)
    se = (result.lift_high - result.lift) / 1.959964
    low, high = sequential_interval(result.lift, se, 2000, alpha=0.1, tuning_n=800)
    assert isinstance(result, Comparison)
    assert (result.sequential_low, result.sequential_high) == pytest.approx((low, high))
    assert result.lift_low == compare_proportions(100, 1000, 120, 1000).lift_low


def test_peeking_inflates_fixed_horizon_errors_but_not_the_sequential_ones():
    """A/A test, 200 repetitions, a look after each of 20 batches of 250 users per arm."""
    rng = np.random.default_rng(SEED)
    clicks = rng.binomial(250, 0.1, size=(200, 20, 2)).cumsum(axis=1)
    fixed_alarms = sequential_alarms = 0
    for run in clicks:
        fixed = sequential = False
        for look, (s_c, s_t) in enumerate(run, start=1):
            result = sequential_lift(
                compare_proportions(int(s_c), 250 * look, int(s_t), 250 * look)
            )
            fixed |= result.p_value < 0.05
            sequential |= not result.sequential_low <= 0 <= result.sequential_high
        fixed_alarms += fixed
        sequential_alarms += sequential
    assert fixed_alarms / 200 > 0.12
    assert sequential_alarms / 200 <= 0.05 + 0.015


# --- Bayesian ----------------------------------------------------------------------------------


def test_bayes_proportions_matches_numerical_integration():
    s_c, n_c, s_t, n_t = 120, 1000, 140, 1000
    a, b = 1 + s_c, 1 + n_c - s_c
    beta_c, beta_t = stats.beta(a, b), stats.beta(1 + s_t, 1 + n_t - s_t)
    peaks = [0.12, 0.14]
    chance = integrate.quad(lambda x: beta_t.pdf(x) * beta_c.cdf(x), 0, 1, points=peaks)[0]
    # E[max(p_c - y, 0)] = E[p_c; p_c > y] - y P(p_c > y); the first term is a Beta(a+1, b) tail.
    above = stats.beta(a + 1, b)
    loss = integrate.quad(
        lambda y: beta_t.pdf(y) * (a / (a + b) * above.sf(y) - y * beta_c.sf(y)), 0, 1, points=peaks
    )[0]
    result = bayes_proportions(s_c, n_c, s_t, n_t)
    assert result.chance_to_beat == pytest.approx(chance, abs=0.005)
    assert result.expected_loss == pytest.approx(loss, rel=0.05)
    assert bayes_proportions(s_c, n_c, s_t, n_t) == result
    assert bayes_proportions(s_c, n_c, s_t, n_t, seed=1) != result


def test_bayes_means_matches_the_normal_closed_form():
    rng = np.random.default_rng(SEED)
    x_c, x_t = rng.normal(3.5, 1.0, 200), rng.normal(3.6, 1.0, 200)
    c, t = mean(x_c), mean(x_t)
    gap, spread = c.value - t.value, math.hypot(c.se, t.se)
    loss = gap * stats.norm.cdf(gap / spread) + spread * stats.norm.pdf(gap / spread)
    result = bayes_means(x_c, x_t, draws=200_000, seed=3)
    assert result.chance_to_beat == pytest.approx(stats.norm.cdf(-gap / spread), abs=0.005)
    assert result.expected_loss == pytest.approx(loss, rel=0.05)


# --- sample ratio and sample size ----------------------------------------------------------------


def test_sample_ratio_matches_chisquare_and_accepts_percentages():
    counts, shares = [3320, 3390, 3290], [1 / 3, 1 / 3, 1 / 3]
    check = sample_ratio(counts, shares)
    assert check.p_value == pytest.approx(stats.chisquare(counts, [3333.3333333] * 3).pvalue)
    assert check.expected == pytest.approx((10_000 / 3,) * 3)
    assert check.counts == (3320, 3390, 3290)
    assert sample_ratio([4000, 6000], [40, 60]) == sample_ratio([4000, 6000], [0.4, 0.6])


def test_sample_ratio_flags_a_45_55_split_but_not_a_fair_coin():
    assert sample_ratio([9000, 11000], [0.5, 0.5]).mismatch
    control = int(np.random.default_rng(SEED).binomial(20_000, 0.5))
    fair = sample_ratio([control, 20_000 - control], [0.5, 0.5])
    assert not fair.mismatch and fair.p_value > 0.001


def normal_power(n: int, p1: float, p2: float, alpha: float = 0.05) -> float:
    """Power of the pooled two-sided two-proportion z-test with n per arm (both tails)."""
    z = stats.norm.ppf(1 - alpha / 2)
    pbar = (p1 + p2) / 2
    null_sd = math.sqrt(2 * pbar * (1 - pbar) / n)
    alt_sd = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    shift = p2 - p1
    return stats.norm.sf((z * null_sd - shift) / alt_sd) + stats.norm.cdf(
        (-z * null_sd - shift) / alt_sd
    )


@pytest.mark.parametrize(("baseline", "mde", "relative"), [(0.1, 0.2, True), (0.3, -0.05, False)])
def test_sample_size_is_the_smallest_n_with_the_power(baseline, mde, relative):
    n = sample_size(baseline, mde, relative=relative)
    p2 = baseline * (1 + mde) if relative else baseline + mde
    assert normal_power(n, baseline, p2) >= 0.8 > normal_power(n - 1, baseline, p2)
    assert normal_power(n - 1, baseline, p2) > 0.799


def test_sample_size_power_holds_in_simulation():
    n = sample_size(0.1, 0.2)
    assert sample_size(0.1, 0.02, relative=False) == n
    rng = np.random.default_rng(SEED)
    runs = zip(rng.binomial(n, 0.1, 3000), rng.binomial(n, 0.12, 3000), strict=True)
    detected = [compare_proportions(int(c), n, int(t), n).p_value < 0.05 for c, t in runs]
    assert np.mean(detected) == pytest.approx(0.8, abs=0.03)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: proportion(0, 0),
        lambda: proportion(5, 3),
        lambda: proportion(-1, 10),
        lambda: proportion(1.5, 10),
        lambda: proportion(True, 10),
        lambda: proportion(1, 10, alpha=0),
        lambda: proportion(1, 10, alpha=1.5),
        lambda: ratio([1, 2], [1]),
        lambda: ratio([1], [1]),
        lambda: ratio([1, 2], [0, 0]),
        lambda: ratio([1, 2], [-1, 3]),
        lambda: ratio([1, math.nan], [1, 1]),
        lambda: ratio(["a", "b"], [1, 1]),
        lambda: mean([1.0]),
        lambda: mean([[1, 2], [3, 4]]),
        lambda: compare_proportions(1, 0, 1, 10),
        lambda: compare_ratios([1, 2], [1, 1], [1, 2], [1]),
        lambda: compare_means([1, 2], [3]),
        lambda: sequential_interval(0, -1, 10),
        lambda: sequential_interval(0, 1, 0),
        lambda: sequential_interval(0, 1, 10, tuning_n=0),
        lambda: sequential_interval(0, 1, 10, alpha=1),
        lambda: bayes_proportions(1, 10, 2, 10, prior=(0, 1)),
        lambda: bayes_proportions(1, 10, 2, 10, draws=0),
        lambda: sample_ratio([10, 10], [0.5, 0.4]),
        lambda: sample_ratio([10], [1.0]),
        lambda: sample_ratio([10, 10, 10], [0.5, 0.5]),
        lambda: sample_ratio([0, 0], [0.5, 0.5]),
        lambda: sample_ratio([10, 10], [0.0, 1.0]),
        lambda: sample_ratio([10, 10], [0.5, 0.5], threshold=0),
        lambda: sample_size(0, 0.1),
        lambda: sample_size(1.2, 0.1),
        lambda: sample_size(0.5, 0),
        lambda: sample_size(0.5, 1.5),
        lambda: sample_size(0.95, 0.1, relative=False),
        lambda: sample_size(0.1, 0.1, power=1),
        lambda: sample_size("0.1", 0.1),
    ],
)
def test_bad_input_raises_a_one_line_recsys_error(call):
    with pytest.raises(RecsysError) as error:
        call()
    assert str(error.value) and "\n" not in str(error.value)


def test_power_of_inverts_sample_size_and_matches_a_simulation():
    n = sample_size(0.3, 0.2, 0.05, 0.8)
    assert 0.8 <= power_of(0.3, 0.36, n) < 0.801
    assert power_of(0.3, 0.36, n - 20) < 0.8  # the smallest size that has the power
    assert power_of(0.2, 0.2, 500) == pytest.approx(0.05)
    # coverage: the two-proportion z-test on binomial draws finds the difference that often
    rng = np.random.default_rng(0)
    a, b = rng.binomial(400, 0.3, 20_000), rng.binomial(400, 0.36, 20_000)
    pooled = (a + b) / 800
    z = (b - a) / 400 / np.sqrt(pooled * (1 - pooled) * 2 / 400)
    found = np.mean(np.abs(z) > stats.norm.ppf(0.975))
    assert power_of(0.3, 0.36, 400) == pytest.approx(found, abs=0.015)
