"""Imported datasets as labs, and scenarios: what a person who brings data or a setup relies on.

The data comes from `tests/datafiles.py` (every user loves one of four genres), so an import has
planted answers to find: each user's recommendations and fitted persona should follow their
genre. Scenarios use small worlds; one test loads a built-in scenario exactly as shipped.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from recsys import simulation
from recsys.algorithms import REGISTRY
from recsys.choice import true_utilities
from recsys.data import lab as lab_data
from recsys.data import scenarios
from recsys.data.importer import read_dataset, read_path
from recsys.data.lab import keep, load_dataset
from recsys.data.scenario_library import BUILTIN
from recsys.data.semisynthetic import dataset_world
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.experiments import population
from recsys.experiments import simulation as ab_simulation
from recsys.experiments.analysis import report as ab_report
from recsys.experiments.assignment import Experiments
from recsys.world import PACKS
from tests.datafiles import GENRES, write_lab, write_movielens, write_movielens_100k

WRITERS = {"lab": write_lab, "movielens": write_movielens, "movielens-100k": write_movielens_100k}
SMALL = {"n_items": 300, "n_users": 120, "sessions_per_user": 20}
TINY = {"n_items": 50, "n_users": 10, "sessions_per_user": 2}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """Each format's files, 60 items and 40 users (read only: tests that edit copy them)."""
    root = tmp_path_factory.mktemp("datasets")
    return {fmt: write(root / fmt) for fmt, write in WRITERS.items()}


def import_into(engine: Engine, fmt: str, folder: Path):
    report = read_path(fmt, folder)
    assert report.ok, report.text()
    load_dataset(engine, report, path=folder)
    return report


def fresh_lab(path: Path) -> Engine:
    """A new database holding a tiny generated world, for a scenario to replace."""
    return Engine.create(path, "movies", 1, **TINY)


def loved_genre(user: str) -> str:
    """The genre tests/datafiles.py planted for a user ('user07' in the lab format, '7' in
    MovieLens: the 7th user, index 6)."""
    return GENRES[(int(user.removeprefix("user")) - 1) % len(GENRES)]


def lab_state(engine: Engine) -> dict:
    """Everything a failed import or load must leave as it was: row counts, meta, the log's
    end, versions and aliases. The learning log's rows are buffered in memory, so its count
    is checked on its own where it matters."""
    store = engine.store
    tables = [t for (t,) in store.db.query("SELECT table_name FROM duckdb_tables() ORDER BY ALL")]
    state = {t: store.db.query(f'SELECT count(*) FROM "{t}"')[0][0] for t in tables}
    del state["learning_log"]
    state["meta"] = store.meta()
    state["max_seq"] = store.max_seq()
    state["versions"] = store.db.query(
        "SELECT version_id, algorithm, trigger FROM model_versions ORDER BY ALL"
    )
    state["aliases"] = store.db.query("SELECT * FROM aliases ORDER BY ALL")
    return state


def top(engine: Engine, users, algorithms=("mf", "item_knn", "content", "popularity")) -> dict:
    return {(u, a): engine.recommend(u, 10, a).item_ids() for u in users for a in algorithms}


def rows(frame, external: np.ndarray, epoch: float) -> Counter:
    """(user, external item id, kind, value, Unix ts) of an EventFrame, as a multiset."""
    return Counter(
        (str(u), str(external[i]), str(k), None if np.isnan(v) else float(v), float(t) + epoch)
        for u, i, k, v, t in zip(
            frame.user, frame.item, frame.kind, frame.value, frame.ts, strict=True
        )
    )


# -- importing ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", WRITERS)
def test_each_format_replaces_the_lab_with_its_data(engine, folders, fmt):
    engine.interact("ann", 5, "like")
    ab_simulation.simulate(engine, "mf,popularity", users=20, sessions=2, seed=0)
    engine.retrain("trending")
    old_versions = set(engine.version_store.versions()["version_id"])

    report = read_path(fmt, folders[fmt])
    info = load_dataset(engine, report, path=folders[fmt])
    data = report.dataset

    assert engine.catalog.n == info["items"] == len(data.items) == 60
    items = engine.store.items()
    assert list(items["external_id"]) == list(data.items["external_id"])
    assert list(items["title"]) == list(data.items["title"])

    users = engine.store.users()
    assert set(users["user_id"]) == set(data.interactions["user_id"].astype(str))
    assert (users["kind"] == "imported").all() and len(users) == info["users"] == 40
    assert not {"ann", "alice"} & set(users["user_id"])

    # The log and the holdout together are the file's interactions, each as it was.
    log, holdout = engine.store.events(), engine.store.holdout()
    assert len(log) + len(holdout) == len(data.interactions) == report.summary()["interactions"]
    assert list(log.seq) == list(range(1, len(log) + 1)) and len(holdout) > 0
    epoch = datetime.fromisoformat(engine.meta["epoch"]).replace(tzinfo=UTC).timestamp()
    external = items["external_id"].to_numpy()
    given = Counter(
        (str(u), str(e), str(k), None if np.isnan(v) else float(v), float(t))
        for u, e, k, v, t in data.interactions[
            ["user_id", "external_id", "kind", "value", "ts"]
        ].itertuples(index=False)
    )
    assert rows(log, external, epoch) + rows(holdout, external, epoch) == given
    assert engine.store.db.query("SELECT DISTINCT source FROM events") == [("history",)]

    meta = engine.meta
    assert (meta["world"], meta["dataset_format"]) == ("dataset", fmt)
    assert meta["history_through_seq"] == str(len(log)) == str(engine.last_seq)
    assert meta["label"] == folders[fmt].name
    assert json.loads(meta["dataset_files"]) == data.files

    versions = engine.version_store.versions()
    assert sorted(versions["algorithm"]) == sorted(REGISTRY)
    assert (versions["trigger"] == "seed").all()
    assert (versions["trained_through_seq"] == engine.last_seq).all()
    assert not old_versions & set(versions["version_id"])
    assert Experiments(engine.store).list() == []
    assert engine.store.db.query("SELECT count(*) FROM impressions")[0][0] == 0


@pytest.mark.parametrize("fmt", WRITERS)
def test_recommendations_follow_each_imported_users_genre(engine, tmp_path, fmt):
    # 120 items: 30 per genre, so a user who met 15 of theirs still has some left to find.
    import_into(engine, fmt, WRITERS[fmt](tmp_path / fmt, n_items=120, n_users=80))

    def share_dominated(algorithm: str) -> float:
        dominated = [
            sum(loved_genre(u) in item.genres for item in engine.recommend(u, 10, algorithm).items)
            >= 6
            for u in engine.users()
        ]
        return float(np.mean(dominated))

    assert share_dominated("mf") >= 0.9
    assert share_dominated("popularity") <= 0.5  # the check tells a personal list from one
    leaning = [engine.genre_affinity(u, "mf").index[0] == loved_genre(u) for u in engine.users()]
    assert np.mean(leaning) >= 0.9


def test_fitted_truth_gives_personas_named_after_the_genres(engine, folders):
    import_into(engine, "lab", folders["lab"])
    personas = engine.personas
    assert 2 <= len(personas) <= 6
    genre = "|".join(g.lower() for g in GENRES)
    assert all(re.fullmatch(rf"({genre})-fan(-\d+)?", name) for name in personas["name"])
    assert personas["label"].str.endswith(" fan").all() and (personas["description"] != "").all()

    features, quality = engine.store.ground_truth()
    dimensions = json.loads(engine.meta["dimensions"])
    assert len(dimensions) == features.shape[1] + 1 and dimensions[-1] == "quality"
    assert all(len(taste) == len(dimensions) for taste in personas["taste"])

    # Planted answer: the clusters of fitted tastes are the genre groups of the data.
    users = engine.store.users()
    assert set(users["persona"]) == set(personas["name"])
    agree = [
        p.split("-")[0] == loved_genre(u).lower() for u, p in users[["user_id", "persona"]].values
    ]
    assert np.mean(agree) >= 0.9

    # A persona's fitted truth prefers its genre's items to the rest.
    catalog = engine.catalog
    for name, taste in personas[["name", "taste"]].values:
        utility = true_utilities(features, quality, np.asarray(taste))[0]
        liked = name.split("-")[0]
        mine = np.array([bool(g) and g[0].lower() == liked for g in catalog.genres])
        assert utility[mine].mean() > utility[~mine].mean()


def test_simulated_ab_test_and_autopilot_run_on_imported_people(engine, folders):
    import_into(engine, "lab", folders["lab"])
    imported = set(engine.users())
    people = Experiments(engine.store).simulated_people()
    assert set(people["user_id"]) == imported and people["taste"].notna().all()
    events = engine.last_seq

    result = ab_simulation.simulate(engine, "mf,popularity", users=30, sessions=5, seed=1)
    assert sum(arm["users"] for arm in result["arms"]) == 30
    assert all(arm["impressions"] > 0 for arm in result["arms"])
    assert all(arm["true_ctr"] is not None and arm["regret"] is not None for arm in result["arms"])
    assert result["oracle_winner"] in {"mf", "popularity"}
    assert "Ground truth" in result["verdict"]
    assert engine.last_seq == events  # a simulated run is a what-if: no events
    # past the 40 imported people: drawn from a Gaussian per persona over their fitted tastes
    more = ab_simulation.simulate(engine, "mf,popularity", users=300, sessions=2, seed=1)
    assert more["drawn_people"] == 260 and set(engine.users()) == imported
    drawn = population.sample(engine.store, 300, np.random.default_rng(0), seed=1)
    assert set(drawn.personas) <= set(people["persona"]) and drawn.tastes.shape[0] == 300
    assert (drawn.tastes[:, -1] == 1.0).all()  # the quality weight, as semisynthetic's tastes

    persona = engine.personas["name"].iloc[0]
    visits = simulation.autopilot(engine, persona, 8, seed=2)
    assert len(visits) == 8
    assert engine.users()[persona] == "persona"
    acted = engine.store.events(after_seq=events)
    assert len(acted) >= 8 and set(acted.user) == {persona}


# -- all or nothing -----------------------------------------------------------------------


def test_a_malformed_dataset_changes_nothing(engine, folders, tmp_path):
    files = {p.name: p.read_bytes() for p in folders["lab"].iterdir()}
    files["interactions.csv"] += b"ann,999,like,,1600000000\nann,1,poke,,1600000000\n"
    report = read_dataset("lab", files)
    assert not report.ok and report.n_problems == 2
    before, lists = lab_state(engine), top(engine, ["alice", "bob"])

    with pytest.raises(RecsysError, match=r"2 problem.*nothing was imported.*line 816"):
        load_dataset(engine, report, path=tmp_path)
    with pytest.raises(RecsysError, match="nothing was imported"):
        load_dataset(engine, report, files=files)  # rejected before the files are kept
    assert lab_state(engine) == before
    assert top(engine, ["alice", "bob"]) == lists


def duplicate_item(world):
    world.items.loc[1, "item_id"] = 0


def duplicate_user(world):
    world.users = pd.concat([world.users, world.users.iloc[[0]]], ignore_index=True)


@pytest.mark.parametrize(
    ("break_it", "error", "match"),
    [
        (duplicate_item, ValueError, "dense"),  # caught before anything is trained or written
        (duplicate_user, duckdb.ConstraintException, "duplicate key"),  # inside the transaction
    ],
    ids=["duplicate item", "duplicate user"],
)
def test_a_world_that_fails_leaves_the_previous_lab_intact(
    engine, db_path, folders, break_it, error, match
):
    learned = [engine.interact("alice", item, "like").event.seq for item in (3, 4)]
    before, lists = lab_state(engine), top(engine, ["alice", "bob", "sim-0001"])
    world = dataset_world(read_path("lab", folders["lab"]).dataset)
    break_it(world)

    with pytest.raises(error, match=match):
        engine.load_world(world)
    assert lab_state(engine) == before
    assert top(engine, ["alice", "bob", "sim-0001"]) == lists
    engine.close()

    again = Engine.open(db_path)
    try:
        assert lab_state(again) == before
        assert top(again, ["alice", "bob", "sim-0001"]) == lists
        # What the models learned from the last events is kept too, not only the events.
        logged = again.store.db.query("SELECT DISTINCT seq FROM learning_log ORDER BY seq")
        assert {seq for (seq,) in logged} >= set(learned)
        assert again.interact("alice", 5, "like").event.seq == before["max_seq"] + 1
    finally:
        again.close()


# -- living in an imported lab ------------------------------------------------------------


def test_live_events_follow_the_history_and_reset_returns_to_it(engine, db_path, folders):
    import_into(engine, "movielens", folders["movielens"])
    history = engine.last_seq
    user = "7"
    seen = engine.history(user, 1000)
    imported_lists = top(engine, ["1", "7", "22"])

    item = engine.recommend(user, 1, "mf").item_ids()[0]
    step = engine.interact(user, item, "rating", 5.0)
    assert step.event.seq == history + 1
    now = engine.history(user, 1000)
    assert (now["seq"].iloc[0], now["source"].iloc[0], now["item_id"].iloc[0]) == (
        history + 1,
        "live",
        item,
    )
    pd.testing.assert_frame_equal(now.iloc[1:].reset_index(drop=True), seen)
    engine.interact("zoe", 2, "like")
    assert engine.users()["zoe"] == "visitor" and engine.last_seq == history + 2

    engine.reset_lab()
    assert engine.last_seq == history and "zoe" not in engine.users()
    pd.testing.assert_frame_equal(engine.history(user, 1000), seen)
    assert top(engine, ["1", "7", "22"]) == imported_lists

    engine.interact(user, item, "like")
    lists = top(engine, ["1", "7", "22"])
    meta = engine.store.meta()
    engine.close()
    again = Engine.open(db_path)
    try:
        assert again.store.meta() == meta and again.last_seq == history + 1
        assert top(again, ["1", "7", "22"]) == lists
    finally:
        again.close()


def test_uploaded_files_are_kept_once_by_content(engine, folders, tmp_path, monkeypatch):
    files = {p.name: p.read_bytes() for p in folders["lab"].iterdir()}
    root = tmp_path / "kept"
    first = keep(files, "My Data!", root)
    assert first.parent == root and re.fullmatch(r"my-data-[0-9a-f]{12}", first.name)
    assert {p.name: p.read_bytes() for p in first.iterdir()} == files
    stamps = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in first.iterdir()}

    again = keep(dict(files), "My Data!", root)
    assert again == first
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in first.iterdir()} == stamps

    other = dict(files, **{"items.csv": files["items.csv"] + b"61,Extra,Drama,,,\n"})
    assert keep(other, "My Data!", root) != first
    assert not list(root.rglob("*.partial"))

    # An upload is kept before it is imported, and the lab remembers where.
    monkeypatch.setattr(lab_data, "DATASETS_DIR", root)
    info = load_dataset(engine, read_dataset("lab", files, name="My Data!"), files=files)
    assert Path(info["path"]) == first
    assert engine.meta["dataset_path"] == str(first.resolve())


# -- scenarios ----------------------------------------------------------------------------


def small(name: str = "small", **fields) -> dict:
    return {"name": name, "world": {"pack": "movies", "seed": 3, "sizes": SMALL}} | fields


def experiment(**fields) -> dict:
    return {"name": "x", "arms": ["popularity", "mf"], "users": 40, "sessions": 3} | fields


BAD_SCENARIOS = [
    ("unknown field", small(colour="red"), "unknown scenario field.*colour"),
    ("not an object", ["small"], "JSON object"),
    ("bad name", small("Bad Name"), "scenario name"),
    ("no name", {"world": {"pack": "movies"}}, "scenario name"),
    ("world and dataset", small(dataset={"format": "lab", "path": "x"}), "exactly one"),
    ("neither", {"name": "empty"}, "exactly one"),
    ("format", small(format=2), "format"),
    ("unknown pack", {"name": "p", "world": {"pack": "cars"}}, "world pack"),
    (
        "size out of bounds",
        {"name": "p", "world": {"pack": "movies", "sizes": {"n_items": 10}}},
        "n_items must be .*from 50 to 20000",
    ),
    (
        "fractional size",
        {"name": "p", "world": {"pack": "movies", "sizes": {"n_users": 120.5}}},
        "n_users must be a whole number",
    ),
    (
        "unknown size",
        {"name": "p", "world": {"pack": "movies", "sizes": {"n_planets": 3}}},
        "unknown world size",
    ),
    ("bad seed", {"name": "p", "world": {"pack": "movies", "seed": -1}}, "world seed"),
    ("weights", small(weights="heavy"), "unknown weights"),
    ("unknown algorithm", small(algorithms={"nope": {}}), "nope"),
    ("config out of range", small(algorithms={"mf": {"factors": 100_000}}), "factors"),
    ("unknown parameter", small(algorithms={"mf": {"colour": 1}}), "colour"),
    ("bad policy value", small(policy={"canary_share": 101}), "canary_share"),
    ("bad policy choice", small(policy={"drift_detector": "cusum"}), "drift_detector"),
    ("one arm", small(experiments=[experiment(arms=["mf"])]), "at least two arms"),
    ("unknown arm", small(experiments=[experiment(arms=["mf", "nope"])]), "nope"),
    ("arm parameter", small(experiments=[experiment(arms=["mf", "mf(factors=0)"])]), "factors"),
    ("same arms", small(experiments=[experiment(arms=["mf", "mf"])]), "two arms are the same"),
    ("a version arm", small(experiments=[experiment(arms=["v3", "mf"])]), "stored version"),
    ("unnamed", small(experiments=[experiment(name=" ")]), "needs a name"),
    ("digits name", small(experiments=[experiment(name="123")]), "at least one letter"),
    ("bad name chars", small(experiments=[experiment(name="a/b")]), "experiment name"),
    (
        "same names",
        small(experiments=[experiment(), experiment(arms=["mf", "content"])]),
        "same name",
    ),
    ("split length", small(experiments=[experiment(split=[50, 30, 20])]), "3 shares for 2"),
    ("split sum", small(experiments=[experiment(split=[50, 30])]), "sums to 80"),
    ("slate", small(experiments=[experiment(slate=60)]), "slate"),
    ("explore range", small(experiments=[experiment(explore=2)]), "explore"),
    ("explore text", small(experiments=[experiment(explore="abc")]), "explore"),
    ("live explore", small(experiments=[experiment(mode="live", explore=0.2)]), "explore"),
    (
        "two live",
        small(experiments=[experiment(mode="live"), experiment(name="y", mode="live")]),
        "one live",
    ),
    ("mode", small(experiments=[experiment(mode="dream")]), "mode"),
    ("users", small(experiments=[experiment(users=0)]), "experiment users"),
    ("unknown persona", small(run=[{"autopilot": {"persona": "nobody"}}]), "persona.*nobody"),
    ("autopilot steps", small(run=[{"autopilot": {"persona": "sci-fi-fan", "steps": 0}}]), "steps"),
    (
        "autopilot user",
        small(run=[{"autopilot": {"persona": "sci-fi-fan", "user": "two\nlines"}}]),
        "invalid user id",
    ),
    ("drift personas", small(run=[{"drift": {"personas": ["nobody"]}}]), "drift personas"),
    ("run kind", small(run=[{"dance": {}}]), "run step"),
    ("bad open page", small(open={"page": "casino"}), "open page"),
    ("bad open user", small(open={"user": "x" * 1000}), "user"),
    ("dataset format", {"name": "d", "dataset": {"format": "excel", "path": "x"}}, "format"),
    ("dataset path", {"name": "d", "dataset": {"format": "lab"}}, "path"),
    (
        "dataset mapping",
        {"name": "d", "dataset": {"format": "lab", "path": "x", "mapping": {"items.csv": "x"}}},
        "mapping of items.csv",
    ),
    (
        "mapping column",
        {"name": "d", "dataset": {"format": "lab", "path": "x", "mapping": {"a": {"b": 5}}}},
        "mapping of a",
    ),
]


@pytest.mark.parametrize(
    ("data", "match"), [c[1:] for c in BAD_SCENARIOS], ids=[c[0] for c in BAD_SCENARIOS]
)
def test_validate_rejects_each_problem_with_one_error(data, match):
    with pytest.raises(RecsysError, match=match):
        scenarios.validate(copy.deepcopy(data))


def test_a_rejected_load_changes_nothing(engine, tmp_path):
    before, lists = lab_state(engine), top(engine, ["alice", "sim-0001"])
    rejected = [
        small(experiments=[experiment(slate=60)]),  # create() would refuse it after the swap
        small(experiments=[experiment(users=500)]),  # more people than the world has
        small(algorithms={"mf": {"factors": 100_000}}),
        {"name": "gone", "dataset": {"format": "lab", "path": str(tmp_path / "nowhere")}},
    ]
    for setup in rejected:
        with pytest.raises(RecsysError):
            scenarios.load(engine, setup)
        assert lab_state(engine) == before
    assert top(engine, ["alice", "sim-0001"]) == lists


def test_save_get_catalogue_and_delete(engine, folders):
    setup = scenarios.validate(small("mine", title="Mine", description="what it shows"))
    scenarios.save(engine.store, setup)
    assert scenarios.get(engine.store, "mine") == setup
    listed = scenarios.catalogue(engine.store)
    assert [r["name"] for r in listed] == [*BUILTIN, "mine"]
    assert listed[-1] == {
        "name": "mine",
        "title": "Mine",
        "description": "what it shows",
        "builtin": False,
    }
    assert all(r["builtin"] for r in listed[:-1])

    with pytest.raises(RecsysError, match="exists"):
        scenarios.save(engine.store, setup)
    scenarios.save(engine.store, setup | {"description": "new"}, overwrite=True)
    assert scenarios.get(engine.store, "mine")["description"] == "new"
    for name in BUILTIN:
        with pytest.raises(RecsysError, match="built-in"):
            scenarios.save(engine.store, setup | {"name": name}, overwrite=True)
        with pytest.raises(RecsysError, match="built in"):
            scenarios.delete(engine.store, name)

    # Saved scenarios belong to the database, not to the world: replacing the lab keeps them.
    import_into(engine, "lab", folders["lab"])
    assert scenarios.get(engine.store, "mine")["description"] == "new"
    scenarios.delete(engine.store, "mine")
    with pytest.raises(RecsysError, match="unknown scenario 'mine'; choose one of cold-start"):
        scenarios.get(engine.store, "mine")
    with pytest.raises(RecsysError, match="unknown scenario"):
        scenarios.delete(engine.store, "mine")
    assert [r["name"] for r in scenarios.catalogue(engine.store)] == list(BUILTIN)


def test_current_setup_round_trips_and_reproduces_in_another_database(engine, tmp_path):
    engine.configure("mf", {"factors": 12, "epochs": 15}, promote="always")
    engine.lifecycle.set_policy({"retrain_ratings": 0, "drift_detector": "adwin"})
    ab_simulation.simulate(engine, "mf,popularity", name="mf or pop", users=40, sessions=5, seed=4)
    setup = scenarios.current(engine, "mine", "Mine", "a tuned mf")
    assert setup["algorithms"] == {"mf": {"factors": 12, "epochs": 15}}
    assert setup["policy"] == {"retrain_ratings": 0, "drift_detector": "adwin"}
    assert [e["name"] for e in setup["experiments"]] == ["mf or pop"]
    text = scenarios.dumps(setup)
    assert scenarios.parse(text) == setup

    users = ["alice", "bob", "sim-0006", "sim-0037", "sim-0061"]
    lists = top(engine, users)
    other = fresh_lab(tmp_path / "other.duckdb")
    try:
        done = scenarios.load(other, scenarios.parse(text))
        assert done["experiments"][0]["name"] == "mf or pop"
        assert other.meta["scenario"] == "mine"
        assert top(other, users) == lists
        assert other.model("mf").config == engine.model("mf").config
        assert other.lifecycle.policy == engine.lifecycle.policy
        # A new world numbers its versions afresh: each algorithm's seed is its v1 (not v24).
        assert other.version_store.versions()["version"].tolist() == [1] * len(REGISTRY)

        def numbers(lab: Engine) -> list:
            run = ab_report(lab.store, Experiments(lab.store).list()[0])
            arms = [(a["arm"], a["users"], a["impressions"], a["true_ctr"], a["ctr"]["value"])
                    for a in run["arms"]]  # fmt: skip
            return [arms, run["oracle_winner"], run["verdict"]]

        assert numbers(other) == numbers(engine)
        assert scenarios.current(other, "mine", "Mine", "a tuned mf") == setup
    finally:
        other.close()


def test_dataset_scenario_reloads_from_its_files_and_refuses_changed_ones(engine, tmp_path):
    folder = write_movielens(tmp_path / "ml")
    import_into(engine, "movielens", folder)
    setup = scenarios.current(engine, "ml-setup")
    assert setup["dataset"]["path"] == str(folder.resolve())
    assert set(setup["dataset"]["files"]) == {"movies.csv", "ratings.csv", "tags.csv"}
    users = ["1", "2", "17"]
    lists = top(engine, users)

    other = fresh_lab(tmp_path / "other.duckdb")
    try:
        scenarios.load(other, json.loads(scenarios.dumps(setup)))
        assert (other.meta["world"], other.meta["scenario"]) == ("dataset", "ml-setup")
        assert top(other, users) == lists
        loaded = lab_state(other)

        ratings = folder / "ratings.csv"
        original = ratings.read_bytes()
        ratings.write_bytes(original.replace(b",4.0,", b",4.5,", 1))  # still a valid file
        with pytest.raises(RecsysError, match=r"differ .*\(ratings\.csv\).*would not reproduce"):
            scenarios.load(other, setup)
        ratings.write_bytes(original)

        tags = folder / "tags.csv"
        tags.rename(tmp_path / "tags.csv")  # an optional file gone changes the data as well
        with pytest.raises(RecsysError, match=r"\(tags\.csv\)"):
            scenarios.load(other, setup)
        (tmp_path / "tags.csv").rename(tags)

        moved = copy.deepcopy(setup)
        moved["dataset"]["path"] = str(tmp_path / "nowhere")
        with pytest.raises(RecsysError, match="nowhere does not exist"):
            scenarios.load(other, moved)
        assert lab_state(other) == loaded
        assert top(other, users) == lists
    finally:
        other.close()


def test_every_builtin_validates_and_says_what_to_look_at(engine):
    assert len(BUILTIN) == 5
    for name in BUILTIN:
        setup = scenarios.get(engine.store, name)
        assert setup["name"] == name and setup["title"] and setup["world"]["pack"] in PACKS
        assert len(setup["description"]) > 200 and "\n" not in setup["description"]
        assert setup["open"]["page"] in scenarios.PAGES


def shrunk(name: str) -> dict:
    """A built-in with a small world and short runs (the same kinds of steps)."""
    setup = copy.deepcopy(BUILTIN[name]) | {"name": name}
    setup["world"] = setup["world"] | {"sizes": SMALL}
    for spec in setup.get("experiments", []):
        spec.update(users=60, sessions=5)
    for run in setup.get("run", []):
        if "autopilot" in run:
            run["autopilot"]["steps"] = 10
        else:
            run["drift"].update(before=15, after=15)
    return setup


@pytest.mark.parametrize("name", BUILTIN)
def test_each_builtin_loads_with_small_sizes(engine, name):
    setup = shrunk(name)
    done = scenarios.load(engine, setup)
    assert engine.meta["scenario"] == name
    assert json.loads(engine.meta["scenario_setup"]) == scenarios.validate(setup)
    assert engine.catalog.n == SMALL["n_items"] and done["lab"]["items"] == SMALL["n_items"]
    assert done["open"] == scenarios.validate(setup)["open"]
    made = Experiments(engine.store).list()
    assert [e.name for e in made] == [e["name"] for e in setup.get("experiments", [])]
    assert all(e.details["users"] == 60 for e in made)
    assert len(done["runs"]) == len(setup.get("run", []))
    for run, ran in zip(setup.get("run", []), done["runs"], strict=True):
        if "autopilot" in run:
            assert ran == {"autopilot": run["autopilot"]["persona"], "visits": 10}
            # The run's user (alice in the filter bubble) acts, with the persona's taste.
            who = run["autopilot"].get("user", run["autopilot"]["persona"])
            acted = engine.store.events(after_seq=int(engine.meta["history_through_seq"]))
            assert set(acted.user) == {who}
        else:
            assert len(ran["drift"]) == 2  # the first two personas, each shifted
    if setup.get("policy"):
        assert engine.lifecycle.policy.drift_detector == setup["policy"]["drift_detector"]
    if name == "cold-start":  # nothing ran: the lab is the generated history
        assert engine.last_seq == int(engine.meta["history_through_seq"])


def test_a_builtin_loads_as_shipped(engine):
    done = scenarios.load(engine, scenarios.get(engine.store, "cold-start"))
    assert engine.meta["scenario"] == "cold-start" and engine.meta["seed"] == "42"
    assert engine.catalog.n == done["lab"]["items"] == 1600  # the default movies world
    assert done["open"] == {"page": "simulator", "algorithm": "hybrid"}
    assert len(engine.recommend("alice", 10, "hybrid").items) == 10
