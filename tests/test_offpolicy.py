"""Off-policy estimators on a seeded world whose true click rates are known: IPS, SNIPS and
doubly robust land on the truth, the user-blind direct method and the naive log average do not."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.choice import ChoiceModel, true_utilities
from recsys.errors import RecsysError
from recsys.experiments.offpolicy import (
    _target_probability,
    all_estimates,
    direct,
    doubly_robust,
    fit_reward_model,
    ips,
    simulate_logs,
    snips,
    true_value,
)
from recsys.world import generate_world

SEED = 42
LOG_SEED = 1  # a 95% interval misses one seed in twenty; this seed's logs are not such a miss
CHOICE = ChoiceModel()


@pytest.fixture(scope="module")
def utilities() -> np.ndarray:
    world = generate_world("movies", SEED, n_items=60, n_users=200, sessions_per_user=3)
    features = np.stack(world.items["features"].to_numpy())
    tastes = np.stack(world.users["taste"].to_numpy())
    return true_utilities(features, world.items["quality"].to_numpy(), tastes)


@pytest.fixture(scope="module")
def targets(utilities) -> dict[str, np.ndarray]:
    """Each user's true best item; one most-liked item for all; a 50/50 mix of the two."""
    n_users = len(utilities)
    best = utilities.argmax(axis=1)
    popular = np.full(n_users, utilities.mean(axis=0).argmax())
    mix = np.zeros_like(utilities)
    mix[np.arange(n_users), best] += 0.5
    mix[np.arange(n_users), popular] += 0.5
    return {"best": best, "popular": popular, "mix": mix}


@pytest.fixture(scope="module")
def uniform_logs(utilities):
    return simulate_logs(utilities, CHOICE, 100_000, np.random.default_rng(LOG_SEED))


@pytest.fixture(scope="module")
def greedy_logs(utilities, targets):
    rng = np.random.default_rng(LOG_SEED)
    return simulate_logs(utilities, CHOICE, 100_000, rng, "epsilon_greedy", targets["popular"], 0.3)


def estimates(logs, utilities, target) -> dict:
    model = fit_reward_model(logs["users"], logs["items"], logs["rewards"], *utilities.shape)
    return {e.method: e for e in all_estimates(**logs, target=target, reward_model=model)}


def covers(estimate, value: float) -> bool:
    return estimate.low <= value <= estimate.high


@pytest.mark.parametrize("name", ["best", "popular", "mix"])
def test_uniform_logs_recover_the_true_value(utilities, targets, uniform_logs, name):
    truth = true_value(targets[name], utilities, CHOICE)
    found = estimates(uniform_logs, utilities, targets[name])
    assert list(found) == ["ips", "snips", "direct", "doubly_robust"]
    for method in ("ips", "snips", "doubly_robust"):
        assert covers(found[method], truth), (method, found[method], truth)
    assert found["doubly_robust"].se < found["ips"].se


def test_the_naive_log_average_and_the_user_blind_model_miss(utilities, targets, uniform_logs):
    truth = true_value(targets["best"], utilities, CHOICE)
    assert truth - uniform_logs["rewards"].mean() > 0.3
    found = estimates(uniform_logs, utilities, targets["best"])
    assert truth - found["direct"].value > 0.3 and not covers(found["direct"], truth)


@pytest.mark.parametrize("name", ["best", "mix"])
def test_epsilon_greedy_logs_recover_the_true_value(utilities, targets, greedy_logs, name):
    truth = true_value(targets[name], utilities, CHOICE)
    found = estimates(greedy_logs, utilities, targets[name])
    for method in ("ips", "snips", "doubly_robust"):
        assert covers(found[method], truth), (method, found[method], truth)
    assert abs(greedy_logs["rewards"].mean() - truth) > 0.2


def test_epsilon_greedy_propensities(utilities, targets, greedy_logs):
    base = targets["popular"][greedy_logs["users"]]
    on_base = greedy_logs["items"] == base
    n_items = utilities.shape[1]
    assert np.allclose(greedy_logs["propensities"][on_base], 0.7 + 0.3 / n_items)
    assert np.allclose(greedy_logs["propensities"][~on_base], 0.3 / n_items)
    assert on_base.mean() == pytest.approx(0.7 + 0.3 / n_items, abs=0.01)


def test_ips_intervals_cover_about_95_percent(utilities, targets):
    truth = true_value(targets["best"], utilities, CHOICE)
    hits = [
        covers(ips(**simulate_logs(utilities, CHOICE, 20_000, rng), target=targets["best"]), truth)
        for rng in (np.random.default_rng([SEED, r]) for r in range(40))
    ]
    assert 0.85 <= np.mean(hits) <= 1.0


def test_true_value_is_the_mean_one_item_click_probability(utilities, targets):
    users = np.arange(len(utilities))
    best = targets["best"]
    expected = CHOICE.probabilities(utilities[users, best][:, None])[:, 0].mean()
    assert true_value(best, utilities, CHOICE) == pytest.approx(expected)
    halves = [true_value(targets[name], utilities, CHOICE) for name in ("best", "popular")]
    assert true_value(targets["mix"], utilities, CHOICE) == pytest.approx(np.mean(halves))


def test_a_one_hot_stochastic_target_equals_the_deterministic_one(utilities, targets, uniform_logs):
    best = targets["best"]
    one_hot = np.zeros_like(utilities)
    one_hot[np.arange(len(best)), best] = 1.0
    users, items = uniform_logs["users"], uniform_logs["items"]
    assert np.array_equal(
        _target_probability(best, users, items), _target_probability(one_hot, users, items)
    )
    assert estimates(uniform_logs, utilities, one_hot) == estimates(uniform_logs, utilities, best)


def test_estimators_by_hand():
    users, items = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    rewards, propensities = np.array([1, 0, 0, 1]), np.array([0.5, 0.5, 0.25, 0.75])
    target = np.array([0, 1])
    w = np.array([2.0, 0.0, 0.0, 4 / 3])
    assert ips(users, items, rewards, propensities, target).value == pytest.approx((2 + 4 / 3) / 4)
    result = snips(users, items, rewards, propensities, target)
    assert result.value == pytest.approx(1.0)
    value = (w * rewards).sum() / w.sum()
    terms = w * (rewards - value) / w.mean()
    assert result.se == pytest.approx(terms.std(ddof=1) / 2)
    model = np.array([[0.3, 0.6], [0.2, 0.9]])
    assert direct(users, target, model).value == pytest.approx((0.3 + 0.3 + 0.9 + 0.9) / 4)
    # With a zero model doubly robust is IPS; with a target the logs never show, it is direct.
    zero = np.zeros((2, 2))
    dr = doubly_robust(users, items, rewards, propensities, target, zero)
    assert dr.value == pytest.approx(ips(users, items, rewards, propensities, target).value)
    unseen = doubly_robust(
        users[[1, 2]], items[[1, 2]], rewards[[1, 2]], propensities[[1, 2]], target, model
    )
    assert unseen.value == pytest.approx(direct(users[[1, 2]], target, model).value)


def test_reward_model_shrinks_item_rates_toward_the_overall_rate():
    users, items = np.array([0, 1, 2, 0]), np.array([0, 0, 0, 1])
    rewards = np.array([1, 1, 1, 0])
    model = fit_reward_model(users, items, rewards, n_users=3, n_items=3, shrink=4.0)
    assert model.shape == (3, 3)
    assert np.allclose(model, model[0])  # the same for every user, by design
    overall = 0.75
    assert model[0, 0] == pytest.approx((3 + 4 * overall) / (3 + 4))
    assert model[0, 1] == pytest.approx((0 + 4 * overall) / (1 + 4))
    assert model[0, 2] == pytest.approx(overall)
    assert fit_reward_model(users, items, rewards, 3, 3, shrink=0.0)[0, 0] == 1.0


def test_bad_input_is_refused():
    users, items = np.array([0, 1]), np.array([0, 1])
    rewards, target = np.array([1, 0]), np.array([0, 1])
    bad_logs = [
        (users, items[:1], rewards, np.full(2, 0.5)),
        (users, items, rewards, np.array([0.5, 0.0])),
        (users, items, rewards, np.array([0.5, 1.5])),
        (users[:0], items[:0], rewards[:0], np.zeros(0)),
        (np.array([0, -1]), items, rewards, np.full(2, 0.5)),
        (np.array([0, 5]), items, rewards, np.full(2, 0.5)),
        (users, items, np.array([1, 2]), np.full(2, 0.5)),
    ]
    for logs in bad_logs:
        with pytest.raises(RecsysError):
            ips(*logs, target=target)
    with pytest.raises(RecsysError):
        ips(users, items, rewards, np.full(2, 0.5), target=np.array([[0.5, 0.2], [0.5, 0.5]]))
    with pytest.raises(RecsysError, match="exploration"):
        snips(users, items, rewards, np.full(2, 0.5), target=np.array([1, 0]))
    with pytest.raises(RecsysError):
        direct(users, target, np.zeros((1, 2)))
    with pytest.raises(RecsysError):
        fit_reward_model(users, items, rewards, n_users=2, n_items=1)


def test_simulate_logs_refuses_bad_settings(utilities):
    rng = np.random.default_rng(SEED)
    with pytest.raises(RecsysError):
        simulate_logs(utilities, CHOICE, 10, rng, logging="greedy")
    with pytest.raises(RecsysError):
        simulate_logs(utilities, CHOICE, 10, rng, logging="epsilon_greedy")
    base = np.zeros(len(utilities), dtype=int)
    with pytest.raises(RecsysError):
        simulate_logs(utilities, CHOICE, 10, rng, "epsilon_greedy", base, epsilon=1.5)
    with pytest.raises(RecsysError):
        simulate_logs(utilities, CHOICE, 0, rng)
    with pytest.raises(RecsysError):
        simulate_logs(utilities, CHOICE, 10, rng, "epsilon_greedy", base + 60, epsilon=0.5)
    with pytest.raises(RecsysError):
        true_value(base + 60, utilities, CHOICE)
    with pytest.raises(RecsysError):
        true_value(base[:-1], utilities, CHOICE)
