"""Simulated populations past the world's own people: drawn from its population model,
reproducible from the seed, not users of the lab unless kept, in memory linear in impressions."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pytest

from recsys.choice import Utilities, true_utilities
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.experiments import population, sessions, truth
from recsys.experiments.assignment import Arm, Experiment
from recsys.experiments.offpolicy import evaluate_experiment
from recsys.experiments.simulation import simulate
from recsys.world import QUALITY_SPREAD, TASTE_SPREAD
from tests.test_cli_experiments import cli

USERS = 2000  # well past the small world's 120 simulated people and its demo users


def users_table(path) -> tuple[int, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "SELECT count(*), sum(hash(user_id, kind, taste)::HUGEINT) FROM users"
        ).fetchone()


def impressions_of(path, name: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "SELECT arm, user_id, item_id, position, clicked, liked, rating, true_click "
            "FROM impressions JOIN experiments USING (experiment_id) WHERE name = ? "
            "ORDER BY request_id, position",
            [name],
        ).fetchall()


@pytest.fixture(scope="module")
def drawn_run(small_world_file, tmp_path_factory):
    """One 2,000-person run on a copy of the small world (shared by the read-only checks)."""
    path = tmp_path_factory.mktemp("population") / "lab.duckdb"
    shutil.copy(small_world_file, path)
    before = users_table(path)
    engine = Engine.open(path)
    own = len(engine.experiments.simulated_people())
    result = simulate(engine, "mf,popularity", users=USERS, sessions=3, seed=5)
    engine.close()
    return path, before, own, result


def test_a_run_draws_past_the_world_and_leaves_the_users_table_alone(drawn_run):
    path, before, own, result = drawn_run
    assert users_table(path) == before
    assert own < USERS and result["drawn_people"] == USERS - own
    assert sum(arm["users"] for arm in result["arms"]) == USERS
    assert sum(arm["impressions"] for arm in result["arms"]) == USERS * 3 * 10
    people = {u for (_, u, *_) in impressions_of(path, result["experiment"]["name"])}
    assert len(people) == USERS
    assert sum(u.startswith("pop-5-") for u in people) == USERS - own
    # the report still analyses it: SRM, a verdict, the ground truth and the right winner
    assert result["srm"]["counts"] == [a["users"] for a in result["arms"]]
    assert not result["srm"]["mismatch"]
    assert all(a["true_ctr"] is not None and a["regret"] is not None for a in result["arms"])
    assert result["oracle_winner"] == "mf" and "picked the right one" in result["verdict"]


def test_the_same_seed_gives_the_same_run(drawn_run, tmp_path, small_world_file):
    path, _, _, result = drawn_run
    again = tmp_path / "again.duckdb"
    shutil.copy(small_world_file, again)
    engine = Engine.open(again)
    repeat = simulate(engine, "mf,popularity", users=USERS, sessions=3, seed=5)
    engine.close()
    name = result["experiment"]["name"]
    assert impressions_of(again, name) == impressions_of(path, name)
    assert [a["true_ctr"] for a in repeat["arms"]] == [a["true_ctr"] for a in result["arms"]]


def test_drawn_people_are_the_same_whatever_the_sample_size(engine):
    big = population.sample(engine.store, 9000, np.random.default_rng(0), seed=3)
    small = population.sample(engine.store, 1000, np.random.default_rng(0), seed=3)
    assert big.user_ids[:1000] == small.user_ids
    np.testing.assert_array_equal(big.tastes[:1000], small.tastes)
    np.testing.assert_array_equal(big.rows[:1000], small.rows)
    other = population.sample(engine.store, 1000, np.random.default_rng(0), seed=4)
    assert not np.array_equal(other.tastes[-500:], small.tastes[-500:])


def test_drawn_tastes_follow_the_worlds_population_model(engine):
    people = population.sample(engine.store, 30_000, np.random.default_rng(0), seed=1)
    model = population.population_model(engine.store)
    drawn = slice(len(people) - people.drawn, None)
    tastes, personas = people.tastes[drawn], np.array(people.personas[drawn])
    shares = [np.mean(personas == name) for name in model.names]
    np.testing.assert_allclose(shares, 1 / len(model.names), atol=0.02)  # uniform, as world.py
    for p, name in enumerate(model.names):
        mine = tastes[personas == name]
        np.testing.assert_allclose(mine.mean(axis=0), model.centres[p], atol=0.05)
        np.testing.assert_allclose(mine[:, :-1].std(axis=0), TASTE_SPREAD, rtol=0.08)
        assert mine[:, -1].std() == pytest.approx(TASTE_SPREAD * QUALITY_SPREAD, rel=0.08)
    # each drawn person is served as a world person of their own persona
    own = model.people.set_index("user_id")["persona"]
    served = [people.known[r] for r in people.rows[drawn]]
    assert all(own[s] == p for s, p in zip(served, personas, strict=True))


def test_memory_stays_linear_in_people_and_impressions(engine):
    """Structural: the arms rank the world's people (not the sample), pairs are computed
    without whole rows, and the ideal lists walk blocks no larger than asked for."""
    people = population.sample(engine.store, 5000, np.random.default_rng(0), seed=2)
    own = len(engine.experiments.simulated_people())
    assert len(people.known) <= own + 1 and people.rows.shape == (5000,)
    features, quality = engine.store.ground_truth()
    assert people.tastes.shape == (5000, features.shape[1] + 1)

    class Watched(Utilities):
        largest = 0

        def rows(self, start, stop):
            block = super().rows(start, stop)
            Watched.largest = max(Watched.largest, block.size)
            return block

    utilities = Watched(features, quality, people.tastes, block_bytes=64 * 8 * len(quality))
    picks = np.random.default_rng(1).integers(len(quality), size=(5000, 10))
    pairs = utilities[np.arange(5000)[:, None], picks]
    assert Watched.largest == 0 and pairs.shape == (5000, 10)  # no row was computed
    dense = true_utilities(features, quality, people.tastes[:50])
    np.testing.assert_allclose(pairs[:50], np.take_along_axis(dense, picks[:50], 1))
    ideal = truth.ideal_utility(utilities, people.rows, [{}] * len(people.known), 10)
    assert ideal.shape == (5000,) and Watched.largest <= 64 * len(quality)
    assert ideal[0] == pytest.approx(np.sort(dense[0])[::-1][:10].mean())


def test_keep_people_adds_the_drawn_people_once(engine):
    before = engine.experiments.simulated_people()
    result = simulate(engine, "popularity,mf", users=600, sessions=1, seed=9, keep_people=True)
    users = engine.store.users()
    drawn = users[users["kind"] == "drawn"]
    assert len(drawn) == result["drawn_people"] == 600 - len(before)
    assert set(drawn["user_id"]) == {f"pop-9-{i + 1}" for i in range(len(drawn))}
    assert engine.experiments.simulated_people().equals(before)  # the world's own, still
    simulate(engine, "popularity,mf", users=600, sessions=1, seed=9, keep_people=True)
    assert (engine.store.users()["kind"] == "drawn").sum() == len(drawn)


def test_offpolicy_logs_of_drawn_people_know_their_truth(engine):
    logged = simulate(
        engine, "popularity,item_knn", users=800, sessions=5, slate=1, explore=1.0, seed=4
    )
    experiment = engine.experiments.get(logged["experiment"]["name"])
    result = evaluate_experiment(engine, experiment, "mf")
    assert result["users"] == 800 and result["truth"] is not None


def test_aa_tests_draw_past_the_world(engine):
    from recsys.experiments.aa import aa_rates

    result = aa_rates(engine, "popularity", runs=3, users=1500, sessions=2, looks=2)
    assert result["users"] == 1500 and result["runs"] == 3


@pytest.mark.parametrize(
    ("users", "sessions", "slate", "message"),
    [
        (0, 5, 10, "users must be from 1 to 1,000,000"),
        (population.MAX_PEOPLE + 1, 1, 1, "users must be from 1"),
        (True, 5, 10, "whole number"),
        (900_000, 5, 10, "impressions; a run holds at most"),
    ],
)
def test_bad_sizes_are_refused_before_anything_is_written(engine, users, sessions, slate, message):
    count = len(engine.experiments.list())
    with pytest.raises(RecsysError, match=message):
        simulate(engine, "mf,popularity", users=users, sessions=sessions, slate=slate)
    assert len(engine.experiments.list()) == count


def test_the_command_line_simulates_past_the_world(db_path):
    before = users_table(db_path)
    done = cli("experiment", "simulate", "--arms", "mf,popularity", "--users", "1500",
               "--sessions", "2", "--seed", "1", db=db_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "of the people were drawn from the world's population model" in done.stdout
    assert users_table(db_path) == before
    bad = cli("experiment", "simulate", "--arms", "mf", "--users", "0", db=db_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_play_logs_one_row_per_shown_item_with_categorical_ids(engine):
    people = population.sample(engine.store, 3000, np.random.default_rng(0), seed=0)
    arms = (Arm("A", "popularity", None, 50.0), Arm("B", "popularity", None, 50.0))
    experiment = Experiment(0, "shape", "simulated", "running", arms, 4, 0.0, 0, 0, 0.0)
    features, quality = engine.store.ground_truth()
    lists = np.tile(np.arange(4), (3000, 1)), np.zeros((3000, 4))
    frame = sessions.play(
        experiment, people.user_ids, experiment.assign_many(people.user_ids),
        {"A": lists, "B": lists}, Utilities(features, quality, people.tastes), 2,
        np.random.default_rng(0), sessions.ChoiceModel(), first_request=0, start_ts=0.0,
        at_seq=0,
    )  # fmt: skip
    assert len(frame) == 3000 * 2 * 4
    per_user = frame.groupby("user_id", observed=True).size()
    assert len(per_user) == 3000 and set(per_user) == {8}
