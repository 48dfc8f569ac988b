"""Team-draft interleaving: the list's invariants, the credit rule, the sign test, and a seeded
world where the truth-sorted ranker must beat a random one."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import stats

from recsys.choice import ChoiceModel, true_utilities
from recsys.errors import RecsysError
from recsys.experiments.interleaving import credit, interleaved_sessions, summarise, team_draft
from recsys.world import generate_world

SEED = 42
K = 10


def rankings(seed: int, n_items: int = 30, k: int = K) -> tuple[list[int], list[int]]:
    rng = np.random.default_rng(seed)
    return rng.permutation(n_items)[:k].tolist(), rng.permutation(n_items)[:k].tolist()


@pytest.mark.parametrize("seed", range(50))
def test_team_draft_list_is_full_unique_and_balanced(seed):
    a, b = rankings(seed)
    shown, teams = team_draft(a, b, K, np.random.default_rng(seed))
    assert len(shown) == len(teams) == K
    assert len(set(shown)) == K
    assert set(teams) <= {0, 1}
    assert abs(teams.count(0) - teams.count(1)) <= 1
    for ranking, team in ((a, 0), (b, 1)):
        mine = [item for item, t in zip(shown, teams, strict=True) if t == team]
        assert set(mine) <= set(ranking)
        assert mine == sorted(mine, key=ranking.index)


def test_team_draft_balance_holds_after_every_pick():
    a, b = rankings(SEED)
    for seed in range(50):
        _, teams = team_draft(a, b, K, np.random.default_rng(seed))
        for end in range(1, K + 1):
            assert abs(teams[:end].count(0) - teams[:end].count(1)) <= 1


def test_team_draft_fills_up_from_the_other_ranker_and_stops_when_both_run_out():
    shown, teams = team_draft([1], [2, 3, 4], 10, np.random.default_rng(SEED))
    assert sorted(shown) == [1, 2, 3, 4]
    assert teams[shown.index(1)] == 0
    assert [t for item, t in zip(shown, teams, strict=True) if item != 1] == [1, 1, 1]
    assert team_draft([], [], 5, np.random.default_rng(SEED)) == ([], [])
    assert team_draft([1, 2], [2, 1], 0, np.random.default_rng(SEED)) == ([], [])


def test_identical_rankers_show_their_ranking_with_random_teams():
    ranking = [5, 3, 8, 1]
    shown, teams = team_draft(ranking, ranking, 4, np.random.default_rng(SEED))
    assert shown == ranking
    assert sorted(teams) == [0, 0, 1, 1]


def test_team_draft_rejects_bad_input():
    with pytest.raises(RecsysError):
        team_draft([1, 2], [3], -1, np.random.default_rng(SEED))
    with pytest.raises(RecsysError):
        team_draft([1, -2], [3], 2, np.random.default_rng(SEED))


def test_credit_counts_clicks_per_team():
    teams = [0, 1, 0, 1]
    assert credit(teams, [0]) == 1
    assert credit(teams, [1, 3]) == -1
    assert credit(teams, [0, 1]) == 0
    assert credit(teams, []) == 0
    assert credit(teams, [-1]) == 0
    with pytest.raises(RecsysError):
        credit(teams, [4])


def test_summarise_matches_scipy_binomtest():
    outcomes = [1] * 30 + [-1] * 45 + [0] * 25
    result = summarise(outcomes)
    test = stats.binomtest(45, 75, p=0.5)
    assert (result.sessions, result.wins_a, result.wins_b, result.ties) == (100, 30, 45, 25)
    assert result.preference == pytest.approx(0.6)
    assert result.p_value == pytest.approx(test.pvalue)
    interval = test.proportion_ci(0.95, method="wilson")
    assert (result.low, result.high) == pytest.approx((interval.low, interval.high))
    assert result.low < result.preference < result.high


def test_wilson_interval_by_hand():
    result = summarise([-1] * 8 + [1] * 2)
    z, n, p = stats.norm.ppf(0.975), 10, 0.8
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert (result.low, result.high) == pytest.approx((centre - half, centre + half))


def test_summarise_without_decisive_sessions_has_no_preference():
    for outcomes in ([], [0, 0, 0]):
        result = summarise(outcomes)
        assert result.wins_a == result.wins_b == 0
        assert (result.preference, result.low, result.high, result.p_value) == (0.5, 0, 1, 1)
    with pytest.raises(RecsysError):
        summarise([2])


@pytest.fixture(scope="module")
def world_rankers():
    world = generate_world("movies", SEED, n_items=120, n_users=200, sessions_per_user=3)
    features = np.stack(world.items["features"].to_numpy())
    utilities = true_utilities(
        features, world.items["quality"].to_numpy(), np.stack(world.users["taste"].to_numpy())
    )
    rng = np.random.default_rng(SEED)
    truth = np.argsort(-utilities, axis=1)[:, :K]
    random = np.stack([rng.permutation(utilities.shape[1])[:K] for _ in utilities])
    return utilities, truth, random


def test_truth_sorted_ranker_beats_a_random_one(world_rankers):
    utilities, truth, random = world_rankers
    result = interleaved_sessions(
        random, truth, utilities, ChoiceModel(), sessions_per_user=20, seed=SEED
    )
    assert result.sessions == len(utilities) * 20
    assert result.wins_b > result.wins_a
    assert result.preference > 0.7 and result.low > 0.5
    assert result.p_value < 0.01
    reversed_ = interleaved_sessions(
        truth, random, utilities, ChoiceModel(), sessions_per_user=20, seed=SEED
    )
    assert reversed_.wins_a > reversed_.wins_b and reversed_.p_value < 0.01


def test_a_ranker_against_itself_is_not_significant(world_rankers):
    utilities, truth, _ = world_rankers
    result = interleaved_sessions(
        truth, truth, utilities, ChoiceModel(), sessions_per_user=20, seed=SEED
    )
    assert result.wins_a + result.wins_b > 0
    assert result.p_value > 0.05
    assert result.low < 0.5 < result.high


def test_simulate_is_seeded_and_fast(world_rankers):
    utilities, truth, random = world_rankers
    slates = np.tile(truth, (2, 1))
    others = np.tile(random, (2, 1))
    big = np.tile(utilities, (2, 1))
    started = time.perf_counter()
    first = interleaved_sessions(others, slates, big, ChoiceModel(), sessions_per_user=20, seed=1)
    assert time.perf_counter() - started < 1.5
    assert (
        interleaved_sessions(others, slates, big, ChoiceModel(), sessions_per_user=20, seed=1)
        == first
    )


def test_simulate_rejects_bad_input(world_rankers):
    utilities, truth, random = world_rankers
    with pytest.raises(RecsysError):
        interleaved_sessions(truth[:-1], random, utilities, ChoiceModel(), 5, SEED)
    with pytest.raises(RecsysError):
        interleaved_sessions(truth + utilities.shape[1], random, utilities, ChoiceModel(), 5, SEED)
    with pytest.raises(RecsysError):
        interleaved_sessions(truth, random, utilities, ChoiceModel(), 0, SEED)


def test_simulate_tests_people_not_sessions(world_rankers):
    # A person's sessions share one taste, so the sign test counts people, not sessions.
    utilities, truth, random = world_rankers
    result = interleaved_sessions(
        random, truth, utilities, ChoiceModel(), sessions_per_user=20, seed=SEED
    )
    people = result.users_a + result.users_b
    assert 0 < people <= len(utilities) < result.wins_a + result.wins_b
    assert result.p_value == pytest.approx(stats.binomtest(result.users_b, people, 0.5).pvalue)
    assert result.preference == pytest.approx(result.users_b / people)
