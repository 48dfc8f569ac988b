"""The contract every registered algorithm keeps (STYLE.md 5): one suite over the registry."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.algorithms import REGISTRY

# The planted world the contract checks run on, for the built-ins and `check-algorithm` alike.
from recsys.algorithms.checks import BLOCK_A, BLOCK_B, CATALOG, N_ITEMS, planted_events
from recsys.errors import RecsysError
from recsys.events import Event

ALGORITHMS = sorted(REGISTRY)


def fitted(name: str, seed: int = 0):
    model = REGISTRY[name](catalog=CATALOG, seed=seed)
    model.fit(planted_events(), CATALOG)
    return model


def event(user, item, kind="like", seq=10_000, value=None):
    """A live event a minute after the planted history (seq 10,000 comes first)."""
    history_end = len(planted_events()) * 60.0
    return Event(user, item, kind, value, ts=history_end + (seq - 9_999) * 60.0, seq=seq)


def estimates(model, user):
    """The learned part of each item's score: the first part of its explanation (by contract)."""
    return np.array([next(iter(model.explain(user, i).parts.values())) for i in range(N_ITEMS)])


@pytest.mark.parametrize("name", ALGORITHMS)
def test_planted_answer_is_recovered(name):
    model = fitted(name)
    items, scores = model.recommend("u0", 5)
    assert len(items) == 5 and np.all(np.diff(scores) <= 0)
    assert not set(items.tolist()) & set(model.seen("u0"))  # seen items are excluded
    if REGISTRY[name].explores:
        # An explorer may rank uncertain items high on purpose; what it learned must not.
        learned = estimates(model, "u0")
        assert np.isin(np.argsort(-learned)[:5], BLOCK_A).mean() >= 0.8
        assert learned[BLOCK_A].mean() > learned[BLOCK_B].mean()
        return
    assert np.isin(items, BLOCK_A).mean() >= 0.8
    if REGISTRY[name].personalized:
        items_b, _ = model.recommend("u30", 5)
        assert np.isin(items_b, BLOCK_B).mean() >= 0.8


@pytest.mark.parametrize("name", ALGORITHMS)
def test_unknown_user_gets_a_full_ranking_and_an_explanation(name):
    model = fitted(name)
    assert not model.knows("stranger")
    scores = model.score("stranger")
    assert scores.shape == (N_ITEMS,) and np.isfinite(scores).all()
    items, _ = model.recommend("stranger", 7)
    assert len(items) == 7 and len(set(items.tolist())) == 7
    assert model.explain("stranger", int(items[0])).reason


@pytest.mark.parametrize("name", ALGORITHMS)
def test_untouched_item_scores_are_finite_and_explained(name):
    model = REGISTRY[name](catalog=CATALOG)
    model.fit(planted_events(), CATALOG)
    touched = set(planted_events().item.tolist())
    cold = next(i for i in range(N_ITEMS) if i not in touched) if len(touched) < N_ITEMS else 0
    assert np.isfinite(model.score("u0", np.array([cold]))).all()
    assert model.explain("u0", cold).reason


@pytest.mark.parametrize("name", ALGORITHMS)
def test_config_round_trips_and_bounds_are_enforced(name):
    cls = REGISTRY[name]
    config = cls.config_class()
    assert cls.config_class.from_dict(config.to_dict()) == config
    first = cls.config_class.bounds()[0]
    with pytest.raises(RecsysError, match=first["name"]):
        cls.config_class.from_dict({first["name"]: first["high"] * 10 + 1})
    with pytest.raises(RecsysError, match="unknown parameter"):
        cls.config_class.from_dict({"no_such_knob": 1})


@pytest.mark.parametrize("name", ALGORITHMS)
def test_same_seed_same_ranking(name):
    a, b = fitted(name, seed=3), fitted(name, seed=3)
    for user in ("u0", "u30", "stranger"):
        assert np.array_equal(a.recommend(user, 10)[0], b.recommend(user, 10)[0])
        assert np.array_equal(a.score(user), b.score(user))


@pytest.mark.parametrize("name", ALGORITHMS)
def test_state_round_trip_is_exact_and_keeps_learning_identically(name):
    model = fitted(name)
    model.learn_one(event("newcomer", 3))
    copy = REGISTRY[name](model.config, catalog=CATALOG, seed=model.seed)
    copy.load_state(model.state())
    for user in ("u0", "u30", "newcomer", "stranger"):
        assert np.array_equal(model.score(user), copy.score(user))
    for m in (model, copy):
        m.learn_one(event("newcomer", 5, seq=10_001))
        m.learn_one(event("u0", 25, "dislike", seq=10_002))
    for user in ("u0", "newcomer"):
        assert np.array_equal(model.score(user), copy.score(user))
    assert all(np.array_equal(v, copy.state()[k]) for k, v in model.state().items())


@pytest.mark.parametrize("name", ALGORITHMS)
def test_a_like_raises_the_liked_items_neighbours(name):
    model = fitted(name)
    for offset, item in enumerate([*BLOCK_A[10:15], *BLOCK_B[10:15]]):  # an undecided user
        model.learn_one(event("mixed", int(item), "like", seq=10_000 + offset))
    before = model.score("mixed")
    before_explained = [model.explain("mixed", i) for i in (0, 1)]
    model.learn_one(event("mixed", 0, "like", seq=10_020))  # ...who then likes two A items
    model.learn_one(event("mixed", 1, "like", seq=10_021))
    after = model.score("mixed")
    if REGISTRY[name].personalized:
        neighbours, others = np.setdiff1d(BLOCK_A, [0, 1, *BLOCK_A[10:15]]), BLOCK_B[:10]
        gap_before = before[neighbours].mean() - before[others].mean()
        gap_after = after[neighbours].mean() - after[others].mean()
        assert gap_after - gap_before > 0.01 * before.std()  # up, by more than rounding
    else:  # not personalised: the liked items' own learned estimates rise
        learned_before = [next(iter(e.parts.values())) for e in before_explained]
        learned_after = [next(iter(model.explain("mixed", i).parts.values())) for i in (0, 1)]
        assert learned_after[0] > learned_before[0] and learned_after[1] > learned_before[1]


@pytest.mark.parametrize("name", ALGORITHMS)
def test_taste_holds_the_planted_preference(name):
    model = fitted(name)
    if not REGISTRY[name].personalized:
        assert model.taste("u0") is None
        return
    fan_a, fan_b = model.taste("u0"), model.taste("u30")
    assert fan_a[BLOCK_A].mean() > fan_a[BLOCK_B].mean()
    assert fan_b[BLOCK_B].mean() > fan_b[BLOCK_A].mean()
    assert model.taste("stranger") is None


@pytest.mark.parametrize("name", ALGORITHMS)
def test_a_dislike_lowers_the_item_or_its_neighbours(name):
    model = fitted(name)
    learned = estimates if REGISTRY[name].explores else (lambda m, u: m.score(u))
    before = learned(model, "u0")
    model.learn_one(event("u0", 25, "dislike"))
    after = learned(model, "u0")
    assert after[25] < before[25] or after[BLOCK_B].mean() < before[BLOCK_B].mean()


@pytest.mark.parametrize("name", ALGORITHMS)
def test_every_algorithm_describes_itself(name):
    cls = REGISTRY[name]
    assert cls.name == name and cls.summary
    for bound in cls.config_class.bounds():
        assert bound["help"] and bound["low"] <= bound["default"] <= bound["high"]


def test_rating_lift_is_a_shrunk_share_of_good_ratings():
    from recsys.algorithms.rating_lift import RatingShare

    ratings = RatingShare(4)
    # (item, event weight): a rating is good when its weight is not negative
    rated = [(0, 0.4), *[(1, 0.4)] * 200, *[(2, -0.4)] * 200]
    for seq, (item, weight) in enumerate(rated, 1):
        ratings.learn(Event("u", item, "rating", 4.0, seq=seq), weight)
    lift = ratings.lift(prior_strength=5.0)
    assert lift[1] > lift[0] > 0 > lift[2]  # one good rating does not beat two hundred
    assert lift[3] == pytest.approx(0.0)  # unrated: neutral
    assert RatingShare(2).lift(prior_strength=0.0).tolist() == [0.0, 0.0]
    for weight in (0.0, 0.8, -0.8):  # a good rating never lowers, a bad one never raises
        before = ratings.lift(5.0)
        ratings.learn(Event("u", 1, "rating", 4.0, seq=999), weight)
        moved = ratings.lift(5.0) - before
        assert (moved[1] >= 0 if weight >= 0 else moved[1] <= 0) and not moved[[0, 2, 3]].any()
