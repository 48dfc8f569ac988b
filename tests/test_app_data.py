"""The Data page, scenario deep links and the whole app on an imported dataset, through AppTest.

AppTest cannot drive `st.file_uploader`: uploads are checked in `tests/test_browser.py`.
"""

from __future__ import annotations

import copy
import json

import pytest
from streamlit.testing.v1 import AppTest

from recsys.data import scenarios
from recsys.data.importer import read_path
from recsys.data.lab import load_dataset
from recsys.data.scenario_library import BUILTIN, CLAIMS
from recsys.engine import Engine
from recsys.ui.state import engine_for
from recsys.ui.widgets import md
from tests import datafiles
from tests.apptest import lab_app_test
from tests.conftest import ROOT

# A scenario that loads in a few seconds: a small world and a small simulated A/B test.
TINY = {
    "name": "tiny-ab",
    "title": "Tiny A/B",
    "description": "A small world with a small simulated test.",
    "world": {
        "pack": "movies",
        "seed": 5,
        "sizes": {"n_items": 300, "n_users": 120, "sessions_per_user": 20},
    },
    "experiments": [
        {"name": "knn vs pop", "arms": ["popularity", "item_knn"], "users": 30, "sessions": 5}
    ],
    "open": {"page": "experiments", "user": "sci-fi-fan", "algorithm": "item_knn"},
}


@pytest.fixture
def saved_tiny(db_path) -> dict:
    """TINY saved in the test's lab (not loaded); what the lab held before."""
    engine = Engine.open(db_path)
    try:
        scenarios.save(engine.store, TINY)
        return {"seed": engine.meta["seed"], "last_seq": engine.last_seq}
    finally:
        engine.close()


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def shown(elements) -> list[str]:
    """What the elements show: their Markdown with md()'s escapes and joins read as a page does."""
    return [e.value.replace("\\", "").replace("\u2060", "") for e in elements]


def open_data_tab(app: AppTest, tab: str) -> AppTest:
    app.switch_page("views/data.py")
    app.session_state["data_tab"] = tab
    app.run()
    assert not app.exception
    return app


def assert_clean(app: AppTest, where: str) -> None:
    assert not app.exception, (where, [e.message for e in app.exception])
    assert not app.error, (where, texts(app.error))


def assert_tiny_is_open(app: AppTest, engine: Engine) -> None:
    """The app shows TINY's page with its user and algorithm chosen in the sidebar."""
    assert_clean(app, "after the scenario")
    assert app.title[0].value == "A/B tests"
    assert app.selectbox(key="user").value == "sci-fi-fan"
    assert app.selectbox(key="algorithm").value == "item_knn"
    assert engine.meta["scenario"] == "tiny-ab"


# -- the page -----------------------------------------------------------------------------


def test_data_page_shows_its_tabs_and_the_builtin_scenarios(lab_app):
    lab_app.run()
    app = open_data_tab(lab_app, "Scenarios")
    assert app.title[0].value == "Data"
    assert [t.label for t in app.tabs] == ["Scenarios", "Import data", "Export"]
    assert "300 items" in app.caption[0].value and "a generated world, seed 7" in (
        app.caption[0].value
    )
    markdown = texts(app.markdown)
    for name, builtin in BUILTIN.items():
        assert any(f"`{name}`" in m and "built-in" in m for m in markdown), name
        assert md(builtin["description"]) in markdown
        load = app.button(key=f"scenario_load_{name}")
        assert load.label == "Load"
        assert not [b for b in app.button if b.key == f"scenario_delete_{name}"]  # built in
    loads = [b for b in app.button if b.key and b.key.startswith("scenario_load_")]
    assert len(loads) == len(BUILTIN) == 5
    (download,) = [d for d in app.get("download_button") if d.key == "scenario_download"]
    assert "JSON" in download.label

    open_data_tab(app, "Export")
    (export,) = [d for d in app.get("download_button") if d.key == "export_download"]
    assert export.label == "Download the log as PARQUET (zip)"
    app.radio(key="export_format").set_value("csv").run()
    (export,) = [d for d in app.get("download_button") if d.key == "export_download"]
    assert export.label == "Download the log as CSV (zip)"

    open_data_tab(app, "Import data")
    assert app.radio(key="import_format").value == "lab"
    assert any("Upload the files" in t for t in texts(app.info))


def test_saving_the_current_setup_stores_a_scenario_and_a_bad_name_saves_nothing(lab_app, db_path):
    lab_app.run()
    app = open_data_tab(lab_app, "Scenarios")
    engine = engine_for(str(db_path))
    builtin = [row["name"] for row in scenarios.catalogue(engine.store)]

    app.text_input(key="scenario_name").input("Not a name!")
    app.button(key="FormSubmitter:scenario_save-Save").click().run()
    assert not app.exception
    assert len(app.error) == 1 and app.error[0].value.startswith("Not saved: a scenario name")
    assert [row["name"] for row in scenarios.catalogue(engine.store)] == builtin

    app.text_input(key="scenario_name").input("cold-start")  # a built-in name
    app.button(key="FormSubmitter:scenario_save-Save").click().run()
    assert len(app.error) == 1 and "built-in" in shown(app.error)[0]
    assert [row["name"] for row in scenarios.catalogue(engine.store)] == builtin

    app.text_input(key="scenario_name").input("  my-setup ")
    app.text_input(key="scenario_title").input("My setup")
    app.text_area(key="scenario_description").input("What the lab held on Monday.")
    app.button(key="FormSubmitter:scenario_save-Save").click().run()
    assert not app.exception and not app.error
    assert any("Saved scenario my-setup" in t for t in shown(app.success))
    saved = scenarios.catalogue(engine.store)[-1]
    assert saved == {
        "name": "my-setup",
        "title": "My setup",
        "description": "What the lab held on Monday.",
        "builtin": False,
    }
    world = scenarios.get(engine.store, "my-setup")["world"]
    assert (world["pack"], world["seed"], world["sizes"]["n_items"]) == ("movies", 7, 300)
    assert app.button(key="scenario_load_my-setup").label == "Load"
    assert app.button(key="scenario_delete_my-setup")

    app.button(key="FormSubmitter:scenario_save-Save").click().run()  # the same name again
    assert len(app.error) == 1 and "exists" in app.error[0].value
    assert [row["name"] for row in scenarios.catalogue(engine.store)] == [*builtin, "my-setup"]


def test_a_saved_scenarios_title_and_description_show_as_text_not_markup(lab_app, db_path):
    engine = Engine.open(db_path)
    title, description = "**Loud** [click](https://example.com)", "Line _one_ <b>two</b>"
    scenarios.save(engine.store, scenarios.current(engine, "marked-up", title, description))
    engine.close()
    lab_app.run()
    app = open_data_tab(lab_app, "Scenarios")
    markdown = texts(app.markdown)
    assert f"**{md(title)}** `marked-up` · saved" in markdown
    assert md(description) in markdown


def small_builtin(name: str, **changes) -> dict:
    setup = copy.deepcopy(BUILTIN[name]) | {"name": name, **changes}
    setup["world"] = setup["world"] | {"sizes": TINY["world"]["sizes"]}
    for run in setup.get("run", []):
        run["autopilot"]["steps"] = 10
    return setup


def test_each_builtin_shows_its_claims_and_once_loaded_what_was_measured(lab_app, db_path):
    lab_app.run()
    app = open_data_tab(lab_app, "Scenarios")
    markdown = texts(app.markdown)
    for name, claims in CLAIMS.items():
        (block,) = [
            m for m in markdown if m.startswith("**What it claims**") and claims[0].text[:20] in m
        ]
        assert all(f"- {md(claim.text)}" in block for claim in claims), name
    assert not app.success and not app.warning

    # A built-in loaded (small): each claim with what was measured and whether it holds.
    engine = engine_for(str(db_path))
    # Popularity bias, its experiment shrunk: all three claims hold on the small world (the
    # filter bubble's fan runs out of Sci-Fi films there).
    small = small_builtin("popularity-bias")
    small["experiments"] = [e | {"users": 60, "sessions": 5} for e in small["experiments"]]
    done = scenarios.load(engine, small)
    open_data_tab(app, "Scenarios")
    assert texts(app.success) == [
        f"Holds. {md(r['claim'])}: {md(r['reading'])} ({md(r['note'])})" for r in done["checks"]
    ]
    assert (
        "scenario **popularity-bias** (3 of its 3 claims held when loaded)" in app.caption[0].value
    )
    assert any(c.startswith("Measured right after loading, at event") for c in texts(app.caption))
    still = [m for m in texts(app.markdown) if m.startswith("**What it claims**")]
    assert len(still) == len(CLAIMS) - 1  # the others still say what they claim

    done = scenarios.load(engine, small_builtin("taste-drift", run=[]))  # no drift to detect
    open_data_tab(app, "Scenarios")
    assert not app.success
    warnings = texts(app.warning)
    assert len(warnings) == len(CLAIMS["taste-drift"]) == len(done["checks"])
    assert all(w.startswith("Does not hold. ") and "no taste shift" in w for w in warnings)


# -- deep links and the Load button ---------------------------------------------------------


def test_a_scenario_link_loads_it_once_and_opens_its_page(lab_app, db_path, saved_tiny):
    lab_app.query_params["scenario"] = "tiny-ab"
    lab_app.run()
    engine = engine_for(str(db_path))
    assert_tiny_is_open(lab_app, engine)
    assert shown(lab_app.toast) == ["Scenario tiny-ab loaded."]
    assert engine.meta["seed"] == "5" != saved_tiny["seed"]  # the world was replaced
    assert json.loads(engine.meta["sizes"])["sessions_per_user"] == 20
    assert engine.last_seq != saved_tiny["last_seq"]
    (experiment,) = engine.experiments.list()
    assert experiment.name == "knn vs pop" and experiment.mode == "simulated"
    assert [a.name for a in experiment.arms] == ["popularity", "item_knn"]
    assert engine.experiments.count(experiment.experiment_id) > 0
    assert "scenario" not in lab_app.query_params  # a reload does not load it again
    assert lab_app.selectbox(key="ab_experiment").value == "knn vs pop"

    # The person acts in the loaded lab; then a second visitor opens the same link.
    lab_app.switch_page("views/simulator.py").run()
    like = next(b for b in lab_app.button if b.key and b.key.startswith("like-"))
    like.click().run()
    assert not lab_app.exception
    after_like = engine.last_seq
    assert engine.store.db.query(
        "SELECT user_id, kind FROM events WHERE seq = ?", [after_like]
    ) == [("sci-fi-fan", "like")]

    second = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    second.query_params["scenario"] = "tiny-ab"
    second.run()
    assert_tiny_is_open(second, engine)
    assert engine.last_seq == after_like  # not reloaded: the like is still there
    assert len(engine.experiments.list()) == 1
    (toast,) = shown(second.toast)
    assert "tiny-ab is already loaded" in toast


def test_an_unknown_scenario_in_the_link_is_an_error_and_changes_nothing(
    lab_app, db_path, saved_tiny
):
    lab_app.query_params["scenario"] = "no-such-scenario"
    lab_app.run()
    assert not lab_app.exception
    (error,) = shown(lab_app.error)
    assert "Ignored the link's scenario: unknown scenario 'no-such-scenario'" in error
    assert "tiny-ab" in error  # it names the ones there are
    engine = engine_for(str(db_path))
    assert engine.meta.get("scenario") is None and engine.meta["seed"] == saved_tiny["seed"]
    assert engine.last_seq == saved_tiny["last_seq"]
    assert engine.experiments.list() == []
    assert lab_app.title[0].value == "Simulator"
    assert lab_app.session_state["user"] == "alice"  # the rest of the link still applies
    assert not lab_app.toast


def test_a_link_asks_before_it_replaces_a_lab_with_events_since_seeding(
    lab_app, db_path, saved_tiny
):
    engine = engine_for(str(db_path))
    engine.interact("alice", 3, "like")  # something a person did: replacing it loses it
    kept = engine.last_seq
    lab_app.query_params["scenario"] = "tiny-ab"
    lab_app.run()
    assert not lab_app.exception and engine.last_seq == kept
    (warning,) = shown(lab_app.warning)
    assert warning.startswith("The link asks to load scenario tiny-ab. It replaces the current lab")
    lab_app.button(key="scenario_pending_keep").click().run()
    assert not lab_app.warning and engine.last_seq == kept and engine.meta.get("scenario") is None

    again = lab_app_test()
    again.query_params["scenario"] = "tiny-ab"
    again.run()
    again.button(key="scenario_pending_load").click().run()
    assert not again.exception
    assert_tiny_is_open(again, engine)
    assert engine.meta["seed"] == "5"


def test_the_load_button_loads_a_saved_scenario_and_opens_its_page(lab_app, db_path, saved_tiny):
    lab_app.run()
    app = open_data_tab(lab_app, "Scenarios")
    assert any("`tiny-ab` · saved" in m for m in texts(app.markdown))
    assert app.button(key="scenario_load_tiny-ab").disabled  # until the replacement is confirmed
    confirm = app.checkbox(key="scenario_confirm")
    assert confirm.label.replace("\\", "").startswith("Replace the current lab: the Movies world")
    confirm.check().run()
    app.button(key="scenario_load_tiny-ab").click().run()
    engine = engine_for(str(db_path))
    assert_tiny_is_open(app, engine)
    assert shown(app.toast) == ["Scenario tiny-ab loaded."]
    assert engine.meta["seed"] == "5" and engine.last_seq != saved_tiny["last_seq"]
    assert [e.name for e in engine.experiments.list()] == ["knn vs pop"]

    open_data_tab(app, "Scenarios")  # the page now says which scenario the lab holds
    assert "scenario **tiny-ab**" in app.caption[0].value
    assert any("`tiny-ab` · saved · loaded" in m for m in texts(app.markdown))


# -- an imported dataset ----------------------------------------------------------------------


@pytest.fixture
def imported(db_path, tmp_path) -> list[str]:
    """The test's lab replaced by a small MovieLens import; its users, as the app lists them."""
    folder = datafiles.write_movielens(tmp_path / "ml")
    report = read_path("movielens", folder)
    engine = Engine.open(db_path)
    try:
        load_dataset(engine, report, path=folder)
        users = [u for u, kind in engine.users().items() if kind == "imported"]
    finally:
        engine.close()
    return sorted(users, key=lambda u: (len(u), u))


PAGES = [
    ("parameters", None, None),
    *[
        ("history", "history_tab", tab)
        for tab in ["Timeline", "Journey", "Embedding map", "Metrics over time", "Time travel"]
    ],
    *[
        ("versions", "versions_tab", tab)
        for tab in [
            "Versions",
            "Compare",
            "Policies",
            "Canary",
            "Updates and alias moves",
            "Drift scenario",
        ]
    ],
    *[
        ("experiments", "ab_tab", tab)
        for tab in ["Results", "A/A and peeking", "Sample size", "Off-policy", "Analytics"]
    ],
    ("evaluation", None, None),
    ("world", None, None),
    *[("data", "data_tab", tab) for tab in ["Scenarios", "Import data", "Export"]],
]
TITLES = {
    "parameters": "Parameters",
    "history": "Learning history",
    "versions": "Model versions",
    "experiments": "A/B tests",
    "evaluation": "Evaluation",
    "world": "World",
    "data": "Data",
}


def test_every_page_works_on_an_imported_dataset(lab_app, db_path, imported):
    app = lab_app
    app.run()
    assert_clean(app, "simulator")
    engine = engine_for(str(db_path))
    assert engine.world == "dataset" and engine.catalog.n == 60
    offered = app.selectbox(key="user").options
    assert set(imported) <= set(offered) and len(imported) == 40
    assert offered[-len(imported) :] == imported  # naturally sorted: 2 before 10

    app.selectbox(key="user").set_value("7").run()
    assert_clean(app, "user 7")
    shown = [int(b.key.split("-")[1]) for b in app.button if b.key and b.key.startswith("like-")]
    expected = engine.recommend("7", algorithm="mf")
    assert len(shown) == 10 and sorted(shown) == sorted(expected.item_ids())
    markdown = " ".join(texts(app.markdown))
    assert all(f"**{r.rank}. {md(r.title)}**" in markdown for r in expected.items)
    rated = {r[0] for r in engine.store.db.query("SELECT item_id FROM events WHERE user_id = '7'")}
    assert rated and not rated & set(shown)  # their own history is not recommended again

    like = next(b for b in app.button if b.key and b.key.startswith("like-"))
    item = int(like.key.split("-")[1])
    before = engine.last_seq
    like.click().run()
    assert_clean(app, "like")
    assert any("Learned from your like" in t for t in texts(app.success))
    assert engine.last_seq == before + 1
    assert engine.store.db.query(
        "SELECT user_id, item_id, kind FROM events WHERE seq = ?", [engine.last_seq]
    ) == [("7", item, "like")]
    external = engine.items.set_index("item_id").loc[item, "external_id"]
    assert external in {datafiles.movie_id(i) for i in range(60)}  # a movie of the files

    for page, key, tab in PAGES:
        app.switch_page(f"views/{page}.py")
        if key:
            app.session_state[key] = tab
        app.run()
        assert_clean(app, (page, tab))
        assert app.title[0].value == TITLES[page], (page, tab)
        assert app.selectbox(key="user").value == "7"

    app.switch_page("views/history.py")
    app.session_state["history_tab"] = "Timeline"
    app.run()
    assert not any("Nothing happened" in t for t in texts(app.info))  # the like is there

    app.switch_page("views/world.py").run()
    assert "imported (movielens)" in app.caption[0].value
    assert [m.value for m in app.metric] == ["60", "40", f"{engine.last_seq:,}"]

    app.switch_page("views/evaluation.py").run()
    app.button(key="eval_run").click().run()
    assert_clean(app, "evaluation run")
    assert app.dataframe, "the comparison table"

    app.switch_page("views/experiments.py")
    app.session_state["ab_tab"] = "New experiment"
    app.run()
    assert app.number_input(key="ab_users").value == 40  # the imported people
    app.number_input(key="ab_sessions").set_value(5)
    app.button(key="ab_submit").click().run()
    assert_clean(app, "A/B run")
    assert app.session_state["ab_tab"] == "Results"
    assert any("impressions at" in t for t in texts(app.success))
    (experiment,) = engine.experiments.list()
    people = engine.store.db.query("SELECT DISTINCT user_id FROM impressions")
    assert {p[0] for p in people} <= set(imported) and len(people) == 40
    arms = app.dataframe[0].value
    assert list(arms["arm"]) == ["mf", "popularity"]
    assert arms["impressions"].sum() == engine.experiments.count(experiment.experiment_id)

    app.switch_page("views/data.py")
    app.session_state["data_tab"] = "Scenarios"
    app.run()
    assert "imported movielens data" in app.caption[0].value
    assert f"60 items, {len(engine.users())} users, {engine.last_seq:,} events" in (
        app.caption[0].value
    )
