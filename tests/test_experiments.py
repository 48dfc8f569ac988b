"""A/B experiments: assignment, live serving with logged impressions, simulated runs with a
known truth, A/A false positives, off-policy evaluation, bad input and resets."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.experiments import stats
from recsys.experiments.aa import aa_rates
from recsys.experiments.analysis import cumulative, most_active, performance, report
from recsys.experiments.assignment import (
    Arm,
    Experiment,
    Experiments,
    parse_arm,
    parse_split,
    split_arms,
)
from recsys.experiments.offpolicy import evaluate_experiment
from recsys.experiments.simulation import create, simulate

TABLES = ("experiments", "impressions", "model_versions", "events")


def rows(engine: Engine) -> dict[str, int]:
    """Everything an experiment operation may write."""
    return {t: engine.store.db.query(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def two_arms(name: str = "e", seed: int = 0, split=(50.0, 50.0)) -> Experiment:
    arms = tuple(Arm(a, "mf", None, s) for a, s in zip(("A", "B"), split, strict=True))
    return Experiment(1, name, "simulated", "running", arms, 10, 0.0, seed, 0, 0.0)


def user_in(experiment: Experiment, arm: str, prefix: str = "visitor") -> str:
    """The first visitor id the experiment assigns to `arm`."""
    return next(
        f"{prefix}-{i}" for i in range(1000) if experiment.assign(f"{prefix}-{i}").name == arm
    )


def impressions(engine: Engine, experiment: Experiment) -> pd.DataFrame:
    return Experiments(engine.store).impressions(experiment.experiment_id)


def event_row(engine: Engine, seq: int) -> dict:
    names = ("user_id", "item_id", "kind", "served_by", "request_id")
    found = engine.store.db.query(f"SELECT {', '.join(names)} FROM events WHERE seq = ?", [seq])
    return dict(zip(names, found[0], strict=True))


def assert_same(a, b) -> None:
    """Equal, numbers up to the last bits (DuckDB may sum a column in another order)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, float) and not isinstance(b, bool):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15)
    else:
        assert a == b


# -- assignment ---------------------------------------------------------------------------

SYNTHETIC_USERS = [f"user-{i}" for i in range(20_000)]


def test_assignment_respects_the_split_and_the_srm_check_sees_a_wrong_one():
    experiment = two_arms("split", 3, (45.0, 55.0))
    arms = [experiment.assign(u).name for u in SYNTHETIC_USERS]
    counts = [arms.count("A"), arms.count("B")]
    sd = np.sqrt(20_000 * 0.45 * 0.55)  # about 70 users
    assert abs(counts[0] - 9_000) < 4 * sd and sum(counts) == 20_000
    assert not stats.sample_ratio(counts, [45, 55]).mismatch
    assert stats.sample_ratio(counts, [50, 50]).mismatch


def test_assignment_is_deterministic_and_independent_across_experiments():
    first = two_arms("first", 0)
    again = two_arms("first", 0)
    other_name = two_arms("second", 0)
    other_seed = two_arms("first", 1)
    mine = np.array([first.assign(u).name == "A" for u in SYNTHETIC_USERS])
    assert all(first.assign(u) == again.assign(u) for u in SYNTHETIC_USERS[:500])
    for other in (other_name, other_seed):
        theirs = np.array([other.assign(u).name == "A" for u in SYNTHETIC_USERS])
        # Independent halvings agree on about half the people (sd 0.0035 at 20,000).
        assert abs((mine == theirs).mean() - 0.5) < 0.02
        assert abs((mine & theirs).mean() - 0.25) < 0.02


def test_assignment_survives_reopening_the_database(db_path):
    engine = Engine.open(db_path)
    try:
        experiment = create(engine, "stable", "mf,popularity", mode="live", seed=9)
        users = [f"visitor-{i}" for i in range(200)]
        before = [experiment.assign(u).name for u in users]
        assert 60 < before.count("mf") < 140
        shown = {u: engine.show(u)[1]["arm"] for u in users[:4]}
    finally:
        engine.close()
    engine = Engine.open(db_path)
    try:
        assert engine.live_experiment.name == "stable"
        reread = engine.experiments.get("stable")
        assert [reread.assign(u).name for u in users] == before
        assert {u: engine.show(u)[1]["arm"] for u in users[:4]} == shown
    finally:
        engine.close()


def test_arm_specs_and_splits_are_read():
    assert split_arms("mf, mf(factors=8,reg=0.1) ,v12") == ["mf", "mf(factors=8,reg=0.1)", "v12"]
    assert parse_arm("mf(factors=8,reg=0.1)")["config"] == {"factors": 8, "reg": 0.1}
    assert parse_arm("treatment=mf")["name"] == "treatment"
    assert parse_arm("mf@v12")["version"] == 12 and parse_arm("mf@v12")["algorithm"] == "mf"
    assert parse_split("45/55", 2) == [45.0, 55.0] and parse_split(None, 4) == [25.0] * 4
    with pytest.raises(RecsysError):
        parse_arm("mf(")


@pytest.mark.parametrize("spec", ["v12", "B=v3"])
def test_a_bare_version_spec_is_read_as_a_version(spec):
    """The documented arm `v12` is a stored version, not an algorithm named "v12"."""
    arm = parse_arm(spec)
    assert arm["version"] == int(spec.rpartition("v")[2]) and arm["algorithm"] is None


# -- live mode ----------------------------------------------------------------------------


def test_live_experiment_logs_each_list_once_and_credits_events_to_it(engine):
    experiment = create(engine, "live test", "mf,popularity", mode="live")
    assert engine.live_experiment.experiment_id == experiment.experiment_id
    users = {arm: user_in(experiment, arm) for arm in ("mf", "popularity")}
    exposures = {}
    for arm, user in users.items():
        ranking, exposure = engine.show(user)
        assert exposure["arm"] == arm and exposure["algorithm"] == arm
        assert ranking.algorithm == arm and len(ranking.items) == 10
        exposures[arm] = (ranking, exposure)
    logged = impressions(engine, experiment)
    assert len(logged) == 20 and logged["request_id"].nunique() == 2
    assert (logged["propensity"] == 1.0).all() and not logged["clicked"].any()
    for arm, (ranking, exposure) in exposures.items():
        mine = logged[logged["request_id"] == exposure["request_id"]]
        assert set(mine["arm"]) == {arm} and set(mine["user_id"]) == {users[arm]}
        assert mine["item_id"].tolist() == ranking.item_ids()
        assert mine["position"].tolist() == list(range(1, 11))

    user = users["popularity"]
    ranking, exposure = engine.show(user)  # a rerun of the page: nothing new
    assert exposure["request_id"] == exposures["popularity"][1]["request_id"]
    assert len(impressions(engine, experiment)) == 20

    first = exposure["request_id"]
    liked = ranking.items[1].item
    step = engine.interact(user, liked, "like", algorithm="popularity", request_id=first)
    assert event_row(engine, step.event.seq)["request_id"] == first
    assert event_row(engine, step.event.seq)["served_by"].startswith("popularity:")
    logged = impressions(engine, experiment)
    credited = logged[logged["liked"]]
    assert credited[["request_id", "item_id", "position"]].values.tolist() == [[first, liked, 2]]

    ranking, exposure = engine.show(user)  # the list after the like is a new request
    second = exposure["request_id"]
    assert second != first and len(impressions(engine, experiment)) == 30
    rated, viewed = ranking.items[0].item, ranking.items[2].item
    engine.interact(user, rated, "rating", 4.0, algorithm="popularity", request_id=second)
    step = engine.interact(user, viewed, "view", algorithm="popularity", request_id=second)
    assert event_row(engine, step.event.seq)["request_id"] == second
    logged = impressions(engine, experiment)
    assert logged.loc[
        logged["rating"].notna(), ["request_id", "item_id", "rating"]
    ].values.tolist() == [[second, rated, 4.0]]
    assert logged.loc[logged["clicked"], ["request_id", "item_id"]].values.tolist() == [
        [second, viewed]
    ]
    assert logged["liked"].sum() == 1  # the like stayed on the first list only

    result = report(engine.store, engine.experiments.get("live test"))
    by_arm = {row["arm"]: row for row in result["arms"]}
    assert by_arm["popularity"]["users"] == 1 and by_arm["popularity"]["impressions"] == 20
    assert by_arm["mf"]["users"] == 1 and by_arm["mf"]["impressions"] == 10
    assert result["experiment"]["mode"] == "live" and result["srm"]["counts"] == [1, 1]


def test_an_event_with_a_bad_request_id_writes_nothing(engine):
    create(engine, "live", "mf,popularity", mode="live")
    ranking, _ = engine.show("ann")
    before = rows(engine)
    for request_id in ("7", 1.5, True, [1]):
        with pytest.raises(RecsysError, match="request_id"):
            engine.interact("ann", ranking.items[0].item, "like", request_id=request_id)
        assert rows(engine) == before


def test_an_event_is_credited_only_to_its_own_users_list(engine):
    """A request id from someone else's list must not put this person's like on it."""
    experiment = create(engine, "live", "mf,popularity", mode="live")
    ranking, exposure = engine.show("alice")
    item = ranking.items[0].item
    engine.interact(
        "bob", item, "like", algorithm=exposure["algorithm"], request_id=exposure["request_id"]
    )
    logged = impressions(engine, experiment)
    assert not logged.loc[logged["user_id"] == "alice", "liked"].any()


def test_stopping_the_live_experiment_ends_the_logging(engine):
    experiment = create(engine, "live", "mf,popularity", mode="live")
    engine.show("ann")
    stopped = engine.stop_experiment("live")
    assert stopped.status == "stopped" and engine.live_experiment is None
    ranking, exposure = engine.show("ann")
    assert exposure is None and len(ranking.items) == 10
    assert len(impressions(engine, experiment)) == 10
    with pytest.raises(RecsysError, match="already stopped"):
        engine.stop_experiment("live")


@pytest.mark.parametrize("form", ["v2", "mf@v2"])
def test_a_version_arm_serves_that_version(engine, form):
    # mf's second version: the only v2 in the lab, so `v2` alone names it too.
    version = engine.lifecycle.train("mf", "manual", "never")["version"]
    experiment = create(engine, "versions", f"mf,{form}", mode="live")
    arm = experiment.arms[1]
    assert (arm.algorithm, arm.version, arm.number, arm.name) == ("mf", version, 2, form)
    user = user_in(experiment, arm.name)
    ranking, exposure = engine.show(user)
    assert exposure["arm"] == arm.name and exposure["label"] == "mf v2"
    assert engine.serving(user) == {
        "algorithm": "mf",
        "arm": f"v{version}",
        "version": version,
        "label": "v2",
    }
    step = engine.interact(user, ranking.items[0].item, "like", request_id=exposure["request_id"])
    assert event_row(engine, step.event.seq)["served_by"] == f"mf:v{version}:{version}"
    control = user_in(experiment, "mf")
    step = engine.interact(control, 5, "like")
    assert event_row(engine, step.event.seq)["served_by"].startswith("mf:production:")


def test_a_digit_only_name_is_refused_or_found_by_name(engine):
    try:
        create(engine, "2024", "mf,popularity")
    except RecsysError:
        return  # refusing such a name is as good as finding it
    assert engine.experiments.get("2024").name == "2024"


def test_a_live_experiment_does_not_claim_exploration_it_never_does(engine):
    """Live lists are logged with propensity 1; an experiment that says it explores must
    either be refused or really explore, else off-policy estimates from it are wrong."""
    try:
        experiment = create(engine, "live ope", "mf,popularity", mode="live", slate=1, explore=1.0)
    except RecsysError:
        return
    for i in range(30):
        engine.show(f"visitor-{i}", 1)
    lead = Experiments(engine.store).impressions(experiment.experiment_id, position=1)
    assert (lead["propensity"] < 1).all()


# -- simulated mode -----------------------------------------------------------------------


def test_simulated_run_finds_the_truly_better_arm(engine):
    result = simulate(engine, "mf,popularity", sessions=40, seed=1)
    mf, popularity = result["arms"]
    assert (mf["arm"], popularity["arm"]) == ("mf", "popularity")
    assert mf["true_ctr"] > popularity["true_ctr"]  # the ground truth of this world
    assert result["oracle_winner"] == "mf"

    ctr = next(
        c for c in result["comparisons"] if c["arm"] == "popularity" and c["metric"] == "ctr"
    )
    assert ctr["lift"] < 0 and ctr["lift_high"] < 0 and ctr["p_value"] < 0.05
    assert ctr["significant"] and ctr["chance_to_beat"] < 0.05
    assert "control mf is significantly better" in result["verdict"]
    assert "picked the right one" in result["verdict"]

    for arm in result["arms"]:
        measured = arm["ctr"]
        half_width = (measured["high"] - measured["low"]) / 2
        assert measured["low"] <= measured["value"] <= measured["high"]
        assert abs(measured["value"] - arm["true_ctr"]) < 3 * half_width
        assert arm["regret"] > 0
    assert popularity["regret"] > mf["regret"]

    people = len(Experiments(engine.store).simulated_people())
    assert sum(a["users"] for a in result["arms"]) == people
    assert result["srm"]["counts"] == [mf["users"], popularity["users"]]
    assert not result["srm"]["mismatch"]
    interleaved = result["interleaving"]
    assert (interleaved["a"], interleaved["b"]) == ("mf", "popularity")
    assert interleaved["preference"] < 0.5 and interleaved["high"] < 0.5  # mf preferred
    assert result["impressions_per_second"] > 0

    experiment = engine.experiments.get(result["experiment"]["name"])
    assert experiment.mode == "simulated" and experiment.status == "stopped"
    shown = impressions(engine, experiment)
    assert len(shown) == people * 40 * 10  # nobody in this world has seen all but 10 items
    assert shown["request_id"].nunique() == people * 40
    assert shown.groupby("request_id")["position"].agg(list).map(list(range(1, 11)).__eq__).all()
    assert mf["impressions"] + popularity["impressions"] == len(shown)


def test_simulated_run_writes_no_events(engine):
    before = rows(engine)
    simulate(engine, "mf,popularity", users=20, sessions=3, seed=2)
    after = rows(engine)
    assert after["events"] == before["events"]
    assert after["model_versions"] == before["model_versions"]
    assert after["experiments"] == before["experiments"] + 1


def test_the_same_seed_reproduces_the_run_in_a_fresh_lab(db_path, small_world_file, tmp_path):
    other = tmp_path / "other.duckdb"
    shutil.copy(small_world_file, other)
    results, frames = [], []
    for path in (db_path, other):
        engine = Engine.open(path)
        try:
            result = simulate(engine, "mf,popularity", users=60, sessions=10, seed=4, split="40,60")
            experiment = engine.experiments.get(result["experiment"]["name"])
            frames.append(impressions(engine, experiment))
            results.append(result)
        finally:
            engine.close()
    first, second = results
    for key in ("arms", "comparisons", "srm", "interleaving", "verdict", "oracle_winner"):
        assert_same(first[key], second[key])
    assert first["experiment"]["details"]["truth"] == second["experiment"]["details"]["truth"]
    pd.testing.assert_frame_equal(frames[0], frames[1])


@pytest.mark.parametrize("arms", ["mf,mf(factors=4)", "control=mf,popularity", "mf,mf@v1"])
def test_simulate_names_itself_for_every_kind_of_arm(engine, arms):
    result = simulate(engine, arms, users=20, sessions=2, seed=5)
    assert result["experiment"]["name"] in {e.name for e in engine.experiments.list()}


def test_simulating_the_same_arms_and_seed_twice_picks_a_free_name(engine):
    first = simulate(engine, "mf,popularity", users=20, sessions=2, seed=6)
    second = simulate(engine, "mf,popularity", users=20, sessions=2, seed=6)
    assert first["experiment"]["name"] != second["experiment"]["name"]


# -- A/A and off-policy -------------------------------------------------------------------


def test_aa_false_positive_rates(engine):
    before = rows(engine)
    result = aa_rates(
        engine, "mf", runs=200, users=80, sessions=8, slate=5, looks=5, alpha=0.05, seed=0
    )
    rates = result["false_positive_rate"]
    assert result["runs"] == 200 and len(result["p_values"]) == 200
    assert 0.02 <= rates["user"] <= 0.09
    assert rates["peeking"] > rates["user"]
    assert rates["sequential"] <= 0.09
    p_values = np.array(result["p_values"])
    assert 0.35 < np.median(p_values) < 0.65  # about uniform under the null
    assert rows(engine) == before


def test_off_policy_estimate_from_uniform_logs_covers_the_truth(engine):
    result = simulate(engine, "mf,popularity", sessions=300, seed=2, slate=1, explore=1.0)
    experiment = engine.experiments.get(result["experiment"]["name"])
    lead = Experiments(engine.store).impressions(experiment.experiment_id, position=1)
    assert np.allclose(lead["propensity"], 1 / engine.catalog.n)
    estimate = evaluate_experiment(engine, experiment, "mf")
    ips = next(e for e in estimate["estimates"] if e["method"] == "ips")
    assert ips["low"] <= estimate["truth"] <= ips["high"] and ips["covers_truth"]
    assert abs(ips["value"] - estimate["truth"]) < abs(estimate["logged_ctr"] - estimate["truth"])
    assert estimate["impressions"] == len(lead)


@pytest.mark.parametrize(("slate", "explore"), [(1, 0.0), (10, 1.0)])
def test_off_policy_refuses_logs_that_do_not_explore_one_item(engine, slate, explore):
    result = simulate(
        engine, "mf,popularity", users=20, sessions=3, seed=3, slate=slate, explore=explore
    )
    experiment = engine.experiments.get(result["experiment"]["name"])
    with pytest.raises(RecsysError, match="off-policy"):
        evaluate_experiment(engine, experiment, "mf")


# -- bad input ----------------------------------------------------------------------------

BAD = [
    ("one arm", lambda e: create(e, "x", "mf"), "2 to 10 arms"),
    ("split", lambda e: create(e, "x", "mf,popularity", "40,50"), "sums to 90"),
    ("split count", lambda e: create(e, "x", "mf,popularity", "30,30,40"), "3 shares"),
    ("algorithm", lambda e: create(e, "x", "mf,nope"), "unknown algorithm"),
    ("version", lambda e: create(e, "x", "mf,v999"), "unknown version"),
    ("at version", lambda e: create(e, "x", "mf,mf@v999"), "unknown version"),
    ("ambiguous version", lambda e: create(e, "x", "mf,v1"), "v1 is ambiguous: .* write "),
    ("zero users", lambda e: simulate(e, "mf,popularity", users=0), "users must be"),
    ("zero sessions", lambda e: simulate(e, "mf,popularity", sessions=0), "sessions must be"),
    ("duplicate", lambda e: create(e, "taken", "mf,popularity"), "exists"),
    ("second live", lambda e: create(e, "x", "mf,popularity", mode="live"), "stop it first"),
    ("explore high", lambda e: create(e, "x", "mf,popularity", explore=1.5), "explore"),
    ("explore low", lambda e: create(e, "x", "mf,popularity", explore=-0.1), "explore"),
    ("slate", lambda e: create(e, "x", "mf,popularity", slate=0), "slate"),
    ("same arms", lambda e: create(e, "x", "mf,mf"), "same"),
    ("bad name", lambda e: create(e, "x;y", "mf,popularity"), "name the experiment"),
    ("param name", lambda e: create(e, "x", "mf,mf(no_such=1)"), "no_such"),
    ("param value", lambda e: create(e, "x", "mf(factors=4),mf(factors=100000)"), "factors"),
]


@pytest.fixture(scope="module")
def busy_lab(small_world_file, tmp_path_factory):
    """A lab with a simulated experiment named "taken" and a running live one (shared by the
    bad-input cases, each of which must leave it as it found it)."""
    path = tmp_path_factory.mktemp("busy") / "lab.duckdb"
    shutil.copy(small_world_file, path)
    engine = Engine.open(path)
    create(engine, "taken", "mf,popularity")
    create(engine, "running", "mf,popularity", mode="live")
    yield engine
    engine.close()


@pytest.mark.parametrize(("call", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_changes_nothing(busy_lab, call, message):
    engine = busy_lab
    before = rows(engine)
    with pytest.raises(RecsysError, match=message):
        call(engine)
    assert rows(engine) == before
    assert engine.live_experiment.name == "running"


def test_an_arm_with_new_parameters_is_trained_and_stored_as_a_version(engine):
    before = rows(engine)
    experiment = create(engine, "params", "mf,mf(factors=4)")
    arm = experiment.arm("mf(factors=4)")
    assert arm.algorithm == "mf" and arm.version is not None and arm.label == "mf v2"
    version = engine.version_store.version(arm.version)
    assert version["trigger"] == "experiment" and version["algorithm"] == "mf"
    assert version["config"]["factors"] == 4 and version["trained_through_seq"] == engine.last_seq
    assert rows(engine)["model_versions"] == before["model_versions"] + 1
    assert engine.version_store.alias("mf", "production") != arm.version  # nothing was promoted


# -- resets and analytics -----------------------------------------------------------------


def test_reset_of_the_lab_removes_experiments_and_impressions(engine):
    create(engine, "live", "mf,popularity", mode="live")
    engine.show("ann")
    simulate(engine, "mf,popularity", users=20, sessions=2, seed=1)
    assert rows(engine)["impressions"] > 0
    engine.reset_lab()
    assert rows(engine)["experiments"] == 0 and rows(engine)["impressions"] == 0
    assert engine.live_experiment is None and engine.show("ann")[1] is None
    assert engine.experiments.list() == []


def test_forgetting_a_user_drops_their_live_impressions_only(engine):
    live = create(engine, "live", "mf,popularity", mode="live")
    simulated = simulate(engine, "mf,popularity", users=20, sessions=2, seed=1)
    ranking, exposure = engine.show("ann")
    engine.show("bob")
    engine.interact("ann", ranking.items[0].item, "like", request_id=exposure["request_id"])
    engine.show("ann")
    simulated_rows = rows(engine)["impressions"] - len(impressions(engine, live))
    assert engine.reset_user("ann") == 1
    left = impressions(engine, live)
    assert set(left["user_id"]) == {"bob"} and len(left) == 10
    assert rows(engine)["impressions"] - len(left) == simulated_rows
    assert simulated["experiment"]["name"] in {e.name for e in engine.experiments.list()}


def test_forgetting_a_user_who_only_looked_drops_their_impressions(engine):
    live = create(engine, "live", "mf,popularity", mode="live")
    engine.show("carol")
    engine.show("dave")
    engine.reset_user("carol")
    assert set(impressions(engine, live)["user_id"]) == {"dave"}


def test_cumulative_curves_have_intervals_and_growing_user_counts(engine):
    result = simulate(engine, "mf,popularity", users=60, sessions=10, seed=8)
    experiment = engine.experiments.get(result["experiment"]["name"])
    curve = cumulative(engine.store, experiment, "ctr", points=10)
    assert set(curve["arm"]) == {"mf", "popularity"}
    assert (curve["low"] <= curve["value"]).all() and (curve["value"] <= curve["high"]).all()
    for arm, rows_of_arm in curve.groupby("arm", sort=False):
        assert rows_of_arm["users"].is_monotonic_increasing
        assert rows_of_arm["day"].is_monotonic_increasing
        assert rows_of_arm["users"].iloc[-1] == next(
            a["users"] for a in result["arms"] if a["arm"] == arm
        )
    treated = curve[curve["arm"] == "popularity"]
    assert treated["p_value"].notna().all() and curve.loc[curve["arm"] == "mf", "lift"].isna().all()
    with pytest.raises(RecsysError):
        cumulative(engine.store, experiment, "avg_rating")


def test_performance_and_most_active_after_live_interactions(engine):
    experiment = create(engine, "live", "mf,popularity", mode="live")
    done = {}
    for arm, user in ((a, user_in(experiment, a)) for a in ("mf", "popularity")):
        for step in range(3 if arm == "mf" else 2):
            ranking, exposure = engine.show(user)
            engine.interact(
                user,
                ranking.items[0].item,
                "like" if step else "view",
                algorithm=exposure["algorithm"],
                request_id=exposure["request_id"],
            )
        done[arm] = (user, 3 if arm == "mf" else 2)
    table = performance(engine.store, engine.lab_time, 1.0).set_index("algorithm")
    assert set(table.index) == {"mf", "popularity"}
    for arm, (_user, events) in done.items():
        assert table.loc[arm, "events"] == events and table.loc[arm, "users"] == 1
        assert table.loc[arm, "views"] == 1 and table.loc[arm, "likes"] == events - 1
    active = most_active(engine.store, engine.lab_time, 1.0, limit=500).set_index("user_id")
    for user, events in done.values():
        assert active.loc[user, "events"] == events
    for days in (0, -1, float("nan")):
        with pytest.raises(RecsysError, match="days"):
            performance(engine.store, engine.lab_time, days)
        with pytest.raises(RecsysError, match="days"):
            most_active(engine.store, engine.lab_time, days)


# -- what the review found --------------------------------------------------------------------


def test_verdict_names_the_better_arm_even_when_the_control_never_clicked():
    from recsys.experiments.analysis import verdict

    row = {"metric": "ctr", "arm": "B", "significant": True, "p_value": 1e-9, "lift": None,
           "control": 0.0, "treatment": 0.3}  # fmt: skip
    result = {"experiment": {"control": "A"}, "comparisons": [row], "srm": None,
              "sequential": False, "oracle_winner": "B"}  # fmt: skip
    text = verdict(result)
    assert text.startswith("B beats the control A") and "picked the right one" in text


def test_the_same_seed_reproduces_the_run_in_the_same_lab(engine):
    first = simulate(engine, "mf,popularity", users=60, sessions=4, seed=3)
    second = simulate(engine, "mf,popularity", users=60, sessions=4, seed=3)
    assert first["experiment"]["name"] != second["experiment"]["name"]
    assert_same(first["arms"], second["arms"])


def test_the_canary_does_not_serve_users_of_a_live_algorithm_arm(engine):
    engine.lifecycle.train("mf", "manual", "never")  # a candidate
    engine.lifecycle.set_policy({"canary_share": 100.0})
    create(engine, "no canary", "mf,popularity", mode="live")
    user = user_in(engine.live_experiment, "mf")
    assert engine.serving(user, "mf")["arm"] == "production"
    step = engine.interact(user, 3, "like", algorithm="mf")
    assert event_row(engine, step.event.seq)["served_by"].startswith("mf:production:")


def test_time_travel_rebuilds_a_list_served_by_a_version_arm(engine):
    from recsys.lifecycle.timetravel import recommend_as_of

    version = engine.version_store.alias("mf", "production")
    create(engine, "versions", "A=mf@v1,B=popularity", mode="live")
    user = user_in(engine.live_experiment, "A")
    for item in (5, 9):
        step = engine.interact(user, item, "like", algorithm="mf")
    assert event_row(engine, step.event.seq)["served_by"] == f"mf:v{version}:{version}"
    again = recommend_as_of(engine, user, step.event.seq, 10, "mf")
    assert again.item_ids() == step.after.item_ids()
    assert [r.score for r in again.items] == pytest.approx([r.score for r in step.after.items])


def test_a_version_a_live_experiment_serves_cannot_be_deleted_or_forgotten_away(engine):
    engine.interact("early", 4, "like")
    arm = create(engine, "params", "mf,mf(factors=4)", mode="live").arms[1]
    before = rows(engine)
    with pytest.raises(RecsysError, match="live experiment 'params'"):
        engine.lifecycle.delete(arm.version)
    with pytest.raises(RecsysError, match="Stop the experiment first"):
        engine.reset_user("early")
    assert rows(engine) == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"users": 1}, "users must be"), ({"seed": -1}, "seed must be"),
     ({"slate": 0}, "slate must be"), ({"slate": 100}, "slate must be")],
)  # fmt: skip
def test_aa_bad_input_is_one_clear_error(engine, changes, message):
    with pytest.raises(RecsysError, match=message):
        aa_rates(engine, "mf", **({"runs": 2} | changes))


def test_with_always_valid_intervals_significance_follows_them(engine):
    simulate(engine, "mf,popularity", users=80, sessions=6, seed=2, name="seq")
    experiment = engine.experiments.get("seq")
    result = report(engine.store, experiment, sequential=True)
    for row in result["comparisons"]:
        if row["sequential_low"] is None:
            continue
        excludes = row["sequential_low"] > 0 or row["sequential_high"] < 0
        assert row["significant"] == excludes
        assert (
            row["sequential_low"] <= row["lift_low"] and row["lift_high"] <= row["sequential_high"]
        )


def test_average_rating_takes_the_user_as_unit(engine):
    simulate(engine, "mf,popularity", users=80, sessions=6, seed=2, name="ratings")
    experiment = engine.experiments.get("ratings")
    by_user = {c["metric"]: c for c in report(engine.store, experiment)["comparisons"]}
    by_impression = {
        c["metric"]: c for c in report(engine.store, experiment, unit="impression")["comparisons"]
    }
    assert by_user["avg_rating"]["test"] == "delta-method z-test"
    assert by_impression["avg_rating"]["test"] == "Welch t-test"
    assert 0.0 <= by_user["avg_rating"]["chance_to_beat"] <= 1.0


def test_truth_under_exploration_is_the_policy_as_served(engine):
    result = simulate(engine, "mf,popularity", users=80, sessions=30, seed=4, slate=1, explore=1.0)
    truths = [a["true_ctr"] for a in result["arms"]]
    # Both arms show uniformly random items: their true rates are those of random items.
    assert truths[0] == pytest.approx(truths[1], abs=0.02)
    measured = [a["ctr"]["value"] for a in result["arms"]]
    assert measured == pytest.approx(truths, abs=0.05)


def test_off_policy_reports_its_effective_sample_size(engine):
    simulate(engine, "popularity,item_knn", sessions=40, seed=5, slate=1, explore=1.0, name="ope")
    result = evaluate_experiment(engine, engine.experiments.get("ope"), "mf")
    logged = result["impressions"]
    assert 0 < result["effective_sample_size"] < logged / 10  # random logs rarely match
