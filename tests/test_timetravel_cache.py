"""Time travel from kept replay states gives the lists a replay from the saved state gives."""

from __future__ import annotations

import random

import pytest

from recsys.engine import Engine
from recsys.hosting import Served
from recsys.lifecycle.replays import EVERY
from recsys.lifecycle.timetravel import first_seq, recommend_as_of
from recsys.ranking import Ranking


def replayed_from_saved_state(engine: Engine, user: str, seq: int, algorithm: str) -> Ranking:
    """recommend_as_of as it was, for a user who did not act at `seq`: production's saved
    state at `seq` plus a replay of the log up to it, nothing kept."""
    model, through, _ = engine.host.saved_state(Served(algorithm), seq)
    model.attach({})
    for event in engine.store.events(after_seq=through, through_seq=seq).rows():
        model.learn_one(event)
    return Ranking.of(model, engine.catalog, user, 10, None, algorithm, seq)


def lists(ranking: Ranking) -> tuple[list[int], list[float]]:
    return ranking.item_ids(), [r.score for r in ranking.items]


@pytest.fixture
def busy(engine):
    """Three lineages of mf (retrains every 12 ratings) with more than EVERY events each."""
    engine.lifecycle.set_policy(
        {"retrain_ratings": 12, "minibatch_events": 0, "drift_detector": "off"}
    )
    kinds = ["view", "click", "like", "view", "rating", "skip", "view"]
    for i in range(3 * EVERY + 40):
        kind = kinds[i % len(kinds)]
        engine.interact(
            f"sim-{i % 7:04d}",
            (i * 13) % engine.catalog.n,
            kind,
            4.5 if kind == "rating" else None,
            algorithm="mf" if i % 5 else "popularity",
        )
    return engine


@pytest.mark.parametrize("algorithm", ["mf", "popularity", "thompson"])
def test_shuffled_seqs_give_the_lists_of_a_replay_from_the_saved_state(busy, algorithm):
    start = first_seq(busy, algorithm)
    seqs = [*range(start, busy.last_seq + 1, 7), busy.last_seq, start]
    random.Random(3).shuffle(seqs)
    for seq in seqs:  # users who did not act then: production's list, no context
        for user in ("nobody-1", "sim-0003"):
            if busy.store.event(seq)["user"] == user:
                continue
            got = recommend_as_of(busy, user, seq, 10, algorithm)
            assert lists(got) == lists(replayed_from_saved_state(busy, user, seq, algorithm)), seq


def test_kept_states_are_dropped_when_the_log_is_rewritten(busy):
    seq = busy.last_seq - 3
    recommend_as_of(busy, "sim-0001", seq, 10, "mf")  # keeps states of the old log
    busy.reset_lab()  # the seqs after the seeded history are reused by new events
    for i in range(10):
        busy.interact("sim-0002", (i * 29) % busy.catalog.n, "like", algorithm="mf")
    seq = busy.last_seq - 3
    got = recommend_as_of(busy, "sim-0001", seq, 10, "mf")
    assert lists(got) == lists(replayed_from_saved_state(busy, "sim-0001", seq, "mf"))
