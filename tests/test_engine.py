import numpy as np
import pytest

from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.ranking import RankedItem, Ranking, diff
from recsys.store.database import SCHEMA_VERSION


def ranked(*pairs):
    return tuple(
        RankedItem(item, rank, score, f"t{item}", (), None, None, "")
        for rank, (item, score) in enumerate(pairs, 1)
    )


def test_diff_reports_entered_left_moved_and_unchanged():
    before = Ranking("u", "mf", 1, ranked((1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)))
    after = Ranking("u", "mf", 2, ranked((2, 0.95), (1, 0.85), (3, 0.71), (5, 0.65)))
    d = diff(before, after)
    assert [r.item for r in d.entered] == [5]
    assert [r.item for r in d.left] == [4]
    assert {m.item: m.places for m in d.moved} == {2: 1, 1: -1}
    assert [m.item for m in d.unchanged] == [3]
    assert d.unchanged[0].score_delta == pytest.approx(0.01)
    assert d.changed


def test_recommend_returns_ranked_items_with_reasons(engine):
    ranking = engine.recommend("alice", 8)
    assert [r.rank for r in ranking.items] == list(range(1, 9))
    scores = [r.score for r in ranking.items]
    assert scores == sorted(scores, reverse=True)
    assert all(r.reason and r.title for r in ranking.items)
    assert not set(ranking.item_ids()) & set(engine.model().seen("alice"))


def test_cold_visitor_gets_recommendations_without_being_created(engine):
    ranking = engine.recommend("brand-new", 10)
    assert len(ranking.items) == 10
    assert "brand-new" not in engine.users()


def test_like_commits_one_event_learns_and_reports_the_step(engine):
    seq = engine.last_seq
    top = engine.recommend("newcomer", 10).items[0].item
    step = engine.interact("newcomer", top, "like")
    assert step.event.seq == seq + 1 == engine.last_seq
    assert engine.store.count_events() == seq + 1
    assert engine.users()["newcomer"] == "visitor"
    assert step.before.item_ids()[0] == top and top not in step.after.item_ids()
    assert top in [r.item for r in step.diff.left]
    assert step.update.user_change > 0
    assert {"validate", "before", "commit", "learn", "after", "diff", "total"} <= set(step.timings)
    assert "like" in step.message and engine.item_title(top) in step.message
    assert step.after.seq == step.event.seq


def test_learning_log_records_each_online_update(engine):
    step = engine.interact("alice", 5, "rating", 4.5)
    log = engine.store.learning_log(user="alice")
    assert log[log["seq"] == step.event.seq]["algorithm"].tolist() == ["mf"]  # the one in use
    engine.recommend("alice", 5, "trending")  # another algorithm catches up when used
    log = engine.store.learning_log(user="alice")
    assert sorted(log[log["seq"] == step.event.seq]["algorithm"]) == ["mf", "trending"]
    engine.catch_up()
    log = engine.store.learning_log(user="alice")
    rows = log[log["seq"] == step.event.seq]
    assert sorted(rows["algorithm"]) == sorted(engine.models)
    mf = rows[rows["algorithm"] == "mf"].iloc[0]
    assert mf["user_change"] == pytest.approx(step.update.user_change)
    assert mf["kind"] == "rating"


def test_rating_stores_its_value(engine):
    step = engine.interact("alice", 3, "rating", "3.5")
    history = engine.history("alice", 1)
    assert history.iloc[0]["value"] == 3.5 and history.iloc[0]["seq"] == step.event.seq


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("alice", 999_999, "like"), "unknown item"),
        (("alice", -1, "like"), "unknown item"),
        (("alice", 1, "rating", 7), "outside"),
        (("alice", 1, "rating", float("nan")), "outside"),
        (("alice", 1, "rating"), "needs a value"),
        (("alice", 1, "poke"), "unknown event kind"),
        (("x" * 10_000, 1, "like"), "invalid user id"),
        (("tab\tin the middle", 1, "like"), "invalid user id"),
        (("", 1, "like"), "invalid user id"),
    ],
)
def test_bad_input_is_one_clear_error_and_writes_nothing(engine, args, message):
    before = engine.store.count_events(), engine.last_seq, engine.model().state()
    with pytest.raises(RecsysError, match=message):
        engine.interact(*args)
    assert engine.store.count_events() == before[0] and engine.last_seq == before[1]
    state = engine.model().state()
    assert all(np.array_equal(v, state[k]) for k, v in before[2].items())


def test_unknown_algorithm_and_bad_k(engine):
    with pytest.raises(RecsysError, match="unknown algorithm"):
        engine.recommend("alice", 10, "nope")
    with pytest.raises(RecsysError, match="k must be"):
        engine.recommend("alice", 0)


def interact_some(engine, n=30):
    rng = np.random.default_rng(1)
    kinds = ["view", "click", "like", "dislike", "favorite", "skip", "rating"]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        engine.interact(
            f"v{i % 4}",
            int(rng.integers(engine.catalog.n)),
            kind,
            3.5 if kind == "rating" else None,
        )


def snapshot_of(engine):
    users = ["v0", "v1", "v2", "v3", "alice", "stranger"]
    return (
        {name: engine.model(name).state() for name in engine.models},
        {(u, a): engine.recommend(u, 10, a) for u in users for a in engine.models},
    )


def assert_same(a, b):
    states_a, rankings_a = a
    states_b, rankings_b = b
    for name, state in states_a.items():
        assert state.keys() == states_b[name].keys()
        for key, value in state.items():
            assert np.array_equal(value, states_b[name][key]), (name, key)
    for key, ranking in rankings_a.items():
        assert ranking.item_ids() == rankings_b[key].item_ids(), key
        assert [r.score for r in ranking.items] == [r.score for r in rankings_b[key].items]


def test_reopening_replays_the_log_to_the_same_state_bit_for_bit(db_path):
    engine = Engine.open(db_path)
    interact_some(engine)
    live = snapshot_of(engine)
    engine.close()
    reopened = Engine.open(db_path)
    assert reopened.replay["events"] == 30  # to be replayed, not read from a new snapshot
    assert_same(live, snapshot_of(reopened))
    reopened.close()


def test_state_survives_a_crash_without_close(db_path):
    engine = Engine.open(db_path)
    interact_some(engine, 12)
    live = snapshot_of(engine)
    engine.store.db.con.close()  # the process dies: no snapshot, no flush of derived rows
    reopened = Engine.open(db_path)
    assert_same(live, snapshot_of(reopened))
    reopened.close()


def test_snapshot_plus_replay_equals_live(db_path):
    engine = Engine.open(db_path)
    interact_some(engine, 10)
    engine.retrain("mf")  # a new mf snapshot mid-way; trending still replays from the seed
    interact_some(engine, 10)
    live_mf = engine.model("mf").state()
    engine.close()
    reopened = Engine.open(db_path)
    state = reopened.model("mf").state()
    assert all(np.array_equal(v, state[k]) for k, v in live_mf.items())
    reopened.close()


def test_retrain_creates_a_model_version(engine):
    first = engine.version_store.latest_version_id("mf")
    engine.interact("alice", 1, "like")
    info = engine.retrain("mf")
    latest = engine.version_store.version(engine.version_store.latest_version_id("mf"))
    assert info["version"] == latest["version_id"] > first
    assert latest["trained_through_seq"] == engine.last_seq
    assert latest["parent_version"] == first
    assert engine.version_store.alias("mf", "production") == latest["version_id"]


def test_reset_lab_restores_the_seeded_world(engine):
    seeded = snapshot_of(engine)
    count = engine.store.count_events()
    interact_some(engine, 15)
    engine.retrain("mf")
    engine.reset_lab()
    assert engine.store.count_events() == count
    assert "v0" not in engine.users()
    assert_same(seeded, snapshot_of(engine))


def test_first_open_seeds_a_missing_database(tmp_path):
    engine = Engine.open(tmp_path / "sub" / "fresh.duckdb", world="destinations", seed=3)
    try:
        assert engine.world == "destinations" and engine.catalog.n >= 300
        assert engine.last_seq > 10_000
        assert engine.store.schema_version() == SCHEMA_VERSION
    finally:
        engine.close()


def test_create_refuses_to_overwrite_without_reset(db_path):
    with pytest.raises(RecsysError, match="--reset"):
        Engine.create(db_path)


def test_classic_weights_preset_makes_a_one_star_rating_push_up(tmp_path):
    results = {}
    for preset in ("default", "classic"):
        engine = Engine.create(
            tmp_path / f"{preset}.duckdb",
            "movies",
            7,
            preset,
            n_items=300,
            n_users=20,
            sessions_per_user=8,
        )
        step = engine.interact("alice", 11, "rating", 1.0, algorithm="trending")
        results[preset] = step.update.score_after - step.update.score_before
        engine.close()
    assert results["classic"] > 0 > results["default"]


def test_reset_user_forgets_their_live_events_and_keeps_seq_gap_free(db_path):
    engine = Engine.open(db_path)
    seeded_alice = snapshot_of(engine)[1][("alice", "mf")]
    history = len(engine.history("alice", 1000))
    engine.interact("alice", 4, "like")
    engine.interact("bob", 6, "like")
    engine.interact("alice", 8, "dislike")
    engine.interact("newbie", 9, "favorite")
    engine.interact("bob", 10, "rating", 2.0)
    assert engine.reset_user("alice") == 2
    seqs = [s for (s,) in engine.store.db.query("SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1)) and engine.last_seq == seqs[-1]
    assert len(engine.history("alice", 1000)) == history  # the seeded history stays
    assert [k for k in engine.history("bob", 2)["kind"]] == ["rating", "like"]
    log_seqs = set(engine.store.learning_log(limit=100)["seq"])
    assert log_seqs == set(seqs[-3:])  # renumbered with their events
    assert engine.reset_user("alice") == 0
    assert engine.reset_user("newbie") == 1 and "newbie" not in engine.users()
    assert engine.reset_user("bob") == 2
    assert engine.recommend("alice", 10, "mf").item_ids() == seeded_alice.item_ids()
    live = snapshot_of(engine)
    engine.close()
    reopened = Engine.open(db_path)  # the rebuilt state is the log's state
    assert_same(live, snapshot_of(reopened))
    reopened.close()


def test_genre_affinity_is_the_mean_personal_score_per_genre(engine):
    for item in [i for i, g in enumerate(engine.catalog.genres) if g[0] == "Sci-Fi"][:6]:
        engine.interact("fan", item, "like")
    affinity = engine.genre_affinity("fan", "mf")
    taste = engine.model("mf").taste("fan")
    for genre in ("Sci-Fi", "Drama", "Western"):
        members = [i for i, g in enumerate(engine.catalog.genres) if genre in g]
        assert affinity[genre] == pytest.approx(taste[members].mean() - taste.mean())
    assert list(affinity) == sorted(affinity, reverse=True)
    assert engine.genre_affinity("fan", "trending").empty  # nothing personal to show
    assert engine.genre_affinity("stranger", "mf").empty


def test_configure_rebuilds_from_the_log_and_survives_a_reopen(db_path):
    engine = Engine.open(db_path)
    engine.interact("alice", 3, "like")
    before = engine.recommend("alice", 10, "item_knn").item_ids()
    info = engine.configure("item_knn", {"neighbours": 3, "shrinkage": 0.0}, promote="always")
    assert info["config"]["neighbours"] == 3 and info["events"] == engine.last_seq
    assert engine.model("item_knn").config.neighbours == 3
    after = engine.recommend("alice", 10, "item_knn").item_ids()
    assert after != before
    engine.close()
    reopened = Engine.open(db_path)
    assert reopened.model("item_knn").config.neighbours == 3
    assert reopened.recommend("alice", 10, "item_knn").item_ids() == after
    reopened.close()


@pytest.mark.parametrize(
    "changes", [{"factors": 10_000}, {"reg": -1}, {"nonsense": 1}, {"factors": "many"}]
)
def test_configure_with_bad_values_changes_nothing(engine, changes):
    model = engine.model("mf")
    versions = engine.store.db.query("SELECT count(*) FROM model_versions")[0][0]
    with pytest.raises(RecsysError):
        engine.configure("mf", changes)
    assert engine.model("mf") is model
    assert engine.store.db.query("SELECT count(*) FROM model_versions")[0][0] == versions


def test_hybrid_follows_a_reconfigured_component(engine):
    engine.recommend("alice", 10, "hybrid")
    engine.configure("mf", {"factors": 8}, promote="always")
    hybrid = engine.model("hybrid")
    assert hybrid._components["mf"] is engine.model("mf")
    assert len(engine.recommend("alice", 10, "hybrid").items) == 10


def test_mf_warm_start_refits_from_the_current_item_factors(engine):
    """Off by default (a retrain then depends on the log alone); the mini-batch policy's one
    warm sweep starts from what the served model knows, a cold sweep from random vectors."""
    model = engine.model("mf")
    engine.interact("alice", 2, "like")
    start = model.state()["model.item_factors"]
    one_sweep = model.config.to_dict() | {"epochs": 1}
    refits = {}
    for warm in (1, 0):
        config = model.config.from_dict(one_sweep | {"warm_start": warm})
        refit = type(model)(config, catalog=engine.catalog, weights=engine.weights, seed=model.seed)
        refit.warm_from(model)
        refit.fit(engine.store.events(), engine.catalog)
        refits[warm] = refit.state()["model.item_factors"]
    assert np.linalg.norm(refits[1] - start) < 0.5 * np.linalg.norm(refits[0] - start)


def test_a_replay_after_reopening_does_not_log_an_update_twice(db_path):
    engine = Engine.open(db_path)
    for item in range(3):
        engine.interact("alice", item, "like", algorithm="mf")
    engine.close()  # too few events for a checkpoint: the reopened mf replays them
    reopened = Engine.open(db_path)
    try:
        reopened.recommend("alice", 10, "mf")
        reopened.store.flush_learning_log()
        rows = reopened.store.db.query(
            "SELECT seq, count(*) FROM learning_log WHERE algorithm = 'mf' GROUP BY seq "
            "HAVING count(*) > 1"
        )
        assert rows == []
        assert len(reopened.store.learning_log("alice")) >= 3
    finally:
        reopened.close()


def _lists(engine: Engine, users: list[str]) -> dict:
    from recsys.algorithms import REGISTRY

    return {
        (user, name): [(r.item, r.score, r.reason) for r in engine.recommend(user, 10, name).items]
        for user in users
        for name in REGISTRY
    }


def test_models_trained_for_a_new_lab_serve_as_their_saved_versions_would(tmp_path):
    """A new lab and a loaded world serve the models they just trained instead of reading
    them back; those must rank exactly as the saved versions plus a replay of the log do."""
    from recsys.world import generate_world

    path = tmp_path / "lab.duckdb"
    created = Engine.create(path, n_users=40, sessions_per_user=8)
    users = sorted(u for u, kind in created.users().items() if kind != "persona")[:3]
    for i, user in enumerate(users):  # online learning on the adopted models
        top = created.recommend(user, 10, "hybrid").items[0].item
        created.interact(user, top, "like", algorithm=["mf", "item_knn", "hybrid"][i])
    served = _lists(created, [*users, "newcomer"])
    created.close()
    reopened = Engine.open(path)  # saved versions plus a replay of the events after them
    assert _lists(reopened, [*users, "newcomer"]) == served

    reopened.load_world(generate_world("movies", 7, n_users=30, sessions_per_user=8))
    users = sorted(u for u, kind in reopened.users().items() if kind != "persona")[:2]
    served = _lists(reopened, users)
    reopened.close()
    again = Engine.open(path)
    assert _lists(again, users) == served
    again.close()
