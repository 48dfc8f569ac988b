"""Reopening a lab: saved states stored as arrays, models built on first use, snapshots that
shorten the replay, and the same served models bit for bit as the engine that wrote them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recsys import snapshots
from recsys.algorithms import REGISTRY
from recsys.engine import Engine
from recsys.hosting import Served
from recsys.store import states
from recsys.store.connection import Database, encode_arrays
from recsys.store.database import Store
from recsys.store.schema import migrate
from recsys.store.versions import VersionStore
from tests.test_engine import assert_same, snapshot_of


def interact_everywhere(engine: Engine, n: int, start: int = 0) -> None:
    """`n` events spread over every algorithm (so each learns some online, others lag)."""
    rng = np.random.default_rng(start)
    kinds = ["view", "like", "dislike", "rating", "click", "skip"]
    names = list(REGISTRY)
    for i in range(start, start + n):
        kind = kinds[i % len(kinds)]
        engine.interact(
            f"s{i % 5}",
            int(rng.integers(engine.catalog.n)),
            kind,
            4.0 if kind == "rating" else None,
            {"device": "mobile"} if i % 3 == 0 else None,
            algorithm=names[i % len(names)],
        )


def states_of(engine: Engine) -> dict[str, dict[str, np.ndarray]]:
    return {name: engine.model(name).state() for name in REGISTRY}


def test_a_reopened_lab_serves_the_same_models_with_a_snapshot_mid_tail(db_path):
    engine = Engine.open(db_path)
    interact_everywhere(engine, 25)
    engine.catch_up()
    written = engine.host.checkpoint("test", every=1)  # a snapshot in the middle of the tail
    assert sorted(written) == sorted(REGISTRY)
    interact_everywhere(engine, 25, start=25)
    live = snapshot_of(engine)
    engine.close()  # too few events since the snapshot for another one
    reopened = Engine.open(db_path)
    assert reopened.replay["events"] == 25  # from the snapshot on, not from the seed
    assert_same(live, snapshot_of(reopened))
    reopened.close()


def test_models_are_built_when_first_used(db_path):
    engine = Engine.open(db_path)
    assert engine.host.built() == []
    engine.recommend("alice", algorithm="popularity")
    assert engine.host.built() == ["popularity"]
    engine.recommend("alice", algorithm="hybrid")
    components = REGISTRY["hybrid"].components
    assert set(engine.host.built()) == {"popularity", "hybrid", *components}
    engine.close()


def test_a_model_far_behind_reads_the_older_tail_back_from_the_log(db_path, monkeypatch):
    monkeypatch.setattr(snapshots, "TAIL_LIMIT", 3)
    engine = Engine.open(db_path)
    engine.recommend("alice", algorithm="popularity")  # built, then idle while mf learns
    for i in range(12):
        engine.interact("t1", 10 + i, "like", algorithm="mf")
    assert len(engine.host._tail) <= 3
    lagging = engine.model("popularity").state()
    engine.close()
    replayed = Engine.open(db_path)  # nothing checkpointed: the whole tail from the log
    assert_same(
        ({"popularity": lagging}, {}), ({"popularity": replayed.model("popularity").state()}, {})
    )
    replayed.close()


def test_close_checkpoints_only_models_that_moved(db_path):
    engine = Engine.open(db_path)
    engine.recommend("alice", algorithm="popularity")  # built, then six events behind
    for i in range(6):
        engine.interact("c1", 20 + i, "like", algorithm="mf")
    assert engine.host.checkpoint("test", every=7) == []
    assert engine.host.checkpoint("test", every=6) == ["mf"]  # popularity has not learned yet
    engine.recommend("alice", algorithm="popularity")
    assert engine.host.checkpoint("test", every=6) == ["popularity"]
    assert engine.host.checkpoint("test", every=1) == []  # nothing new since
    engine.close()


def test_a_state_saved_as_npz_by_older_code_still_opens(db_path):
    engine = Engine.open(db_path)
    interact_everywhere(engine, 12)
    engine.catch_up()
    engine.host.checkpoint("test", every=1)
    interact_everywhere(engine, 6, start=12)
    live = snapshot_of(engine)
    engine.close()
    db = Database.open(db_path)  # as a lab written before states were arrays: .npz bytes
    for table in ("model_versions", "checkpoints"):
        for state_id in [r[0] for r in db.query(f"SELECT state_id FROM {table}")]:
            blob = encode_arrays(states.read_state(db, state_id))
            db.execute(
                f"UPDATE {table} SET params = ?, state_id = NULL WHERE state_id = ?",
                [blob, state_id],
            )
    db.transaction(states.orphan_statements())
    assert db.query("SELECT count(*) FROM state_words")[0][0] == 0
    db.close()
    reopened = Engine.open(db_path)
    assert_same(live, snapshot_of(reopened))
    reopened.close()


def test_states_round_trip_bit_for_bit_and_orphans_go():
    db = Database.open(":memory:")
    migrate(db)
    arrays = {
        "floats": np.array([[0.1, np.nan], [-0.0, np.inf]]),
        "ints": np.arange(7, dtype=np.int32),
        "text": np.array(["ada", "grace", ""]),
        "flags": np.array([True, False, True]),
        "empty": np.empty((0, 4)),
        "scalar": np.array(2.5),
    }
    for state_id in (3, 4):
        db.transaction(*states.save_statements(state_id, arrays))
    back = states.read_state(db, 4)
    assert back.keys() == arrays.keys()
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype and back[name].shape == array.shape
        assert back[name].tobytes() == array.tobytes(), name
    db.transaction(states.orphan_statements())  # no version or checkpoint names them
    assert db.query("SELECT count(*) FROM state_arrays")[0][0] == 0
    with pytest.raises(ValueError, match="pickle"):
        states.save_statements(5, {"o": np.array([{"a": 1}], dtype=object)})
    db.close()


def test_reset_drops_the_states_of_what_it_drops(engine):
    interact_everywhere(engine, 6)
    engine.catch_up()
    engine.host.checkpoint("test", every=1)
    engine.retrain("mf")
    count = "SELECT count(DISTINCT state_id) FROM state_arrays"
    named = "SELECT count(*) FROM model_versions WHERE state_id IS NOT NULL"
    assert engine.store.db.query(count)[0][0] > engine.store.db.query(named)[0][0]
    engine.reset_lab()
    assert engine.store.db.query(count)[0][0] == engine.store.db.query(named)[0][0]
    assert Served("mf") in engine.host


def test_a_long_replay_is_checkpointed_at_once(db_path, monkeypatch):
    monkeypatch.setattr("recsys.hosting.SNAPSHOT_EVERY", 8)
    engine = Engine.open(db_path)
    engine.recommend("alice", algorithm="popularity")
    for i in range(8):
        engine.interact("r1", 30 + i, "like", algorithm="mf")
    count = "SELECT count(*) FROM checkpoints WHERE algorithm = ? AND reason = ?"
    assert engine.store.db.query(count, ["mf", "after a long replay"])[0][0] == 0  # 1 by 1
    assert engine.store.db.query(count, ["popularity", "after a long replay"])[0][0] == 0
    live = engine.model("popularity").state()  # eight events at once: checkpointed
    assert engine.store.db.query(count, ["popularity", "after a long replay"])[0][0] == 1
    engine.store.db.con.close()  # a crash: no checkpoint on close
    reopened = Engine.open(db_path)
    assert reopened.replay["events"] == 8  # mf still replays; popularity starts at the end
    assert_same(({"p": live}, {}), ({"p": reopened.model("popularity").state()}, {}))
    reopened.close()


def test_a_state_stored_ahead_of_its_version_is_named_or_stored_again():
    store = Store.open(":memory:")
    db, versions = store.db, VersionStore(store)
    arrays = {"factors": np.arange(12.0).reshape(3, 4) / 7, "scalar": np.array(3, np.int64)}
    row = ("mf", {"factors": 4}, 0, 10, 10, arrays, "test", 0.1)
    named = "SELECT state_id FROM model_versions WHERE version_id = ?"
    ahead = versions.store_state(arrays)  # outside the write lock: nothing names it yet
    first = versions.save_version(*row, stored=ahead)
    assert db.query(named, [first]) == [(ahead,)]
    gone = versions.store_state(arrays)
    db.transaction(states.orphan_statements())  # e.g. a version deleted meanwhile
    assert not states.intact(db, gone, arrays)
    second = versions.save_version(*row, stored=gone)  # so it is stored again, under the lock
    assert db.query(named, [second])[0][0] not in (ahead, gone)
    for version in (first, second):
        back = states.read_state(db, db.query(named, [version])[0][0])
        assert {n: (a.dtype, a.shape, a.tobytes()) for n, a in back.items()} == {
            n: (a.dtype, a.shape, a.tobytes()) for n, a in arrays.items()
        }
    dropped = versions.store_state(arrays)  # a discarded retrain's
    versions.drop_state(dropped)
    assert db.query("SELECT count(*) FROM state_arrays WHERE state_id = ?", [dropped]) == [(0,)]
    store.close()


def test_a_new_world_or_a_reset_leaves_no_log_for_a_click_to_checkpoint(tmp_path):
    # DuckDB checkpoints in whichever commit takes its log past 16 MB: a click must not be
    # it. Until the first checkpoint after a bulk write, each new user's row logged the users
    # table's whole key index again (about 50 KB at 300 users, 160 KB at 1,000).
    def logged(lab: Engine, user: str) -> int:
        wal = Path(f"{lab.store.path}.wal")
        before = wal.stat().st_size if wal.exists() else 0
        lab.interact(user, 1, "like")
        return wal.stat().st_size - before

    lab = Engine.create(tmp_path / "new.duckdb", n_items=40, n_users=300, sessions_per_user=1)
    assert logged(lab, "newcomer") < 5_000
    lab.reset_lab()
    assert logged(lab, "another-newcomer") < 5_000
    lab.close()
