"""Retrain policies (every N ratings, mini-batch, schedule, drift, rollback floor), their
validation, and the lifecycle CLI: versions, history, recommend --as-of, policy, scenario."""

from __future__ import annotations

import json
import shutil

import duckdb
import numpy as np
import pytest

from recsys.cli.main import main
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.lifecycle.policies import Policy
from recsys.lifecycle.timetravel import recommend_as_of
from recsys.simulation import autopilot, taste_drift

QUIET = {"retrain_ratings": 0, "minibatch_events": 0, "drift_detector": "off"}


def quiet(engine: Engine, **changes) -> None:
    """Only the policies a test is about are on."""
    engine.lifecycle.set_policy(QUIET | changes)


def kinds(step) -> list[tuple[str, str]]:
    return [(a["kind"], a["trigger"]) for a in step.actions]


def count(engine: Engine, table: str) -> int:
    return engine.store.db.query(f"SELECT count(*) FROM {table}")[0][0]


def assert_after_is_rebuilt(engine: Engine, step) -> None:
    past = recommend_as_of(engine, step.event.user, step.event.seq, 10, "mf")
    assert past.item_ids() == step.after.item_ids()
    assert [r.score for r in past.items] == [r.score for r in step.after.items]


# -- every N ratings, mini-batch, schedule ------------------------------------------------------


def test_retrain_fires_exactly_on_the_nth_rating(engine):
    quiet(engine, retrain_ratings=3)
    engine.retrain("mf")  # a full retrain: the counters start from zero here
    versions = count(engine, "model_versions")
    script = [("rating", 4.0), ("like", None), ("rating", 2.5), ("view", None), ("rating", 5.0)]
    steps = [engine.interact("ann", 10 + i, kind, value) for i, (kind, value) in enumerate(script)]
    assert [kinds(s) for s in steps] == [[], [], [], [], [("retrain", "every N ratings")]]
    retrain = steps[-1].actions[0]
    assert count(engine, "model_versions") == versions + 1
    row = engine.version_store.updates("mf").iloc[0]
    assert row["at_seq"] == steps[-1].event.seq and row["trigger"] == "every N ratings"
    assert row["update_type"].startswith("full retrain") and row["status"] == "ok"
    assert row["version_id"] == retrain["version"]
    assert engine.version_store.version(retrain["version"])["trigger"] == "every N ratings"
    assert_after_is_rebuilt(engine, steps[-1])
    # the counter starts over: two more ratings are not enough
    more = [engine.interact("ann", 20 + i, "rating", 3.0) for i in range(3)]
    assert [kinds(s) for s in more] == [[], [], [("retrain", "every N ratings")]]


def test_ratings_served_by_another_algorithm_do_not_count(engine):
    quiet(engine, retrain_ratings=2)
    engine.retrain("mf")
    engine.interact("ann", 1, "rating", 4.0, algorithm="item_knn")
    step = engine.interact("ann", 2, "rating", 4.0)
    assert kinds(step) == []
    step = engine.interact("ann", 3, "rating", 4.0)
    assert kinds(step) == [("retrain", "every N ratings")]


@pytest.mark.parametrize("policy", [{"retrain_ratings": 2}, {"minibatch_events": 2}])
def test_the_first_event_after_the_policy_is_set_counts_once(engine, policy):
    quiet(engine, **policy)
    step = engine.interact("ann", 1, "rating", 4.0)  # one of two
    assert kinds(step) == []


def test_a_reopen_does_not_change_when_the_ratings_policy_fires(db_path, tmp_path):
    copy = tmp_path / "copy.duckdb"
    shutil.copy(db_path, copy)
    fired = []
    for path, reopen in ((db_path, False), (copy, True)):
        engine = Engine.open(path)
        quiet(engine, retrain_ratings=4)  # not 3: the first event after a reopen counts twice
        engine.retrain("mf")
        engine.interact("ann", 1, "rating", 4.0)
        engine.interact("ann", 2, "rating", 4.0, algorithm="item_knn")
        engine.interact("ann", 3, "rating", 4.0, algorithm="item_knn")
        if reopen:
            engine.close()
            engine = Engine.open(path)
        fired.append(kinds(engine.interact("ann", 4, "rating", 4.0)))
        engine.close()
    assert fired[0] == []  # mf has served two of its four ratings
    assert fired[1] == fired[0]


def test_minibatch_every_n_events_is_a_checkpoint_not_a_version(engine):
    quiet(engine, minibatch_events=4)
    engine.retrain("mf")
    production = engine.version_store.alias("mf", "production")
    versions = count(engine, "model_versions")
    steps = [engine.interact("bob", 30 + i, "like") for i in range(4)]
    assert [kinds(s) for s in steps] == [[], [], [], [("minibatch", "every N events")]]
    seq = steps[-1].event.seq
    assert count(engine, "model_versions") == versions
    assert engine.version_store.alias("mf", "production") == production
    row = engine.version_store.updates("mf").iloc[0]
    assert (row["update_type"], row["at_seq"], row["version_id"]) == ("mini-batch", seq, production)
    lineage = engine.version_store.lineage_at("mf", "production", seq)
    assert lineage["effective_seq"] == seq and lineage["version_id"] == production
    assert lineage["checkpoint_id"] == steps[-1].actions[0]["checkpoint"]
    base = engine.version_store.base_state(lineage, seq)
    assert base["saved_in"] == ("checkpoints", lineage["checkpoint_id"])
    assert base["through_seq"] == seq
    state = engine.model("mf").state()
    assert all(np.array_equal(v, state[k]) for k, v in base["params"].items())
    assert_after_is_rebuilt(engine, steps[-1])
    assert engine.version_store.lineage_at("mf", "production", seq - 1)["checkpoint_id"] is None
    more = [engine.interact("bob", 40 + i, "view") for i in range(4)]  # the count starts over
    assert [kinds(s) for s in more] == [[], [], [], [("minibatch", "every N events")]]


def test_scheduled_retrain_fires_when_the_lab_clock_passes_the_period(engine):
    quiet(engine, schedule_seconds=3600)
    engine.retrain("mf")  # the period runs from the last full retrain
    start = engine.lab_time
    early = engine.interact("carol", 1, "view", ts=start + 1800)
    almost = engine.interact("carol", 2, "view", ts=start + 3599)
    due = engine.interact("carol", 3, "view", ts=start + 3600)
    assert kinds(early) == kinds(almost) == [] and kinds(due) == [("retrain", "schedule")]
    assert engine.version_store.updates("mf").iloc[0]["trigger"] == "schedule"
    again = engine.interact("carol", 4, "view", ts=start + 3600 + 3599)
    assert kinds(again) == []  # the period starts over at the retrain
    assert kinds(engine.interact("carol", 5, "view", ts=start + 7200)) == [("retrain", "schedule")]


# -- drift --------------------------------------------------------------------------------------

# A fixed-seed check, not a guarantee. A persona's reward falls even without a shift once it
# has used up the items it likes, and a learner that finds them fast (mf since it models
# choices) uses up a 300-item world's in these 120 visits: a stationary run there raises an
# alarm at any threshold that sees the shift. These tests therefore run on the default
# catalog's 1,600 items (with the small world's 120 people, so it builds in seconds), where a
# short run and a low threshold keep the stationary run quiet and still see the shift.
DRIFT = {"drift_detector": "page_hinkley", "ph_threshold": 10.0}
BEFORE, AFTER, SEED = 50, 70, 0


@pytest.fixture(scope="module")
def wide_world_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("wide") / "wide.duckdb"
    Engine.create(path, "movies", 7, n_items=1600, n_users=120, sessions_per_user=25).close()
    return path


@pytest.fixture
def wide_engine(wide_world_file, tmp_path):
    path = tmp_path / "wide.duckdb"
    shutil.copy(wide_world_file, path)
    engine = Engine.open(path)
    yield engine
    engine.close()


def test_taste_drift_fires_after_the_shift_and_not_before(wide_engine):
    engine = wide_engine
    quiet(engine, **DRIFT)
    report = taste_drift(engine, before=BEFORE, after=AFTER, seed=SEED)
    assert report["alarms_before_shift"] == 0
    assert report["first_alarm_after_shift"] > report["shift_seq"]
    assert all(a["at_seq"] > report["shift_seq"] for a in report["alarms"])
    drift = [r for r in report["retrains"] if r["trigger"] == "drift"]
    assert drift and drift[0]["at_seq"] == report["first_alarm_after_shift"]
    version = engine.version_store.resolve(drift[0]["algorithm"], drift[0]["version"])
    assert engine.version_store.version(version)["trigger"] == "drift"
    marks = engine.version_store.marks("taste shift")
    assert marks["at_seq"].tolist() == [report["shift_seq"]]


def test_the_same_visits_without_a_shift_raise_no_alarm(wide_engine):
    engine = wide_engine
    quiet(engine, **DRIFT)
    personas = list(engine.personas["name"][:2])
    for step in range(BEFORE + AFTER):  # the scenario's visits, with every persona's own taste
        for persona in personas:
            autopilot(engine, persona, 1, seed=SEED + step)
    assert engine.version_store.alarms().empty
    assert "drift" not in set(engine.version_store.updates()["trigger"])


# -- the rollback floor -------------------------------------------------------------------------


def test_rollback_floor_restores_the_previous_production(engine):
    previous = engine.version_store.alias("mf", "production")
    version = engine.lifecycle.train("mf", "manual", "never")["version"]
    engine.lifecycle.promote(version, force=True)
    quiet(engine, rollback_floor=0.99, rollback_window=10)
    steps = [engine.interact("dan", 40 + i, "dislike") for i in range(10)]
    assert [kinds(s) for s in steps[:9]] == [[]] * 9
    assert kinds(steps[9]) == [("rollback", "rollback floor")]
    assert steps[9].actions[0]["production"] == previous
    assert engine.version_store.alias("mf", "production") == previous
    move = engine.version_store.alias_history("mf").iloc[0]
    assert (move["alias"], move["from_version"], move["to_version"]) == (
        "production",
        version,
        previous,
    )
    assert move["actor"] == "policy" and "floor" in move["reason"]
    assert_after_is_rebuilt(engine, steps[9])


def test_rollback_floor_ignores_a_window_that_is_not_full_or_above_the_floor(engine):
    version = engine.lifecycle.train("mf", "manual", "never")["version"]
    engine.lifecycle.promote(version, force=True)
    quiet(engine, rollback_floor=0.5, rollback_window=10)
    for i in range(10):  # mean reward 0.6: above the floor
        engine.interact("dan", 60 + i, "like" if i % 5 < 3 else "dislike")
    assert engine.version_store.alias("mf", "production") == version


def test_rollback_floor_without_a_previous_production_records_the_error(engine):
    quiet(engine, rollback_floor=0.99, rollback_window=10)
    production = engine.version_store.alias("mf", "production")
    steps = [engine.interact("dan", 40 + i, "dislike") for i in range(10)]
    assert kinds(steps[9]) == [("rollback", "rollback floor")]
    assert "no previous production" in steps[9].actions[0]["error"]
    assert engine.version_store.alias("mf", "production") == production


# -- policy validation and persistence ----------------------------------------------------------


@pytest.fixture(scope="module")
def policy_lab(small_world_file, tmp_path_factory):
    """One lab for the refused changes (each checks that it changed nothing)."""
    path = tmp_path_factory.mktemp("policy") / "lab.duckdb"
    shutil.copy(small_world_file, path)
    engine = Engine.open(path)
    quiet(engine, canary_share=10)
    yield engine
    engine.close()


@pytest.mark.parametrize(
    "changes",
    [
        {"canary_share": 101},
        {"canary_share": -1},
        {"rollback_floor": 1.5},
        {"rollback_window": 5},
        {"retrain_ratings": -1},
        {"retrain_ratings": 2.5},
        {"minibatch_events": "ten"},
        {"gate_relative": float("nan")},
        {"schedule_seconds": float("inf")},
        {"drift_detector": "cusum"},
        {"drift_detector": ""},
        {"gate_metric": "MAP"},
        {"auto_promote": 2},  # a flag: True/False (1/0 from configs stored before)
        {"auto_promote": "yes"},
        {"retrain_ratings": True},  # a number field takes no boolean
        {"no_such_policy": 1},
        {"canary_share": 50, "ph_threshold": 0},  # one bad value spoils the whole change
    ],
)
def test_bad_policy_values_raise_and_leave_the_policy_unchanged(policy_lab, changes):
    engine = policy_lab
    stored = engine.store.meta()["policy"]
    policy = engine.lifecycle.policy
    with pytest.raises(RecsysError):
        engine.lifecycle.set_policy(changes)
    assert engine.store.meta()["policy"] == stored
    assert engine.lifecycle.policy == policy


def test_policy_survives_a_reopen(db_path):
    engine = Engine.open(db_path)
    engine.lifecycle.set_policy({"drift_detector": "adwin", "retrain_ratings": 7})
    engine.close()
    reopened = Engine.open(db_path)
    try:
        policy = reopened.lifecycle.policy
        assert (policy.drift_detector, policy.retrain_ratings) == ("adwin", 7)
        assert policy == Policy.from_dict(Policy().to_dict() | policy.to_dict())
    finally:
        reopened.close()


# -- the CLI -----------------------------------------------------------------------------------


def run(db, *args, capsys) -> tuple[int, str, str]:
    code = main(["--db", str(db), *args])
    out, err = capsys.readouterr()
    return code, out, err


def lab_contents(db) -> dict:
    """Row counts of every table, the aliases and the stored policy: what a command may write."""
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        contents = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in tables}
        contents["aliases"] = con.execute("SELECT * FROM aliases ORDER BY ALL").fetchall()
        contents["meta"] = con.execute("SELECT * FROM meta ORDER BY ALL").fetchall()
    return contents


def production_of(db, algorithm: str = "mf") -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT version_id FROM aliases WHERE algorithm = ? AND alias = 'production'",
            [algorithm],
        ).fetchall()[0][0]


def test_cli_versions_train_promote_compare_rollback_delete(db_path, capsys):
    seeded = production_of(db_path)
    code, out, _ = run(db_path, "versions", "list", "--algorithm", "mf", capsys=capsys)
    assert code == 0 and "production" in out and "seed" in out

    run(db_path, "policy", "--set", "gate_absolute=1.0", capsys=capsys)
    code, out, _ = run(db_path, "versions", "train", "--json", capsys=capsys)
    trained = json.loads(out)
    assert code == 0 and trained["promoted"] is False and trained["gate"]["passed"] is False
    # Versions are numbered per algorithm: the seed is mf's v1, this retrain its v2.
    assert (trained["version"], trained["production"]) == (2, 1)
    new = trained["version_id"]

    code, _, err = run(db_path, "versions", "promote", "2", capsys=capsys)
    assert code == 2 and err.startswith("error: ") and "--force" in err
    assert "v2 was not promoted and v1 still serves mf" in err
    assert production_of(db_path) == seeded
    code, out, _ = run(db_path, "versions", "promote", "v2", "--force", capsys=capsys)
    assert code == 0 and out.strip() == "mf: v2 now serves (was v1)"
    assert production_of(db_path) == new

    code, out, _ = run(
        db_path, "versions", "compare", "1", "2", "--algorithm", "mf", "--json", capsys=capsys
    )
    report = json.loads(out)
    assert code == 0 and (report["a"], report["b"]) == (1, 2)
    assert 0 <= report["mean_overlap"] <= 1

    code, out, _ = run(db_path, "versions", "rollback", "--json", capsys=capsys)
    assert json.loads(out) == {
        "algorithm": "mf",
        "production": 1,
        "was": 2,
        "label": "v1",
        "was_label": "v2",
    }
    assert production_of(db_path) == seeded
    code, out, _ = run(db_path, "versions", "delete", "mf@v2", capsys=capsys)
    assert code == 0 and out.strip() == "mf: deleted v2"
    with duckdb.connect(str(db_path), read_only=True) as con:
        left = con.execute("SELECT version_id FROM model_versions WHERE algorithm = 'mf'")
        assert left.fetchall() == [(seeded,)]


def test_cli_versions_list_json(db_path, capsys):
    code, out, _ = run(db_path, "versions", "list", "--algorithm", "mf", "--json", capsys=capsys)
    assert code == 0
    assert [(v["version_id"], v["aliases"]) for v in json.loads(out)] == [
        (production_of(db_path), "production")
    ]


def test_cli_recommend_as_of_is_the_list_interact_showed(db_path, capsys):
    code, out, _ = run(
        db_path,
        "interact",
        "--user",
        "ann",
        "--item",
        "7",
        "--kind",
        "rating",
        "--value",
        "4.5",
        "--json",
        capsys=capsys,
    )
    step = json.loads(out)
    run(db_path, "interact", "--user", "bob", "--item", "9", "--kind", "like", capsys=capsys)
    seq = step["event"]["seq"]
    code, out, _ = run(
        db_path, "recommend", "--user", "ann", "--as-of", str(seq), "--json", capsys=capsys
    )
    past = json.loads(out)
    assert code == 0 and past["seq"] == seq
    assert [(i["item"], i["score"]) for i in past["items"]] == [
        (i["item"], i["score"]) for i in step["after"]["items"]
    ]


def test_cli_history_filters_by_user_and_kind(db_path, capsys):
    run(db_path, "interact", "--user", "ann", "--item", "3", "--kind", "like", capsys=capsys)
    run(db_path, "interact", "--user", "bob", "--item", "4", "--kind", "like", capsys=capsys)
    run(db_path, "retrain", "--algorithm", "item_knn", capsys=capsys)
    code, out, _ = run(
        db_path, "history", "--user", "ann", "--kind", "interaction", "--json", capsys=capsys
    )
    rows = json.loads(out)
    assert code == 0 and len(rows) == 1
    assert rows[0]["user_id"] == "ann" and rows[0]["kind"] == "interaction"
    code, out, _ = run(db_path, "history", "--kind", "retrain", "--json", capsys=capsys)
    rows = json.loads(out)
    assert [(r["kind"], r["algorithm"]) for r in rows] == [("retrain", "item_knn")]
    code, out, _ = run(db_path, "history", "--kind", "promotion", "--json", capsys=capsys)
    assert {r["algorithm"] for r in json.loads(out)} >= {"item_knn"}


def test_cli_policy_set_persists_and_shows(db_path, capsys):
    code, out, _ = run(
        db_path,
        "policy",
        "--set",
        "canary_share=25",
        "--set",
        "drift_detector=adwin",
        capsys=capsys,
    )
    assert code == 0 and "canary_share" in out
    code, out, _ = run(db_path, "policy", "--json", capsys=capsys)
    shown = json.loads(out)
    assert (shown["canary_share"], shown["drift_detector"]) == (25, "adwin")


def test_cli_scenario_drift_reports_the_shift(db_path, capsys):
    before = lab_contents(db_path)["events"]
    code, out, _ = run(
        db_path, "scenario", "drift", "--before", "3", "--after", "3", "--json", capsys=capsys
    )
    report = json.loads(out)
    assert code == 0 and report["shift_seq"] > report["start_seq"] == before
    assert report["end_seq"] == lab_contents(db_path)["events"]
    assert set(report) >= {"alarms", "first_alarm_after_shift", "alarms_before_shift", "retrains"}


BAD_INPUTS = [
    ("versions", "promote", "99999"),
    ("versions", "promote", "1"),  # already production
    ("versions", "promote", "abc"),
    ("versions", "promote"),
    ("versions", "promote", "2", "3"),
    ("versions", "delete", "1"),  # production
    ("versions", "compare", "1", "1"),
    ("versions", "compare", "1", "v1"),
    ("versions", "compare", "1", "99999"),
    ("versions", "compare", "1", "-2"),
    ("versions", "rollback"),  # no previous production
    ("versions", "rollback", "--algorithm", "nope"),
    ("versions", "train", "--algorithm", "nope"),
    ("versions", "frobnicate"),
    ("history", "--kind", "nonsense"),
    ("history", "--limit", "0"),
    ("recommend", "--user", "ann", "--as-of", "999999999"),
    ("recommend", "--user", "ann", "--as-of", "5"),
    ("recommend", "--user", "ann", "--as-of", "-1"),
    ("recommend", "--user", "ann", "--as-of", "1.5"),
    ("recommend", "--user", "ann", "--as-of", "x"),
    ("policy", "--set", "canary_share=101"),
    ("policy", "--set", "drift_detector=cusum"),
    ("policy", "--set", "no_such=1"),
    ("policy", "--set", "canary_share"),
    ("policy", "--set", "retrain_ratings=-3"),
    ("scenario", "drift", "--before", "0"),
    ("scenario", "drift", "--after", "-5"),
    ("scenario", "drift", "--personas", "nobody"),
    ("scenario", "drift", "--algorithm", "nope", "--before", "1", "--after", "1"),
    ("scenario", "nope"),
]


@pytest.mark.parametrize("args", BAD_INPUTS, ids=lambda a: " ".join(a)[:40])
def test_cli_bad_input_exits_2_with_one_line_and_changes_nothing(db_path, args, capsys):
    before = lab_contents(db_path)
    code, out, err = run(db_path, *args, capsys=capsys)
    assert code == 2, out
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert out == ""
    assert lab_contents(db_path) == before
