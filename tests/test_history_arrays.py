"""Every user's history as CSR arrays (`recsys.algorithms.history.History`): the sums a fit
builds, the overlay online learning writes, and the state round trip, against dicts filled
event by event."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.algorithms import Catalog, ModelSpec, build_model
from recsys.algorithms.history import History
from recsys.events import Event, EventFrame

CATALOG = Catalog(tuple(f"t{i}" for i in range(8)), tuple(("g",) for _ in range(8)))


def test_building_from_events_sums_each_pair_in_item_order():
    users = np.array([1, 0, 1, 2, 1, 0, 1])
    items = np.array([5, 3, 2, 7, 5, 1, 5])
    weights = np.array([1.0, -1.0, 0.3, 0.05, 1.5, 0.3, -0.05])
    history = History.from_events(users, items, weights, 4)
    assert len(history) == 4
    assert list(history) == [{1: 0.3, 3: -1.0}, {2: 0.3, 5: 1.0 + 1.5 - 0.05}, {7: 0.05}, {}]
    assert [history.size(u) for u in range(4)] == [2, 2, 1, 0]
    assert history.items_of(1).tolist() == [2, 5]
    rows, held, summed = history.arrays()
    assert (rows.tolist(), held.tolist()) == ([0, 0, 1, 1, 2], [1, 3, 2, 5, 7])
    assert summed.tolist() == [0.3, -1.0, 0.3, 1.0 + 1.5 - 0.05, 0.05]


def test_sums_are_pandas_groupby_sums_to_the_last_bit():
    """Repeated small weights (a view is 0.05) are where a plain left-to-right sum and the
    compensated sum pandas gave differ by an ulp; the arrays keep pandas' floats."""
    rng = np.random.default_rng(3)
    n = 20_000
    users, items = rng.integers(30, size=n), rng.integers(12, size=n)
    weights = rng.choice([0.05, 0.3, -0.05, 1.0, -1.0, 1.5, 0.8 * 1.7], n)
    expected = pd.DataFrame({"u": users, "i": items, "w": weights}).groupby(["u", "i"])["w"].sum()
    naive = pd.DataFrame({"u": users, "i": items, "w": weights}).groupby(["u", "i"])["w"]
    assert (naive.agg(lambda w: sum(w.tolist())) != expected).any()  # the case is exercised
    rows, held, summed = History.from_events(users, items, weights, 30).arrays()
    assert rows.tolist() == expected.index.get_level_values(0).tolist()
    assert held.tolist() == expected.index.get_level_values(1).tolist()
    assert summed.tolist() == expected.tolist()


def test_add_copies_a_frozen_user_then_updates_only_that_user():
    history = History.from_events(np.array([0, 0, 1]), np.array([4, 2, 6]), np.ones(3), 2)
    frozen = history.arrays()
    assert history.add(0, 4, -0.3) == 0.7
    assert history.add(0, 1, 1.5) == 1.5  # a new item comes last, as in a dict
    assert history[0] == {2: 1.0, 4: 0.7, 1: 1.5} and list(history[0]) == [2, 4, 1]
    assert history.items_of(0).tolist() == [2, 4, 1] and history.size(0) == 3
    assert history[1] == {6: 1.0}
    new = history.append_user()
    assert new == 2 and history[2] == {} and history.size(2) == 0
    assert history.add(2, 3, 0.05) == 0.05
    rows, held, summed = history.arrays()
    assert rows.tolist() == [0, 0, 0, 1, 2]
    assert held.tolist() == [2, 4, 1, 6, 3]
    assert summed.tolist() == [1.0, 0.7, 1.5, 1.0, 0.05]
    assert frozen[2].tolist() == [1.0, 1.0, 1.0]  # the frozen arrays handed out did not move


def test_state_arrays_round_trip_and_an_ungrouped_order_loads_the_same():
    history = History.from_events(
        np.array([2, 0, 2, 1]), np.array([1, 5, 0, 3]), np.array([1.0, -1.0, 0.3, 1.5]), 4
    )
    history.add(2, 7, 1.0)
    history.add(0, 2, 0.05)
    rows, held, summed = history.arrays()
    again = History.from_state(rows, held, summed, 4)
    assert list(again) == list(history)
    assert [list(d) for d in again] == [list(d) for d in history]  # order within a user too
    order = np.array([4, 0, 5, 2, 1, 3])
    shuffled = History.from_state(rows[order], held[order], summed[order], 4)
    expected: list[dict[int, float]] = [{} for _ in range(4)]
    for user, item, weight in zip(rows[order], held[order], summed[order], strict=True):
        expected[int(user)][int(item)] = float(weight)
    assert [list(d.items()) for d in shuffled] == [list(d.items()) for d in expected]
    # A pair given twice (no state writes one): its first place, its last weight.
    twice = History.from_state(
        np.array([1, 0, 1, 1]), np.array([4, 2, 6, 4]), np.array([1.0, 2.0, 3.0, 9.0]), 2
    )
    assert list(twice[0].items()) == [(2, 2.0)] and list(twice[1].items()) == [(4, 9.0), (6, 3.0)]


def test_a_model_state_round_trip_keeps_every_users_dict_after_online_learning():
    model = build_model(ModelSpec("popularity"), CATALOG)
    model.fit(_log(["a", "b", "a", "c"], [3, 1, 0, 3], ["like", "view", "dislike", "like"]))
    model.learn_one(Event("b", 6, "like", None, ts=10.0, seq=10))
    model.learn_one(Event("d", 2, "click", None, ts=11.0, seq=11))
    state = model.state()
    assert state["base.hist_item"].dtype == np.int64
    assert state["base.hist_user"].tolist() == [0, 0, 1, 1, 2, 3]
    again = build_model(ModelSpec("popularity"), CATALOG, state)
    for user in "abcd":
        assert list(again.seen(user).items()) == list(model.seen(user).items())
    assert again.seen("a") == {0: -1.0, 3: 1.0} and again.seen("b") == {1: 0.05, 6: 1.0}


def test_recommend_excludes_the_seen_items_of_a_frozen_and_a_changed_user():
    model = build_model(ModelSpec("popularity"), CATALOG)
    model.fit(_log(["a", "a", "b", "c"], [0, 1, 2, 0], ["like", "dislike", "view", "like"]))
    assert set(model.recommend("a", 8)[0].tolist()) == set(range(8)) - {0, 1}  # frozen
    model.learn_one(Event("a", 5, "skip", None, ts=10.0, seq=10))  # now in the overlay
    assert set(model.recommend("a", 8)[0].tolist()) == set(range(8)) - {0, 1, 5}
    assert set(model.recommend("b", 8)[0].tolist()) == set(range(8)) - {2}
    model.learn_one(Event("new", 7, "view", None, ts=11.0, seq=11))  # a user added online
    assert set(model.recommend("new", 8)[0].tolist()) == set(range(7))
    assert set(model.recommend("c", 8, exclude_seen=False)[0].tolist()) == set(range(8))


def test_new_users_rating_sums_grow_without_losing_earlier_users():
    model = build_model(ModelSpec("popularity"), CATALOG)
    model.fit(_log(["a"], [0], ["rating"], [4.0]))
    for n in range(40):
        model.learn_one(Event(f"n{n}", n % 8, "rating", 1.0 + n % 5, ts=10.0 + n, seq=10 + n))
    model.learn_one(Event("a", 1, "rating", 2.0, ts=99.0, seq=99))
    state = model.state()
    assert state["base.rating_sum"].tolist() == [6.0] + [1.0 + n % 5 for n in range(40)]
    assert state["base.rating_count"].tolist() == [2.0] + [1.0] * 40


def _log(users, items, kinds, values=None) -> EventFrame:
    n = len(users)
    return EventFrame.from_frame(
        pd.DataFrame(
            {
                "seq": np.arange(1, n + 1),
                "ts": np.arange(float(n)),
                "user_id": users,
                "item_id": items,
                "kind": kinds,
                "value": np.nan if values is None else values,
            }
        )
    )
