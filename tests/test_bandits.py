"""Bandits on a Bernoulli environment with a planted best arm (the right answer is known)."""

import numpy as np
import pytest

from recsys.algorithms import REGISTRY, Catalog
from recsys.events import Event

RATES = np.array([0.30, 0.45, 0.35, 0.70, 0.40, 0.25, 0.50, 0.30, 0.20, 0.55])
BEST = int(np.argmax(RATES))
CATALOG = Catalog(
    titles=tuple(f"Arm {i}" for i in range(len(RATES))), genres=tuple(("Arm",) for _ in RATES)
)


def play(name: str, rounds: int = 3000, seed: int = 7) -> tuple[float, np.ndarray]:
    """Each round the bandit shows its top item; a click (reward) or a skip comes back."""
    model = REGISTRY[name](catalog=CATALOG, seed=seed)
    rng = np.random.default_rng(seed)
    pulls = np.zeros(len(RATES))
    regret = 0.0
    for t in range(1, rounds + 1):
        items, _ = model.recommend("player", 1, exclude_seen=False)
        arm = int(items[0])
        pulls[arm] += 1
        regret += RATES[BEST] - RATES[arm]
        kind = "click" if rng.random() < RATES[arm] else "skip"
        model.learn_one(Event("player", arm, kind, None, ts=float(t), seq=t))
    return regret, pulls


@pytest.fixture(scope="module")
def results():
    return {name: play(name) for name in ("epsilon_greedy", "ucb1", "thompson")}


def test_ucb1_and_thompson_regret_less_than_epsilon_greedy(results):
    greedy = results["epsilon_greedy"][0]
    assert results["ucb1"][0] < greedy
    assert results["thompson"][0] < greedy


@pytest.mark.parametrize("name", ["ucb1", "thompson"])
def test_the_best_arm_is_pulled_most(results, name):
    _, pulls = results[name]
    assert int(np.argmax(pulls)) == BEST
    assert pulls[BEST] > 0.5 * pulls.sum()


def test_regret_grows_slower_than_linearly_for_ucb1():
    early, _ = play("ucb1", rounds=1000)
    late, _ = play("ucb1", rounds=4000)
    assert late < 3 * early  # four times the rounds, less than three times the regret


@pytest.mark.parametrize("user", ["ada", "newcomer"])
def test_linucb_scores_and_explains_a_list_in_the_visits_context(engine, user):
    """One model serves everyone, so a newcomer's list reads the visit's context too, and each
    reason names the context the list was scored in (it used to name the newest event's)."""
    night = engine.recommend(user, 5, "linucb", {"device": "mobile", "time_of_day": "night"})
    morning = engine.recommend(user, 5, "linucb", {"device": "tv", "time_of_day": "morning"})
    assert [r.score for r in night.items] != [r.score for r in morning.items]
    assert all(r.reason.startswith("for night, ") for r in night.items)
    assert all(r.reason.split(":")[0].endswith(", mobile") for r in night.items)
    assert all(r.reason.startswith("for morning, ") for r in morning.items)
    assert all(r.reason.split(":")[0].endswith(", tv") for r in morning.items)
