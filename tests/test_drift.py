"""Drift detectors on small seeded reward streams, and step for step against river if installed."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.errors import RecsysError
from recsys.lifecycle.drift import ADWIN, DETECTORS, PageHinkley, first_alarm, make_detector

SEED = 42
CHANGE = 1000


def bernoulli(seed: int, *segments: tuple[float, int]) -> np.ndarray:
    """Rewards in {0.0, 1.0}: one (probability of a like, length) pair per regime."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.random(n) < p for p, n in segments]).astype(float)


STATIONARY = bernoulli(SEED, (0.6, 3000))
DROP = bernoulli(SEED, (0.7, CHANGE), (0.2, 2000))
REGIMES = bernoulli(SEED, (0.7, 1000), (0.2, 1000), (0.8, 1000), (0.3, 1000))


def alarms(detector, stream) -> list[int]:
    return [index for index, x in enumerate(stream) if detector.update(x)]


@pytest.mark.parametrize("name", DETECTORS)
def test_silent_on_stationary_rewards(name):
    # A fixed-seed check, not a guarantee: Page-Hinkley at its default threshold raises a false
    # alarm on about 3% of such streams (see its docstring); ADWIN on none of 300 seeds tried.
    assert first_alarm(make_detector(name), STATIONARY) is None


@pytest.mark.parametrize("name", DETECTORS)
def test_alarms_soon_after_a_drop_in_reward(name):
    alarm = first_alarm(make_detector(name), DROP)
    assert alarm is not None
    assert CHANGE < alarm <= CHANGE + 300


def test_adwin_shrinks_to_the_new_regime_and_keeps_going():
    detector = ADWIN()
    alarm = first_alarm(detector, DROP)
    assert detector.drift_detected
    assert detector.statistic() < (alarm + 1) / 4
    # Follow-up alarms may only trim what is left of the old regime, soon after the change.
    later = [alarm + 1 + i for i, x in enumerate(DROP[alarm + 1 :]) if detector.update(x)]
    assert all(index <= CHANGE + 300 for index in later)
    assert detector.statistic() > 1500
    assert detector.estimate == pytest.approx(0.2, abs=0.03)
    assert detector.n_seen == len(DROP)


def test_page_hinkley_resets_after_an_alarm():
    detector = PageHinkley()
    alarm = first_alarm(detector, DROP)
    assert detector.statistic() > detector.threshold
    detector.update(DROP[alarm + 1])
    assert not detector.drift_detected
    assert detector.statistic() == 0.0
    assert detector.estimate == DROP[alarm + 1]


def test_page_hinkley_direction_picks_the_side():
    rise = bernoulli(SEED, (0.2, CHANGE), (0.7, 2000))
    assert first_alarm(PageHinkley(direction="up"), DROP) is None
    assert first_alarm(PageHinkley(direction="down"), rise) is None
    assert first_alarm(PageHinkley(direction="up"), rise) > CHANGE
    assert first_alarm(PageHinkley(direction="both"), rise) > CHANGE
    assert first_alarm(PageHinkley(direction="both"), DROP) > CHANGE


@pytest.mark.parametrize("name", DETECTORS)
def test_params_round_trip_through_make_detector(name):
    detector = make_detector(name)
    assert make_detector(name, **detector.params()).params() == detector.params()
    assert isinstance(detector, DETECTORS[name])


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("page_hinkley", {"threshold": 0}),
        ("page_hinkley", {"delta": -0.1}),
        ("page_hinkley", {"alpha": 0}),
        ("page_hinkley", {"alpha": 1.5}),
        ("page_hinkley", {"min_instances": 0}),
        ("page_hinkley", {"direction": "sideways"}),
        ("adwin", {"delta": 0}),
        ("adwin", {"delta": 1}),
        ("adwin", {"clock": 0}),
        ("adwin", {"clock": 2.5}),
        ("adwin", {"max_buckets": 1}),
        ("adwin", {"min_window_length": 0}),
        ("adwin", {"grace_period": -1}),
        ("adwin", {"window": 100}),
        ("cusum", {}),
    ],
)
def test_bad_parameters_raise_recsys_error(name, params):
    with pytest.raises(RecsysError):
        make_detector(name, **params)


@pytest.mark.parametrize("name", DETECTORS)
def test_non_finite_reward_raises_recsys_error(name):
    with pytest.raises(RecsysError, match="finite"):
        make_detector(name).update(float("nan"))


RIVER_STREAMS = {"stationary": STATIONARY, "drop": DROP, "regimes": REGIMES}
ADWIN_SETTINGS = [
    {},
    {"delta": 0.05, "clock": 1, "max_buckets": 2, "min_window_length": 1, "grace_period": 0},
]


@pytest.mark.parametrize("stream", RIVER_STREAMS)
@pytest.mark.parametrize("direction", ["down", "up", "both"])
@pytest.mark.parametrize("threshold", [20.0, 50.0])
def test_page_hinkley_alarms_where_river_does(stream, direction, threshold):
    drift = pytest.importorskip("river.drift")
    ours = PageHinkley(threshold=threshold, direction=direction)
    theirs = drift.PageHinkley(
        min_instances=30, delta=0.005, threshold=threshold, alpha=0.9999, mode=direction
    )
    river_alarms = []
    for index, x in enumerate(RIVER_STREAMS[stream]):
        theirs.update(x)
        if theirs.drift_detected:
            river_alarms.append(index)
    assert alarms(ours, RIVER_STREAMS[stream]) == river_alarms


@pytest.mark.parametrize("stream", RIVER_STREAMS)
@pytest.mark.parametrize("settings", ADWIN_SETTINGS)
def test_adwin_matches_river_core_step_for_step(stream, settings):
    # river.drift.ADWIN wraps this core; comparing with it directly checks the window after each
    # alarm too (width, total and variance agree to the last bit), not only the alarm steps.
    core = pytest.importorskip("river._river_rust.drift")
    ours = ADWIN(**settings)
    theirs = core.AdaptiveWindowing(**ADWIN().params() | settings)
    for x in RIVER_STREAMS[stream]:
        assert ours.update(x) == theirs.update(x)
        assert ours.statistic() == theirs.get_width()
        assert ours.estimate == theirs.get_total() / theirs.get_width()
        assert ours._variance == theirs.get_variance()


@pytest.mark.parametrize("stream", RIVER_STREAMS)
@pytest.mark.parametrize("settings", ADWIN_SETTINGS)
def test_adwin_alarms_where_river_does(stream, settings):
    # river.drift.ADWIN discards its whole window on the update after an alarm, where ours keeps
    # the part that still agrees; starting a fresh detector after each alarm is the same thing.
    drift = pytest.importorskip("river.drift")
    theirs = drift.ADWIN(**settings)
    river_alarms = []
    for index, x in enumerate(RIVER_STREAMS[stream]):
        theirs.update(x)
        if theirs.drift_detected:
            river_alarms.append(index)
    ours, our_alarms = ADWIN(**settings), []
    for index, x in enumerate(RIVER_STREAMS[stream]):
        if ours.update(x):
            our_alarms.append(index)
            ours = ADWIN(**settings)
    assert our_alarms == river_alarms
    assert bool(river_alarms) == (stream != "stationary")
