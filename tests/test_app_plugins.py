"""A plugin in the app: on every page a built-in is on, and a broken one is one warning line."""

from __future__ import annotations

import pytest

from recsys.data.report import session_report
from recsys.ui.state import engine_for
from tests.plugin_files import EXAMPLE, broken, clean_registry

__all__ = ["clean_registry"]


@pytest.fixture
def plugin_app(clean_registry, monkeypatch, lab_app):
    """The app as alice with the example plugin named in $RECSYS_PLUGINS (as `--plugin`)."""
    monkeypatch.setenv("RECSYS_PLUGINS", str(EXAMPLE))
    lab_app.query_params["algorithm"] = "neighbours"
    lab_app.run()
    assert not lab_app.exception
    return lab_app


def test_a_plugin_is_picked_tuned_evaluated_and_tested_like_a_built_in(plugin_app, db_path):
    app = plugin_app
    picker = app.sidebar.selectbox(key="algorithm")
    assert picker.value == "neighbours" and picker.options[-1] == "neighbours"
    assert any("people who agree with you" in c.value for c in app.sidebar.caption)
    engine = engine_for(str(db_path))
    assert "neighbours" in engine.host.built()  # its deferred first version, fitted when used
    app.switch_page("views/parameters.py").run()
    shrink = app.number_input(key="param-neighbours-shrink")
    assert (shrink.value, shrink.min, shrink.max) == (5.0, 0.0, 100.0)
    shrink.set_value(20.0)
    next(b for b in app.button if "Apply" in b.label).click().run()
    assert not app.exception
    # Apply trains a version through the promotion policy, as for a built-in: it serves if
    # the gate passes it, else it waits as the candidate; either way it holds the new value.
    newest = engine.version_store.latest_version_id("neighbours")
    assert engine.version_store.version(newest)["config"] == {"shrink": 20.0}
    serving = engine.version_store.alias("neighbours", "production")
    assert (serving == newest) == (engine.model("neighbours").config.shrink == 20.0)
    assert serving == newest or engine.version_store.alias("neighbours", "candidate") == newest
    app.session_state["parameters_tab"] = "Algorithms"
    app.run()
    [listed] = [d.value for d in app.dataframe]
    assert listed["algorithm"].tolist() == ["neighbours"]
    assert listed["file"].tolist() == [str(EXAMPLE)]
    app.switch_page("views/evaluation.py").run()
    assert "neighbours" in app.multiselect(key="eval_algorithms").options
    app.switch_page("views/experiments.py")
    app.session_state["ab_tab"] = "New experiment"
    app.run()
    assert not app.exception and "neighbours" in app.multiselect(key="ab_arms").options
    report = session_report(engine, "alice", "neighbours")
    assert "neighbours" in report


def test_a_broken_plugin_is_one_warning_and_the_lab_works_without_it(
    clean_registry, monkeypatch, lab_app, tmp_path
):
    bad, line = broken(tmp_path, "constructor exception")
    monkeypatch.setenv("RECSYS_PLUGINS", str(bad))
    lab_app.run()
    assert not lab_app.exception
    [warning] = [w.value for w in lab_app.warning if "Plugin left out" in w.value]
    assert (
        f"{bad.resolve()}:{line}" in warning.replace("\\", "").replace("\u2060", "")
        and "no GPU here" in warning
    )
    assert "neighbours" not in lab_app.sidebar.selectbox(key="algorithm").options
    assert lab_app.get("button")  # the simulator page drew its cards
