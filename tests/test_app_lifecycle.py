"""The Learning history and Model versions pages through AppTest, over a real lab database."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from recsys.lifecycle.timetravel import recommend_as_of
from recsys.ui.state import engine_for


@pytest.fixture
def app(lab_app):
    return lab_app


def open_tab(app: AppTest, page: str, tabs_key: str, tab: str) -> AppTest:
    app.switch_page(page)
    app.session_state[tabs_key] = tab
    return app.run()


def like_top(app: AppTest, times: int = 1) -> None:
    app.switch_page("views/simulator.py").run()
    for _ in range(times):
        like = next(b for b in app.button if b.key and b.key.startswith("like-"))
        like.click().run()
        assert not app.exception


def test_versions_page_trains_promotes_and_rolls_back(app, db_path):
    app.run()
    open_tab(app, "views/versions.py", "versions_tab", "Versions")
    assert not app.exception
    engine = engine_for(str(db_path))
    first = engine.version_store.alias("mf", "production")
    app.button(key="versions_train").click().run()
    assert not app.exception
    newest = engine.version_store.latest_version_id("mf")
    assert newest > first
    # mf's second version, numbered per algorithm; the same log and config tie the seed on
    # the holdout, so the gate refuses it and the page says what serves.
    (said,) = [s.value.replace("\\", "") for s in app.success]
    assert said.startswith("Trained in ") and ": v2 is the candidate and v1 still serves mf" in said
    assert engine.version_store.alias("mf", "candidate") == newest
    if engine.version_store.alias("mf", "production") != newest:  # the gate kept it back
        app.selectbox(key="versions_pick").set_value(newest).run()
        app.checkbox(key="versions_force").check()
        app.button(key="versions_promote").click().run()
    assert engine.version_store.alias("mf", "production") == newest
    rollback = app.button(key="versions_rollback")
    assert rollback.label == "Roll back to v1"
    rollback.click().run()
    assert not app.exception
    assert engine.version_store.alias("mf", "production") == first
    app.selectbox(key="versions_pick").set_value(first).run()
    delete = app.button(key="versions_delete")
    assert delete.disabled and delete.help == "v1 serves production and cannot be deleted."
    app.selectbox(key="versions_pick").set_value(newest).run()
    delete = app.button(key="versions_delete")  # a version that does not serve: no such warning
    assert not delete.disabled and not delete.help


def test_a_candidate_the_gate_keeps_back_cannot_be_promoted_without_force(app, db_path):
    app.run()
    engine = engine_for(str(db_path))
    engine.lifecycle.set_policy({"gate_absolute": 1.0})  # nothing beats production by 1.0
    production = engine.version_store.alias("mf", "production")
    open_tab(app, "views/versions.py", "versions_tab", "Versions")
    app.button(key="versions_train").click().run()
    candidate = engine.version_store.alias("mf", "candidate")
    assert candidate is not None and engine.version_store.alias("mf", "production") == production
    app.selectbox(key="versions_pick").set_value(candidate).run()
    app.button(key="versions_promote").click().run()
    assert not app.exception
    # Says what happened: nothing moved, production still serves (no "kept as candidate").
    (error,) = [e.value for e in app.error]
    assert "refused: v2 was not promoted and v1 still serves mf" in error.replace("\\", "")
    assert engine.version_store.alias("mf", "production") == production


def test_policy_form_saves_and_compare_tab_renders(app, db_path):
    app.run()
    open_tab(app, "views/versions.py", "versions_tab", "Policies")
    app.number_input(key="policy-retrain_ratings").set_value(7)
    app.selectbox(key="policy-drift_detector").set_value("adwin")
    next(b for b in app.button if "Save the policy" in b.label).click().run()
    assert not app.exception
    engine = engine_for(str(db_path))
    assert engine.lifecycle.policy.retrain_ratings == 7
    assert engine.lifecycle.policy.drift_detector == "adwin"
    engine.lifecycle.train("mf", "manual", "never")
    open_tab(app, "views/versions.py", "versions_tab", "Compare")
    assert not app.exception
    assert any("Top-10 agreement" in m.value for m in app.markdown)


def test_history_tabs_render_after_some_likes(app, db_path):
    app.run()
    like_top(app, 3)
    for tab in ("Timeline", "Journey", "Embedding map", "Metrics over time"):
        open_tab(app, "views/history.py", "history_tab", tab)
        assert not app.exception, tab
        assert not app.error, tab
    open_tab(app, "views/history.py", "history_tab", "Timeline")
    assert len(app.dataframe) == 1
    assert "interaction" in set(app.dataframe[0].value["kind"])


def test_time_travel_tab_shows_the_rebuilt_list(app, db_path):
    app.run()
    like_top(app, 2)
    engine = engine_for(str(db_path))
    open_tab(app, "views/history.py", "history_tab", "Time travel")
    assert not app.exception
    a, b = app.slider(key="tt_range").value
    assert a < b == engine.last_seq
    shown = [m.value for m in app.markdown]
    for seq in (a, b):
        expected = recommend_as_of(engine, "alice", seq, 10, "mf")
        column = shown[shown.index(f"**At seq {seq:,}**") + 1]
        assert [
            line.split(" ", 1)[1].startswith(r.title)
            for line, r in zip(column.splitlines(), expected.items, strict=True)
        ] == [True] * 10


def test_drift_scenario_button_reports_what_happened(app, db_path):
    app.run()
    open_tab(app, "views/versions.py", "versions_tab", "Drift scenario")
    app.number_input(key="drift_before").set_value(15)
    app.number_input(key="drift_after").set_value(15)
    app.button(key="drift_run").click().run()
    assert not app.exception
    assert any("Shift at seq" in m.value for m in app.markdown)
    engine = engine_for(str(db_path))
    assert len(engine.version_store.marks("taste shift")) == 1


def rate_top(app: AppTest, stars: float) -> None:
    rate = next(b for b in app.button if b.key and b.key.startswith("rate-"))
    item = int(rate.key.split("-")[1])
    app.selectbox(key=f"rating-{item}").set_value(stars)
    app.button(key=f"rate-{item}").click().run()
    assert not app.exception


def test_a_policy_retrain_runs_in_the_background_and_the_page_follows_it(app, db_path):
    app.switch_page("views/simulator.py").run()
    engine = engine_for(str(db_path))
    assert engine.retrainer.enabled  # the app's engine: no click waits for a retrain
    engine.lifecycle.set_policy({"retrain_ratings": 2, "auto_promote": False})
    newest = engine.version_store.latest_version_id("mf")
    rate_top(app, 4.0)
    rate_top(app, 5.0)
    job = engine.retrainer.jobs()[-1]
    assert job.version > newest and job.trigger == "every N ratings"  # ids: all algorithms
    v = job.version
    started = "A retrain of mf started (every N ratings: 2 new ratings); when it lands, "
    started += "it becomes the candidate."  # automatic promotion is off
    assert any(started in s.value.replace("\\", "") for s in app.success)  # md-escaped
    # The sidebar shows it running, or (a small world fits fast) already landed.
    bars = [e for e in app.get("progress") if "Retrain of mf" in e.proto.text]
    landed = "Retrain of mf: fitted in"
    assert bars or any(landed in c.value.replace("\\", "") for c in app.sidebar.caption)
    assert engine.retrainer.wait(60)
    app.run()
    assert not app.exception
    assert engine.version_store.alias("mf", "candidate") == v
    captions = [c.value.replace("\\", "") for c in app.sidebar.caption]
    want = "v2 is the candidate (automatic promotion is off)"  # mf's second version
    assert any(landed in c and want in c for c in captions), captions
    assert captions.index(next(c for c in captions if landed in c)) == 0  # top of the sidebar
    assert not app.get("progress")


def test_a_running_retrain_says_its_stage_and_time_left(engine):
    from recsys.lifecycle import jobs
    from recsys.ui.retrains import _running

    with engine.lock:
        job = jobs.start(engine.lifecycle, jobs.RETRAIN, "mf", "manual")
    assert _running(job) == "Retrain of mf: queued"
    job.stage, job.expected, job.fit_started = "fitting", 30.0, time.monotonic()
    assert _running(job).startswith("Retrain of mf: fitting, about ")
    assert _running(job).endswith(" s left") and 0.1 < job.progress() < 0.2
    job.fit_started -= 60  # a minute into a fit expected to take 30 s
    assert _running(job).endswith("fitting, finishing") and job.progress() == pytest.approx(0.9)
