"""The router (`recsys/ui/navigation.py`) and the Streamlit behaviour it relies on.

If one of these fails after a Streamlit upgrade, read the module's docstring first: it says
which documented behaviour the reroute of a page run alone depends on."""

from __future__ import annotations

import os
import re

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys.data import scenarios
from recsys.ui import navigation
from recsys.ui.headless import rerun_after_like_ms
from tests.conftest import ROOT

UPGRADE = "Streamlit's multipage behaviour changed: see recsys/ui/navigation.py."


@pytest.fixture
def guard_calls(monkeypatch):
    """Every `ensure_app` call, as True (run by app.py) or False (the page ran alone)."""
    calls: list[bool] = []
    original = navigation.ensure_app

    def spy() -> None:
        calls.append(bool(getattr(navigation._routing, "active", False)))
        original()

    monkeypatch.setattr(navigation, "ensure_app", spy)  # pages import it on every run
    return calls


@pytest.fixture
def app_from_app_py(db_path, monkeypatch):
    """AppTest made from app.py itself, as `streamlit run app.py` serves it."""
    monkeypatch.setenv("RECSYS_DB", str(db_path))
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["user"] = "alice"
    yield at
    st.cache_resource.clear()


def has_sidebar(app: AppTest) -> bool:
    return any(box.key == "user" for box in app.sidebar.selectbox)


def test_no_pages_folder_so_streamlit_never_lists_raw_file_names():
    """A `pages/` folder beside app.py starts Streamlit's legacy mode: for seconds after a first
    visit or a deep link the sidebar listed "app, data, evaluation…" (issue 18)."""
    assert not (ROOT / "pages").exists()
    assert navigation.PAGES_DIR == ROOT / "views"
    source = (ROOT / "app.py").read_text()
    assert source.index("st.navigation(pages())") < source.index("get_engine()")


def test_a_first_visit_straight_to_a_page_runs_app_py_and_shows_the_sidebar(
    app_from_app_py, guard_calls
):
    app = app_from_app_py.switch_page(str(ROOT / "views" / "parameters.py")).run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Parameters", UPGRADE
    assert has_sidebar(app), f"/parameters opened first has no sidebar. {UPGRADE}"
    assert app.session_state["user"] == "alice"
    assert guard_calls and all(guard_calls), f"a page ran without app.py. {UPGRADE}"


def test_a_click_reruns_through_app_py(app_from_app_py, db_path, guard_calls):
    app = app_from_app_py.run()
    assert has_sidebar(app)
    like = next(b for b in app.button if b.key and b.key.startswith("like-"))
    like.click().run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Simulator"
    assert has_sidebar(app), f"a rerun after a click ran the page without app.py. {UPGRADE}"
    assert any("Learned from your like" in s.value for s in app.success)
    assert guard_calls and all(guard_calls)


def test_the_lab_apptest_runs_app_py_on_every_run_like_a_server(lab_app, guard_calls):
    lab_app.run()
    like = next(b for b in lab_app.button if b.key and b.key.startswith("like-"))
    like.click().run()
    lab_app.switch_page("views/world.py").run()
    assert not lab_app.exception, lab_app.exception
    assert lab_app.title[0].value == "World"
    assert has_sidebar(lab_app)
    assert guard_calls and all(guard_calls), (
        f"a page ran without app.py under the launcher. {UPGRADE}"
    )


def test_the_router_lists_every_page_file_and_every_scenario_page():
    stems = [stem for stem, _, _ in navigation.PAGES]
    assert sorted(stems) == sorted(p.stem for p in (ROOT / "views").glob("*.py"))
    assert set(stems) == set(scenarios.PAGES)
    assert navigation.page_path("world") == ROOT / "views" / "world.py"
    with pytest.raises(ValueError, match="unknown page 'nope'"):
        navigation.page_path("nope")


def test_no_product_module_reaches_into_streamlit_internals():
    """Only public Streamlit API in app.py, views/ and recsys/ (AppTest is public)."""
    private = re.compile(r"^\s*(from|import)\s+streamlit\.(?!testing\.v1\b)", re.MULTILINE)
    files = [ROOT / "app.py", *(ROOT / "views").glob("*.py"), *(ROOT / "recsys").rglob("*.py")]
    offenders = [str(f.relative_to(ROOT)) for f in files if private.search(f.read_text())]
    assert offenders == []


def test_the_bench_times_simulator_reruns_and_restores_the_environment(db_path, monkeypatch):
    monkeypatch.delenv("RECSYS_DB", raising=False)
    timings = rerun_after_like_ms(str(db_path), clicks=2)
    assert len(timings) == 2 and all(t > 0 for t in timings)
    assert "RECSYS_DB" not in os.environ
