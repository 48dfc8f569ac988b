"""mf keeps the last user's and a stranger's scores between a ranking and its reasons
(`Recommender.memo_scores`); nothing it keeps may outlive what it was computed from."""

import sys
import threading

import numpy as np
import pandas as pd

from recsys.algorithms import Catalog, ModelSpec, build_model
from recsys.events import Event, EventFrame


def _model():
    rng = np.random.default_rng(5)
    n = 600
    frame = pd.DataFrame(
        {
            "seq": np.arange(1, n + 1),
            "ts": np.arange(n, dtype=float),
            "user_id": [f"u{u}" for u in rng.integers(0, 25, n)],
            "item_id": rng.integers(0, 50, n),
            "kind": rng.choice(["click", "like", "dislike"], n),
            "value": np.nan,
        }
    )
    catalog = Catalog(
        titles=tuple(f"t{i}" for i in range(50)),
        genres=tuple(("a",) if i % 2 else ("b",) for i in range(50)),
        tags=((),) * 50,
    )
    model = build_model(ModelSpec("mf", {"factors": 4, "epochs": 2}, 0), catalog)
    model.fit(EventFrame.from_frame(frame))
    return model, n


def test_learning_forgets_the_kept_scores():
    model, n = _model()
    before = model.score("u3")
    model.learn_one(Event("u3", 7, "like", ts=float(n + 1), seq=n + 1))
    after = model.score("u3")
    assert after[7] > before[7]  # a like raises the liked item's score...
    np.testing.assert_array_equal(after, model._scores(model._users["u3"], None))  # ...now


def test_a_newcomer_and_a_load_forget_them_too():
    model, n = _model()
    stranger = model.score("nobody")
    model.learn_one(Event("nobody", 3, "like", ts=float(n + 1), seq=n + 1))
    assert model.knows("nobody")
    assert not np.array_equal(model.score("nobody"), stranger)
    state = model.state()
    other, _ = _model()
    other.score("u1")
    other.learn_one(Event("u1", 9, "dislike", ts=float(n + 1), seq=n + 1))
    other.score("u1")
    other.load_state(state)
    np.testing.assert_array_equal(other.score("u1"), model.score("u1"))


def test_what_score_returns_is_the_callers_to_change():
    model, _ = _model()
    scores = model.score("u2")
    scores[:] = 0.0
    assert model.score("u2").any()
    items, values = model.recommend("u2", 5)
    np.testing.assert_array_equal(values, model.score("u2")[items])


def test_a_reason_reads_the_same_score_as_the_ranking():
    model, _ = _model()
    items, values = model.recommend("u4", 5)
    for item, value in zip(items.tolist(), values.tolist(), strict=True):
        assert model.explain("u4", item).score == value


def test_readers_on_several_threads_each_get_their_own_users_scores():
    # The engine's lock covers rankings, but some readers (Engine.explain, the A/A and scenario
    # measures) score a served model outside it: the kept scores must stay right and never
    # raise when readers of different users interleave (a thread switch every microsecond).
    model, _ = _model()
    users = [f"u{u}" for u in range(25)] + ["nobody"]
    expected = {user: model.score(user) for user in users}
    failures: list[str] = []
    stop = threading.Event()

    def read(offset: int) -> None:
        turn = offset
        try:
            while not stop.is_set():
                user = users[turn % len(users)]
                if not np.array_equal(model.score(user), expected[user]):
                    failures.append(f"{user}: another user's scores")
                turn += 1
        except Exception as error:  # any exception is the failure reported
            failures.append(repr(error))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=read, args=(k * 7,)) for k in range(3)]
        for thread in threads:
            thread.start()
        stop.wait(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        sys.setswitchinterval(interval)
    assert not failures, failures[:3]
