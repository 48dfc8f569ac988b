"""Policy retrains off the request path: the click that triggers one returns at once, the
worker builds the same version the synchronous path builds, lands it atomically with the events
that arrived meanwhile replayed, and the history and time travel still tell the story in seq
order."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from recsys.engine import Engine
from recsys.lifecycle.timetravel import recommend_as_of

QUIET = {"retrain_ratings": 0, "minibatch_events": 0, "drift_detector": "off"}
SCRIPT = [(10 + i, "rating", float(1 + i % 5)) for i in range(4)]


def drive(engine: Engine, script, user: str = "ann", start_ts: float | None = None):
    ts = engine.lab_time + 60 if start_ts is None else start_ts
    return [
        engine.interact(user, item, kind, value, ts=ts + 60 * i)
        for i, (item, kind, value) in enumerate(script)
    ]


@pytest.fixture
def twin_labs(small_world_file, tmp_path):
    """Two copies of one lab: the first retrains inside the event, the second in the
    background; both retrain mf every 4 ratings."""
    engines = []
    for name in ("sync", "background"):
        path = tmp_path / f"{name}.duckdb"
        shutil.copy(small_world_file, path)
        engine = Engine.open(path)
        engine.lifecycle.set_policy(QUIET | {"retrain_ratings": 4})
        engines.append(engine)
    engines[1].retrainer.enabled = True
    yield engines
    for engine in engines:
        engine.close()


def newest_version(engine: Engine) -> dict:
    versions = engine.version_store.versions("mf")
    return engine.version_store.version(int(versions["version_id"].max()), params=True)


def test_background_retrain_builds_the_version_the_synchronous_path_builds(twin_labs):
    sync, background = twin_labs
    ts = max(sync.lab_time, background.lab_time) + 60
    sync_steps = drive(sync, SCRIPT, start_ts=ts)
    with background.lock:  # hold the landing back until the click has returned
        steps = drive(background, SCRIPT, start_ts=ts)
        started = steps[-1].actions[0]
        assert started["started"] and started["kind"] == "retrain"
        assert "A retrain of mf started" in steps[-1].message  # numbered when it is stored
        assert background.retrainer.running()  # it has not landed: the click did not wait
    assert background.retrainer.wait(60)
    job = background.retrainer.jobs()[-1]
    assert job.stage == "done" and job.result["version"] == started["version"]

    made, expected = newest_version(background), newest_version(sync)
    assert made["version_id"] == started["version"]
    assert made["trained_through_seq"] == expected["trained_through_seq"] == steps[-1].event.seq
    assert made["n_events"] == expected["n_events"]
    assert made["params"].keys() == expected["params"].keys()
    for key, array in expected["params"].items():
        np.testing.assert_array_equal(made["params"][key], array, err_msg=key)
    assert made["metrics"] == expected["metrics"]
    assert job.result["gate"] == sync_steps[-1].actions[0]["gate"]  # decided before landing
    # The synchronous retrain served the triggering event's own `after` list; the background
    # one serves from the next event on. Both now serve the same production.
    assert sync_steps[-1].actions[0]["version"] == expected["version_id"]
    assert background.version_store.alias("mf", "production") == made["version_id"]
    mine, theirs = sync.recommend("ann"), background.recommend("ann")
    assert mine.item_ids() == theirs.item_ids()
    np.testing.assert_allclose([r.score for r in mine.items], [r.score for r in theirs.items])


def test_events_during_a_retrain_are_replayed_onto_the_landed_version(twin_labs, tmp_path):
    _, engine = twin_labs
    with engine.lock:
        steps = drive(engine, SCRIPT)
        trigger = steps[-1].event.seq
        later = drive(engine, [(40, "like", None), (41, "rating", 5.0)], start_ts=engine.lab_time)
    assert engine.retrainer.wait(60)
    version = engine.version_store.alias("mf", "production")
    assert engine.version_store.version(version)["trained_through_seq"] == trigger
    # The history in seq order: trained through the trigger, served from after the last
    # event that arrived while it fitted.
    update = engine.version_store.updates("mf").iloc[0]
    assert update["at_seq"] == trigger and update["version_id"] == version
    moves = engine.version_store.alias_history("mf")
    move = moves[(moves["alias"] == "production") & (moves["to_version"] == version)].iloc[0]
    assert move["at_seq"] == later[-1].event.seq
    store = engine.version_store
    assert store.lineage_at("mf", "production", later[-1].event.seq + 1)["version_id"] == version
    assert store.lineage_at("mf", "production", later[-1].event.seq)["version_id"] != version
    # Time travel shows each event's own `after` list: the events in between were served by
    # the previous production, the next one by the landed version plus a replay of them.
    before = recommend_as_of(engine, "ann", later[-1].event.seq, 10, "mf")
    assert before.item_ids() == later[-1].after.item_ids()
    step = drive(engine, [(42, "view", None)], start_ts=engine.lab_time)[-1]
    past = recommend_as_of(engine, "ann", step.event.seq, 10, "mf")
    assert past.item_ids() == step.after.item_ids()
    np.testing.assert_allclose([r.score for r in past.items], [r.score for r in step.after.items])
    # A fresh reopen of the same log rebuilds what serves exactly.
    live = engine.recommend("ann")
    path = engine.store.db.path
    engine.close()
    reopened = Engine.open(path)
    try:
        again = reopened.recommend("ann")
        assert again.item_ids() == live.item_ids()
        np.testing.assert_allclose([r.score for r in again.items], [r.score for r in live.items])
    finally:
        reopened.close()


def test_a_reset_discards_the_retrain_in_flight(twin_labs):
    _, engine = twin_labs
    versions = len(engine.version_store.versions("mf"))
    with engine.lock:
        drive(engine, SCRIPT)
        engine.reset_lab()  # the log it was trained on is gone: it must not land
    assert engine.retrainer.wait(60)
    assert engine.retrainer.jobs()[-1].stage == "discarded"
    assert len(engine.version_store.versions("mf")) == versions
    assert not engine.retrainer.running()


def test_a_minibatch_in_the_background_is_the_synchronous_checkpoint(twin_labs):
    for engine in twin_labs:
        engine.lifecycle.set_policy(QUIET | {"minibatch_events": 3})
    sync, background = twin_labs
    ts = max(sync.lab_time, background.lab_time) + 60
    script = [(20, "like", None), (21, "view", None), (22, "rating", 4.0)]
    drive(sync, script, start_ts=ts)
    steps = drive(background, script, start_ts=ts)
    assert steps[-1].actions[0]["started"] and steps[-1].actions[0]["kind"] == "minibatch"
    assert background.retrainer.wait(60)
    assert background.retrainer.jobs()[-1].stage == "done"
    mine, theirs = sync.recommend("ann"), background.recommend("ann")
    assert mine.item_ids() == theirs.item_ids()
    np.testing.assert_allclose([r.score for r in mine.items], [r.score for r in theirs.items])


def test_a_gate_decided_before_landing_is_decided_again_under_a_new_policy(twin_labs):
    _, engine = twin_labs
    with engine.lock:  # the worker fits, stores and gates, then waits to land
        drive(engine, SCRIPT)
        job = engine.retrainer.jobs()[-1]
        deadline = time.monotonic() + 60
        while job.verdict is None and not job.finished and time.monotonic() < deadline:
            time.sleep(0.01)
        assert job.verdict is not None and job.verdict[1]["passed"] is not None
        engine.lifecycle.set_policy({"gate_absolute": 1.0})  # no NDCG gain is that large
    assert engine.retrainer.wait(60)
    assert job.result["gate"]["needed"] == 1.0 and not job.result["gate"]["passed"]
    assert not job.result["promoted"]
    assert engine.version_store.alias("mf", "candidate") == job.result["version"]


def test_scripted_runs_retrain_inside_the_event_while_suspended(twin_labs):
    _, engine = twin_labs
    with engine.retrainer.suspended():
        steps = drive(engine, SCRIPT)
    action = steps[-1].actions[0]
    assert "started" not in action and action["kind"] == "retrain" and "version" in action
    assert engine.version_store.alias("mf", "production") == action["version"]
    assert not engine.retrainer.jobs()


def test_progress_and_labels_of_a_job(twin_labs):
    _, engine = twin_labs
    with engine.lock:
        drive(engine, SCRIPT)
        job = engine.retrainer.jobs()[-1]
        assert job.label == "retrain of mf"
        assert 0.0 <= job.progress() < 1.0
    engine.retrainer.wait(60)
    assert job.expected is not None and job.expected > 0  # read by the worker, for the bar
    assert job.progress() == 1.0
    assert job.result["gate"] is not None  # auto-promotion on: the gate decided
    assert job.result["promoted"] == job.result["gate"]["passed"]


def test_a_version_stored_before_landing_goes_with_a_reset_and_none_after_a_discard(twin_labs):
    from recsys.lifecycle import jobs

    _, engine = twin_labs
    seeded = set(engine.version_store.versions("mf")["version_id"])
    drive(engine, SCRIPT[:2])
    with engine.lock:
        job = jobs.start(engine.lifecycle, jobs.RETRAIN, "mf", "manual")
    jobs.run(engine.lifecycle, job)
    jobs.save(engine.lifecycle, job)  # the worker stores it without the engine lock
    assert job.saved == job.version
    log = engine.version_store.updates("mf")
    row = log[log["version_id"] == job.version]
    assert len(row) == 1 and int(row["at_seq"].iloc[0]) == job.through  # one transaction
    assert engine.version_store.alias("mf", "production") not in (job.version, None)
    engine.reset_lab()  # the stored version goes with the log it was trained on
    assert set(engine.version_store.versions("mf")["version_id"]) == seeded
    log = engine.version_store.updates("mf")
    assert not (log["version_id"] == job.version).any()

    with engine.lock:
        late = jobs.start(engine.lifecycle, jobs.RETRAIN, "mf", "manual")
    jobs.run(engine.lifecycle, late)
    late.discarded = True  # what a reset does to the worker's jobs before it rebuilds
    jobs.save(engine.lifecycle, late)  # nothing is stored
    assert late.saved is None
    assert set(engine.version_store.versions("mf")["version_id"]) == seeded


def test_a_minibatch_starts_from_what_serves_not_from_random_vectors(twin_labs):
    from recsys.algorithms import ModelSpec, build_model
    from recsys.lifecycle import jobs
    from recsys.lifecycle.measures import holdout_metrics

    engine, _ = twin_labs
    h = engine.host
    served = engine.model("mf")
    with engine.lock:
        job = jobs.start(engine.lifecycle, jobs.MINIBATCH, "mf", "manual")
    jobs.run(engine.lifecycle, job)
    events = engine.store.events(through_seq=job.through)
    cold = build_model(
        ModelSpec("mf", job.model.config.to_dict(), served.seed, h.weights), h.catalog
    )
    cold.fit(events, h.catalog)  # one ALS sweep from random vectors

    def ndcg(model) -> float:
        return holdout_metrics(model, h.holdout, events, h.catalog, h.weights)["NDCG@10"]

    warm = job.model.state()["model.item_factors"]
    assert not np.allclose(warm, cold.state()["model.item_factors"])
    assert ndcg(job.model) >= 0.95 * ndcg(served) > ndcg(cold)


def test_a_background_retrain_that_a_newer_version_overtook_lands_as_the_candidate(twin_labs):
    from recsys.lifecycle import jobs

    _, engine = twin_labs
    with engine.lock:
        job = jobs.start(engine.lifecycle, jobs.RETRAIN, "mf", "every N ratings")
    drive(engine, SCRIPT[:1])
    newer = engine.lifecycle.train("mf", "manual", "always")["version"]  # Train now, meanwhile
    jobs.run(engine.lifecycle, job)
    jobs.save(engine.lifecycle, job)
    with engine.lock:
        result = jobs.land(engine.lifecycle, job)
    assert not result["promoted"]
    assert engine.version_store.alias("mf", "production") == newer
    assert engine.version_store.alias("mf", "candidate") == job.version
    log = engine.version_store.updates("mf")  # newest first, in seq order
    assert log["at_seq"].tolist() == sorted(log["at_seq"], reverse=True)
    assert engine.lifecycle.watcher.watch("mf").ratings == 0  # counted from the newer retrain


def test_a_discarded_job_writes_nothing_into_the_rebuilt_lab(twin_labs, small_world_file):
    from recsys.lifecycle import jobs

    _, engine = twin_labs
    old = engine.lifecycle
    with engine.lock:
        job = jobs.start(old, jobs.RETRAIN, "mf", "every N ratings")
    job.discarded = True  # what load_world does to the worker's jobs before it rebuilds
    engine.reset_lab()
    production = engine.version_store.alias("mf", "production")
    engine.version_store.db.transaction(
        [("UPDATE model_versions SET metrics = '{}' WHERE version_id = ?", [production])]
    )
    jobs.run(old, job)  # the worker finishes the fit it had begun
    assert engine.version_store.version(production)["metrics"] == {}  # old holdout: not written
    assert job.saved is None


def test_one_background_job_per_algorithm_and_a_reset_discards_the_queued_ones(twin_labs):
    _, engine = twin_labs
    with engine.lock:  # the worker cannot land: every job stays in flight
        drive(engine, SCRIPT * 3)  # three times the ratings that start a retrain
        in_flight = engine.retrainer.running()
        assert [job.algorithm for job in in_flight] == ["mf"]  # not three
        engine.reset_lab()
        assert all(job.discarded for job in in_flight)
    assert engine.retrainer.wait(60)
    assert all(job.stage == "discarded" for job in in_flight)


def test_new_parameters_made_while_a_retrain_fitted_are_not_undone(twin_labs):
    from recsys.lifecycle import jobs

    _, engine = twin_labs
    with engine.lock:
        job = jobs.start(engine.lifecycle, jobs.RETRAIN, "mf", "every N ratings")
    engine.configure("mf", {"factors": 2, "epochs": 1}, promote="always")  # no event between
    chosen = engine.version_store.alias("mf", "production")
    jobs.run(engine.lifecycle, job)
    with engine.lock:
        result = jobs.land(engine.lifecycle, job)
    assert not result["promoted"]
    assert engine.version_store.alias("mf", "production") == chosen
    assert engine.model("mf").config.factors == 2


def test_a_minibatch_of_a_version_that_no_longer_serves_is_dropped(twin_labs):
    from recsys.lifecycle import jobs

    _, engine = twin_labs
    with engine.lock:
        job = jobs.start(engine.lifecycle, jobs.MINIBATCH, "mf", "every N events")
    engine.configure("mf", {"factors": 16}, promote="always")
    served = engine.model("mf").state()["model.item_factors"].copy()
    user = engine.recommend("ann").item_ids()
    jobs.run(engine.lifecycle, job)
    updates = len(engine.version_store.updates("mf"))
    with engine.lock:
        result = jobs.land(engine.lifecycle, job)
    assert "dropped" in result and job.stage == "discarded"
    assert np.array_equal(engine.model("mf").state()["model.item_factors"], served)
    assert engine.recommend("ann").item_ids() == user
    assert len(engine.version_store.updates("mf")) == updates  # nothing logged


# The worker re-raises a BaseException (its thread ends; the next submit starts another).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_retrain_interrupted_by_a_base_exception_frees_its_algorithm(twin_labs, monkeypatch):
    _, engine = twin_labs
    from recsys.algorithms.mf import MatrixFactorization

    def stop(self, events, catalog=None):
        raise SystemExit("stopped")

    monkeypatch.setattr(MatrixFactorization, "fit", stop)
    drive(engine, SCRIPT)
    engine.retrainer.wait(60)
    job = engine.retrainer.jobs()[-1]
    assert job.stage == "failed" and not engine.retrainer.busy("mf")


def test_a_settled_engine_leaves_the_collector_until_it_closes(engine):
    import gc

    from recsys.algorithms import Recommender
    from recsys.lifecycle.background import settle

    settle()
    assert gc.get_freeze_count() > 0
    # Frozen objects are only safe if replaced models die by reference counting: a retrain
    # must leave no model or array in a reference cycle (it would never be freed). The second
    # retrain replaces a model built after `settle`, which the collector still examines.
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for item in (3, 4):
            engine.retrain("mf")
            engine.interact("ann", item, "like")
        gc.collect()
        cyclic = [o for o in gc.garbage if isinstance(o, Recommender | np.ndarray)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert cyclic == []
    engine.close()
    assert gc.get_freeze_count() == 0
