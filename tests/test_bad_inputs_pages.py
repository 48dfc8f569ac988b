"""Bad input on the pages (issue 17): an `st.error` that says what to do, no exception, and the
lab unchanged table by table. One app session runs every case (a case must change nothing, so
the next one starts from the same lab); uploads cannot be driven by AppTest (see
tests/test_app_data.py), their files are the import and scenario cases of
tests/test_bad_inputs_files.py, read by the same functions."""

from __future__ import annotations

import shutil

import pytest
import streamlit as st

from recsys.ui.state import engine_for
from tests.apptest import lab_app_test
from tests.fingerprint import fingerprint


@pytest.fixture(scope="module")
def app(small_world_file, tmp_path_factory):
    path = tmp_path_factory.mktemp("pages") / "lab.duckdb"
    shutil.copy(small_world_file, path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECSYS_DB", str(path))
        st.cache_resource.clear()
        at = lab_app_test(default_timeout=120)
        at.query_params["user"] = "alice"
        at.query_params["algorithm"] = "mf"
        at.run()
        assert not at.exception
        yield at, path
        st.cache_resource.clear()


def experiment(arms=("mf", "popularity"), name="", split="", extra="", mode="simulated"):
    def drive(at):
        at.switch_page("views/experiments.py")
        at.session_state["ab_tab"] = "New experiment"
        at.run()
        at.radio(key="ab_mode").set_value(mode)
        at.text_input(key="ab_name").input(name)
        at.multiselect(key="ab_arms").set_value(list(arms))
        at.text_input(key="ab_split").input(split)
        at.text_input(key="ab_extra").input(extra)
        at.button(key="ab_submit").click().run()

    return drive


def saved(name="mine", title="", description=""):
    def drive(at):
        at.switch_page("views/data.py")
        at.session_state["data_tab"] = "Scenarios"
        at.run()
        at.text_input(key="scenario_name").input(name)
        at.text_input(key="scenario_title").input(title)
        at.text_area(key="scenario_description").input(description)
        at.button(key="FormSubmitter:scenario_save-Save").click().run()

    return drive


def rate_without_stars(at):
    at.switch_page("views/simulator.py").run()
    next(b for b in at.button if b.key and b.key.startswith("rate-")).click().run()


def sweep(values):
    def drive(at):
        at.switch_page("views/evaluation.py").run()
        at.text_input(key="sweep_values").input(values)
        at.button(key="sweep_run").click().run()

    return drive


CASES = [
    pytest.param(experiment(arms=["mf"]), "2 to", id="experiment-one-arm"),
    pytest.param(experiment(split="40,50"), "sums to 90", id="experiment-split-90"),
    pytest.param(experiment(split="a,b"), "cannot read split", id="experiment-split-text"),
    pytest.param(experiment(split="100"), "1 shares for 2 arms", id="experiment-split-count"),
    pytest.param(experiment(split="120,-20"), "a share above 0", id="experiment-split-negative"),
    pytest.param(experiment(extra="nosuch"), "unknown algorithm", id="experiment-unknown-arm"),
    pytest.param(experiment(extra="mf(factors=0)"), "factors must be", id="experiment-bad-param"),
    pytest.param(experiment(extra="mf(factors="), "cannot read arm", id="experiment-unreadable"),
    pytest.param(experiment(extra="v999"), "unknown version", id="experiment-unknown-version"),
    pytest.param(experiment(name="x" * 80, mode="live"), "1 to 60", id="experiment-long-name"),
    pytest.param(experiment(name="a\x00b", mode="live"), "1 to 60", id="experiment-nul-name"),
    pytest.param(saved(name="Bad Name"), "a scenario name is", id="scenario-bad-name"),
    pytest.param(saved(name="cold-start"), "built-in", id="scenario-builtin-name"),
    pytest.param(saved(title="a\x00b"), "control character", id="scenario-nul-title"),
    pytest.param(saved(description="a\x1b[2Jb"), "control character", id="scenario-escape-text"),
    pytest.param(saved(title="t" * 300), "keep it to 200", id="scenario-long-title"),
    pytest.param(rate_without_stars, "Pick a rating", id="simulator-rate-without-stars"),
    pytest.param(sweep("4, x"), "Values must be numbers", id="sweep-text-value"),
    pytest.param(sweep(""), "Values must be numbers", id="sweep-no-value"),
]


@pytest.mark.parametrize("drive, expected", CASES)
def test_a_page_refuses_bad_input_and_changes_nothing(app, drive, expected):
    at, path = app
    db = engine_for(str(path)).store.db
    before = fingerprint(path, db.query)
    drive(at)
    assert not at.exception, [e.message for e in at.exception]
    errors = [e.value.replace("\\", "") for e in at.error]  # md() escapes read as shown
    assert any(expected in error for error in errors), (expected, errors)
    assert fingerprint(path, db.query) == before
