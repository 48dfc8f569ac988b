"""Per-user rates at zero events and small n (issue 16, kind 8), against scipy and simulations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from recsys.errors import RecsysError
from recsys.experiments import rates, stats

SEED = 16


def clustered(rng: np.random.Generator, users: int, rate: float, concentration: float):
    """Clicks and impressions per user: geometric impressions (some users get none) and each
    user's own click rate from Beta(concentration * rate, concentration * (1 - rate)); the
    smaller the concentration, the more a user's impressions go together."""
    impressions = rng.geometric(1 / 12, users) - 1
    own = rng.beta(concentration * rate, concentration * (1 - rate), users)
    return rng.binomial(impressions, own).astype(float), impressions.astype(float)


@pytest.mark.parametrize(("k", "n"), [(0, 30), (1, 30), (7, 40), (40, 40), (3, 1000)])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_clopper_pearson_matches_scipy(k, n, alpha):
    expected = scipy_stats.binomtest(k, n).proportion_ci(1 - alpha, method="exact")
    low, high = rates.clopper_pearson(k, n, alpha)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_zero_clicks_from_30_users_is_not_a_zero_width_interval():
    clicks, impressions = np.zeros(30), np.full(30, 10.0)
    # The delta method, the old interval, collapses to a point at 0:
    old = stats.ratio(clicks, impressions)
    assert (old.low, old.high) == (0.0, 0.0)
    # Now: with no events the clustering is unknown, so each user counts as one trial.
    new = rates.rate(clicks, impressions)
    exact = scipy_stats.binomtest(0, 30).proportion_ci(method="exact")
    assert (new.value, new.low, new.n) == (0.0, 0.0, 30)
    assert new.high == pytest.approx(exact.high, abs=1e-12)
    assert new.high == pytest.approx(0.1157, abs=1e-4)


def test_all_clicks_mirror_no_clicks():
    full = rates.rate(np.full(30, 10.0), np.full(30, 10.0))
    assert full.value == 1.0 and full.high == 1.0
    assert full.low == pytest.approx(1 - rates.rate(np.zeros(30), np.full(30, 10.0)).high)


def test_design_effect_is_one_for_independent_trials_and_above_one_when_clustered():
    rng = np.random.default_rng(SEED)
    one = (rng.random(5000) < 0.1).astype(float)
    # One impression per user: the delta-method variance is the binomial one times n/(n-1).
    assert rates.design_effect(one, np.ones(5000)) == pytest.approx(5000 / 4999, rel=1e-9)
    clicks, impressions = clustered(rng, 2000, 0.2, 10)
    assert rates.design_effect(clicks, impressions) > 2


def test_large_samples_keep_the_delta_method_numbers():
    rng = np.random.default_rng(SEED)
    clicks_c, imp_c = clustered(rng, 3000, 0.10, 10)
    clicks_t, imp_t = clustered(rng, 3000, 0.12, 10)
    new = rates.compare_rates(clicks_c, imp_c, clicks_t, imp_t)
    old = stats.compare_ratios(clicks_c, imp_c, clicks_t, imp_t)
    assert new.test == "delta-method z-test"
    assert new.p_value == old.p_value and new.lift == pytest.approx(old.lift)
    # Exact on effective counts and the delta method's normal interval agree at this size.
    estimate, delta = new.control, old.control
    assert estimate.high - estimate.low == pytest.approx(delta.high - delta.low, rel=0.02)


def test_zero_clicks_in_control_is_tested_exactly_not_by_a_zero_se():
    """The issue's case: a control arm with 0 clicks out of 30 users."""
    clicks_c, imp_c = np.zeros(30), np.full(30, 10.0)
    clicks_t, imp_t = np.r_[np.ones(6), np.zeros(24)], np.full(30, 10.0)
    old = stats.compare_ratios(clicks_c, imp_c, clicks_t, imp_t)
    raw_fisher = scipy_stats.fisher_exact([[0, 300], [6, 294]]).pvalue
    assert old.p_value < raw_fisher / 3  # the defect: far more certain than an exact test
    new = rates.compare_rates(clicks_c, imp_c, clicks_t, imp_t)
    assert new.test == rates.EXACT_TEST
    effect = rates.design_effect(np.r_[clicks_c, clicks_t], np.r_[imp_c, imp_t])
    table = np.rint(np.array([[0, 300], [6, 294]]) / max(effect, 1.0)).astype(int)
    assert new.p_value == pytest.approx(scipy_stats.fisher_exact(table).pvalue)
    assert new.p_value >= raw_fisher  # never more certain than independent impressions
    assert np.isnan(new.lift)  # no lift over a zero control


def test_no_events_in_either_arm_is_no_evidence():
    none = np.zeros(30), np.full(30, 10.0)
    result = rates.compare_rates(*none, np.zeros(300), np.full(300, 10.0))
    assert result.p_value == 1.0
    assert result.test.startswith("no evidence")


def test_small_counts_per_impression_use_fishers_exact_test():
    result = stats.compare_proportions(0, 50, 3, 60)
    assert result.test == "Fisher's exact test"
    expected = scipy_stats.fisher_exact([[0, 50], [3, 57]]).pvalue
    assert result.p_value == pytest.approx(expected)


def test_interval_covers_the_true_rate_at_small_n_where_the_delta_method_does_not():
    rng = np.random.default_rng(SEED)
    runs, new_hits, old_hits = 1000, 0, 0
    for _ in range(runs):
        clicks, impressions = clustered(rng, 30, 0.02, 100)
        if impressions.sum() == 0:
            continue
        new, old = rates.rate(clicks, impressions), stats.ratio(clicks, impressions)
        new_hits += new.low <= 0.02 <= new.high
        old_hits += old.low <= 0.02 <= old.high
    # Nominal 0.95; two Monte Carlo standard errors at 1,000 runs are 0.014.
    assert new_hits / runs >= 0.95 - 0.014
    assert old_hits / runs < 0.95 - 0.03


def test_aa_false_alarms_stay_at_alpha_with_few_users_and_rare_clicks():
    rng = np.random.default_rng(SEED)
    runs, alarms = 600, 0
    for _ in range(runs):
        a, b = clustered(rng, 30, 0.02, 10), clustered(rng, 30, 0.02, 10)
        if a[1].sum() == 0 or b[1].sum() == 0:
            continue
        alarms += rates.compare_rates(*a, *b).p_value < 0.05
    assert alarms / runs <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / runs)


@pytest.mark.parametrize(
    ("x", "y", "fragment"),
    [
        ([1.0, 2.0], [1.0, 1.0], "more events than impressions"),
        ([-1.0, 0.0], [1.0, 1.0], "negative"),
        ([0.0, 0.0], [0.0, 0.0], "nothing to divide"),
        ([0.0], [1.0], "at least 2 users"),
    ],
)
def test_bad_input_is_one_line(x, y, fragment):
    with pytest.raises(RecsysError, match=fragment):
        rates.rate(x, y)


def test_a_live_experiment_without_clicks_reports_no_evidence(engine):
    """Both arms shown to users, no one clicked: intervals above 0, p = 1, no chance to beat."""
    from recsys.cli.experiments import render
    from recsys.data.report import session_report
    from recsys.experiments.analysis import report
    from recsys.experiments.simulation import create

    experiment = create(engine, "quiet", "mf,popularity", mode="live")
    for i in range(40):
        engine.show(f"visitor-{i}")
    result = report(engine.store, engine.experiments.get("quiet"))
    for arm in result["arms"]:
        ctr = arm["ctr"]
        assert ctr["value"] == 0.0 and ctr["low"] == 0.0
        expected = scipy_stats.binomtest(0, arm["users"]).proportion_ci(method="exact").high
        assert ctr["high"] == pytest.approx(expected)  # each user one trial: clustering unknown
    ctr = next(c for c in result["comparisons"] if c["metric"] == "ctr")
    assert ctr["p_value"] == 1.0 and not ctr["significant"]
    assert ctr["chance_to_beat"] is None and ctr["expected_loss"] is None
    text = render(result)
    assert "chance to beat: no evidence (no events in either arm)" in text
    assert "no evidence (no events)" in session_report(engine)
    assert experiment.control.name in result["verdict"]


def test_the_first_click_does_not_make_the_interval_narrower():
    """One click cannot show how clicks cluster: the worst case still holds (review finding)."""
    clicks, impressions = np.zeros(30), np.full(30, 20.0)
    none = rates.rate(clicks, impressions)
    clicks[0] = 1
    one = rates.rate(clicks, impressions)
    assert one.high >= none.high and one.low > 0
    assert rates.design_effect(clicks, impressions) == 20.0  # each user one trial


def test_every_impression_clicked_in_both_arms_says_so():
    full = np.full(20, 5.0), np.full(20, 5.0)
    result = rates.compare_rates(*full, *full)
    assert result.p_value == 1.0 and result.test == "no evidence: every impression was an event"


def test_a_lone_click_survives_the_effective_counts_of_the_exact_test():
    clicks_c, imp_c = np.zeros(40), np.full(40, 3.0)
    clicks_t, imp_t = np.r_[1.0, np.zeros(39)], np.full(40, 3.0)
    result = rates.compare_rates(clicks_c, imp_c, clicks_t, imp_t)
    assert result.test == rates.EXACT_TEST
    table = [[0, 40], [1, 39]]  # effect 3: 120 impressions are 40 trials, the click stays 1
    assert result.p_value == pytest.approx(scipy_stats.fisher_exact(table).pvalue)
