"""The A/B tests page and the simulator's live experiment, through AppTest on a real database."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from recsys.ui.state import engine_for


@pytest.fixture
def app(lab_app):
    lab_app.run()
    return lab_app


def open_tab(app: AppTest, tab: str) -> AppTest:
    app.switch_page("views/experiments.py")
    app.session_state["ab_tab"] = tab
    app.run()
    assert not app.exception
    return app


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def test_a_simulated_run_from_the_form_shows_its_statistics(app, db_path):
    open_tab(app, "Results")
    assert any("No experiment yet" in t for t in texts(app.info))
    open_tab(app, "New experiment")
    app.number_input(key="ab_sessions").set_value(10)
    app.button(key="ab_submit").click().run()
    assert not app.exception
    assert app.session_state["ab_tab"] == "Results"
    assert any("impressions at" in t for t in texts(app.success))
    engine = engine_for(str(db_path))
    (experiment,) = engine.experiments.list()
    assert experiment.mode == "simulated" and [a.name for a in experiment.arms] == [
        "mf",
        "popularity",
    ]
    arms, others, comparisons = (d.value for d in app.dataframe[:3])
    assert list(arms["arm"]) == list(others["arm"]) == ["mf", "popularity"]
    assert arms["impressions"].sum() == engine.experiments.count(experiment.experiment_id)
    assert {"CTR (95 % CI)", "true CTR", "regret@k"} <= set(arms.columns)
    assert list(others.columns) == [
        "arm",
        "like rate (95 % CI)",
        "rating rate (95 % CI)",
        "avg rating (95 % CI)",
    ]
    assert set(comparisons["metric"]) == {"CTR", "like rate", "rating rate", "avg rating"}
    assert [m.label for m in app.metric][:1] == ["Sample ratio"]
    assert len(app.get("plotly_chart")) == 2  # the cumulative curve and the lift
    app.radio(key="ab_unit").set_value("impression").run()
    app.toggle(key="ab_sequential").set_value(True).run()
    assert not app.exception
    comparisons = app.dataframe[2].value
    assert set(comparisons["test"]) == {"two-proportion z-test", "Welch t-test"}
    assert "always-valid CI" in comparisons.columns


def test_bad_input_on_the_form_gives_one_error_and_writes_nothing(app, db_path):
    engine = engine_for(str(db_path))
    open_tab(app, "New experiment")
    app.multiselect(key="ab_arms").set_value(["mf"])
    app.button(key="ab_submit").click().run()
    assert not app.exception
    assert len(app.error) == 1 and "2 to" in app.error[0].value
    app.multiselect(key="ab_arms").set_value(["mf", "popularity"])
    app.text_input(key="ab_split").input("40,50")
    app.button(key="ab_submit").click().run()
    assert len(app.error) == 1 and "sums to 90" in app.error[0].value
    app.text_input(key="ab_split").input("")
    app.text_input(key="ab_extra").input("nosuch")
    app.button(key="ab_submit").click().run()
    assert len(app.error) == 1 and "unknown algorithm" in app.error[0].value
    assert engine.experiments.list() == []
    assert engine.experiments.store.db.query("SELECT count(*) FROM impressions")[0][0] == 0


def test_a_live_experiment_serves_the_arm_and_credits_the_click(app, db_path):
    engine = engine_for(str(db_path))
    open_tab(app, "New experiment")
    app.radio(key="ab_mode").set_value("live")
    app.text_input(key="ab_name").input("homepage test")
    app.multiselect(key="ab_arms").set_value(["popularity", "item_knn"])
    app.button(key="ab_submit").click().run()
    assert not app.exception
    arm = engine.live_experiment.assign("alice")
    app.switch_page("views/simulator.py").run()
    assert any(f"arm **{arm.name}**" in t for t in texts(app.info))
    like = next(b for b in app.button if b.key and b.key.startswith("like-"))
    item = int(like.key.split("-")[1])
    like.click().run()
    assert not app.exception
    liked = engine.store.db.query("SELECT arm, user_id, item_id FROM impressions WHERE liked", [])
    assert liked == [(arm.name, "alice", item)]
    event = engine.store.db.query(
        "SELECT request_id, served_by FROM events ORDER BY seq DESC LIMIT 1", []
    )[0]
    assert event[0] is not None and event[1].startswith(f"{arm.algorithm}:")
    open_tab(app, "Results")
    arms = app.dataframe[0].value
    assert int(arms.loc[arms["arm"] == arm.name, "impressions"].iloc[0]) >= 10
    app.button(key="ab_stop").click().run()
    assert not app.exception and engine.live_experiment is None
    app.switch_page("views/simulator.py").run()
    assert not any("is live" in t for t in texts(app.info))


@pytest.mark.parametrize("tab", ["A/A and peeking", "Sample size", "Off-policy", "Analytics"])
def test_every_tool_tab_draws(app, tab):
    open_tab(app, tab)
    assert not app.error


def test_aa_tab_reports_false_positive_rates(app):
    open_tab(app, "A/A and peeking")
    app.number_input(key="aa_runs").set_value(20)
    app.number_input(key="aa_users").set_value(60)
    app.button(key="aa_run").click().run()
    assert not app.exception
    values = [m.value for m in app.metric]
    assert len(values) == 4 and all(v.endswith("%") for v in values)
    assert app.session_state["aa_result"]["runs"] == 20


def test_offpolicy_tab_logs_exploring_traffic_and_estimates(app, db_path):
    open_tab(app, "Off-policy")
    app.number_input(key="ope_visits").set_value(50)
    app.button(key="ope_log").click().run()
    assert not app.exception
    estimates = app.dataframe[0].value
    assert list(estimates["method"]) == ["IPS", "SNIPS", "direct method", "doubly robust"]
    experiment = engine_for(str(db_path)).experiments.list()[0]
    assert experiment.slate == 1 and experiment.explore == 1.0


def test_the_sample_size_answer_runs_as_a_simulation_in_one_click(app, db_path):
    open_tab(app, "Sample size")
    app.number_input[0].set_value(0.3)  # baseline
    app.number_input[1].set_value(0.2)  # minimum detectable effect, relative
    app.run()
    per_arm = int(app.metric[0].value.replace(",", ""))
    assert app.button(key="size_simulate").label == f"Simulate {2 * per_arm:,} people"
    app.button(key="size_simulate").click().run()
    assert not app.exception and not app.error
    run = app.session_state["size_result"]
    verdicts = texts(app.success) + texts(app.warning)
    assert len(verdicts) == 1 and verdicts[0].startswith(
        "The test detected" if run["reached"] else "The test "
    )
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Reached its power?"] == ("yes: detected" if run["reached"] else "no: missed")
    assert metrics["Planned power"] == "80%"
    assert metrics["Power at the true rates"] == f"{run['power_had']:.0%}"
    table = app.dataframe[-1].value
    assert list(table[""]) == ["planned", "measured", "truth"]
    assert table["relative lift"][0] == pytest.approx(0.2)
    engine = engine_for(str(db_path))
    (experiment,) = engine.experiments.list()
    assert [a.name for a in experiment.arms] == ["popularity", "mf"]
    assert experiment.details["users"] == 2 * per_arm and experiment.slate == 1
