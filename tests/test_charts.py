"""Issue 18, the product owner's tables and charts: the timeline in causal order, lab time and
metrics readable in tables, whole-number ticks on whole-number axes, rates on [0, 1], facet
titles apart. Figures are checked on their objects (dtick, tickformat, range), not pixels."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from recsys.data.axes import integer_axis, rate_axis
from recsys.data.report import session_report
from recsys.data.slides import slide_config
from recsys.store.versions import TIMELINE_KINDS, timeline
from recsys.ui.ab_tools import p_value_figure
from recsys.ui.charts import canary_figure, curve_figure, version_metrics_figure
from recsys.ui.evaluation import sweep_figure
from recsys.ui.history import timeline_figure
from recsys.ui.panels import truth_chart
from recsys.ui.tables import LAB_TIME, epoch_of, readable


def whole(axis) -> None:
    """The axis ticks only at whole numbers, written in full."""
    assert axis.tickmode == "linear" and axis.tick0 == 0
    assert axis.dtick >= 1 and float(axis.dtick).is_integer()
    assert axis.tickformat == ",d"


def on_unit_interval(axis) -> None:
    assert tuple(axis.range) == (0, 1) and axis.autorange is False


def test_a_retrain_comes_before_the_promotion_it_caused_and_its_rollback(engine):
    item = engine.top("alice", 1, "mf")[0]
    engine.interact("alice", int(item), "like", algorithm="mf")
    trained = engine.retrain("mf")  # at the same seq as the like: nothing came in between
    engine.lifecycle.rollback("mf")
    rows = timeline(engine.store, first_seq=engine.last_seq)
    assert set(rows["seq"]) == {engine.last_seq}
    assert list(rows["kind"]) == [
        "interaction",
        "online update",
        "retrain",
        "promotion",
        "rollback",
    ]
    assert rows["what"].iloc[2].endswith(f"→ {trained['label']}")  # its algorithm's number
    assert f"→ {trained['label']}" in rows["what"].iloc[3]
    assert list(rows.columns) == ["seq", "ts", "kind", "user_id", "algorithm", "what"]


def test_the_newest_seq_comes_first_and_each_kind_has_its_lane(engine):
    for item in engine.top("alice", 3, "mf")[:2]:
        engine.interact("alice", int(item), "like", algorithm="mf")
    rows = timeline(engine.store, first_seq=engine.last_seq - 1)
    assert list(rows["seq"]) == sorted(rows["seq"], reverse=True)
    figure = timeline_figure(rows, TIMELINE_KINDS)
    assert list(figure.layout.yaxis.categoryarray) == list(TIMELINE_KINDS)
    assert figure.layout.yaxis.range[0] > figure.layout.yaxis.range[1]  # the first lane on top
    assert {t.name for t in figure.data} == {"interaction", "online update"}
    whole(figure.layout.xaxis)
    chosen = timeline_figure(rows[rows["kind"] == "interaction"], ["retrain", "interaction"])
    assert list(chosen.layout.yaxis.categoryarray) == ["interaction", "retrain"]


def test_tables_show_lab_time_as_a_date_and_metrics_as_columns(engine):
    info = engine.retrain("mf")
    updates = engine.version_store.updates("mf")
    shown = readable(updates, epoch_of(engine.meta))
    assert "ts" not in shown and "metrics" not in shown
    assert list(shown.columns).index(LAB_TIME) == list(updates.columns).index("ts")
    expected = pd.Timestamp(engine.meta["epoch"]) + pd.to_timedelta(updates["ts"].iloc[0], "s")
    assert abs(shown[LAB_TIME].iloc[0] - expected) < pd.Timedelta(milliseconds=1)
    assert shown[LAB_TIME].iloc[0].year == 2026  # the generated world's epoch, 2026-09-01
    for name, value in info["metrics"].items():
        assert shown[name].iloc[0] == pytest.approx(value)
    assert list(shown.columns)[list(shown.columns).index("NDCG@10") - 1] == "version_id"
    assert json.loads(updates["metrics"].iloc[0])  # the store's own row is left as it was


def test_an_imported_worlds_epoch_and_rows_without_metrics():
    frame = pd.DataFrame({"ts": [0.0, 90_061.5], "metrics": ["{}", '{"RMSE": 0.9}']})
    shown = readable(frame, epoch_of({"epoch": "1997-09-20T03:05:10"}))
    assert list(shown[LAB_TIME].astype(str)) == [
        "1997-09-20 03:05:10.000",
        "1997-09-21 04:06:11.500",
    ]
    assert shown["RMSE"].isna().tolist() == [True, False]


def test_version_axes_tick_at_whole_versions_and_bounded_metrics_span_zero_to_one():
    frame = pd.DataFrame(
        {
            "version_id": [1, 11, 12, 13],
            "aliases": ["", "", "production", "candidate"],
            "trigger": ["seed", "manual", "manual", "manual"],
            "NDCG@10": [0.245, 0.2449, 0.2465, 0.2457],
            "precision@10": [0.068, 0.068, 0.069, 0.07],
            "recall@10": [0.385, 0.3855, 0.3888, 0.3938],
            "RMSE": [0.92, 0.924, 0.923, 0.9229],
        }
    )
    metrics = ["NDCG@10", "precision@10", "recall@10", "RMSE"]
    figure = version_metrics_figure(frame, metrics)
    titles = {a.text: a for a in figure.layout.annotations}
    assert set(titles) == set(metrics)  # "NDCG@10", not "metric=NDCG@10"
    axes = {
        trace.hovertemplate.split("metric=")[1].split("<")[0]: "yaxis" + trace.yaxis[1:]
        for trace in figure.data
    }
    for name in metrics:
        axis = figure.layout[axes[name]]
        if name == "RMSE":
            assert axis.range is None  # not a rate: the data's own range
        else:
            on_unit_interval(axis)
    for name in ("xaxis", "xaxis2", "xaxis3", "xaxis4"):
        whole(figure.layout[name])
        assert figure.layout[name].tickprefix == "v"
    # Two rows of panels: a title sits in the gap above its panel, clear of the row below it.
    lower, upper = sorted({tuple(figure.layout[a].domain) for a in axes.values()})
    assert upper[0] - lower[1] >= 0.15


def test_every_rate_is_drawn_on_zero_to_one_and_every_count_on_whole_numbers():
    live = pd.DataFrame(
        {"version": [12, 13], "arm": ["production", "candidate"], "reward mean": [0.61, 0.58]}
        | {"events": [40, 8], "rewards": [30, 6], "likes": [20, 4]}
    )
    on_unit_interval(canary_figure(live).layout.yaxis)
    histogram = p_value_figure([0.01, 0.5, 0.52, 0.97])
    on_unit_interval(histogram.layout.xaxis)
    whole(histogram.layout.yaxis)
    curve = pd.DataFrame(
        {"arm": ["A", "A"], "day": [0.5, 1.0], "value": [0.1, 0.12], "low": [0.0, 0.1]}
        | {"high": [0.3, 0.14]}
    )
    on_unit_interval(curve_figure(curve, "ctr").layout.yaxis)
    assert curve_figure(curve.assign(value=[4.1, 4.0]), "avg_rating").layout.yaxis.range is None
    sweep = pd.DataFrame({"factors": [4, 8, 16], "NDCG@10": [0.1, 0.2, 0.15], "RMSE": [1, 0.9, 1]})
    figure = sweep_figure(sweep, "mf", "factors", ["NDCG@10"])
    whole(figure.layout.xaxis)
    on_unit_interval(figure.layout.yaxis)
    assert sweep_figure(sweep, "mf", "factors", ["NDCG@10", "RMSE"]).layout.yaxis.range is None
    result = {"true_utility": [0.1, 0.2, 0.3], "popularity_utility": [0.1] * 3}
    result |= {"oracle_utility": [0.5] * 3, "algorithm": "mf", "k": 10}
    whole(truth_chart(result).layout.xaxis)


@pytest.mark.parametrize("values, step", [([56_540, 56_541], 1), ([1, 13], 2), ([7380, 9000], 500)])
def test_whole_number_ticks_never_fall_between_numbers(values, step):
    import plotly.graph_objects as go

    figure = integer_axis(go.Figure(go.Scatter(x=values, y=[0, 1])), "x", values)
    assert figure.layout.xaxis.dtick == step
    assert rate_axis(figure, "y", percent=True).layout.yaxis.tickformat == ".0%"


def test_the_report_uses_plotlys_own_colours_and_whole_number_axes(engine):
    import streamlit  # noqa: F401  as in the app: its template becomes plotly's default

    item = engine.top("alice", 1, "mf")[0]
    engine.interact("alice", int(item), "like", algorithm="mf")
    page = session_report(engine, "alice")
    assert "#000001" not in page  # Streamlit's placeholder colours, black outside Streamlit
    assert '"colorway":["#636efa"' in page
    assert '"tickformat":",d"' in page and '"range":[0,1]' in page


def test_the_timeline_page_offers_online_updates_and_dates(lab_app):
    lab_app.run()
    lab_app.switch_page("views/simulator.py").run()
    next(b for b in lab_app.button if b.key and b.key.startswith("like-")).click().run()
    lab_app.switch_page("views/history.py")
    lab_app.session_state["history_tab"] = "Timeline"
    lab_app.run()
    assert not lab_app.exception
    assert "online update" in lab_app.multiselect(key="tl_kinds").value
    chart = json.loads(lab_app.get("plotly_chart")[0].proto.spec)
    lanes = {t["name"]: t for t in chart["data"]}
    assert {"interaction", "online update"} <= set(lanes)
    assert chart["layout"]["xaxis"]["tickformat"] == ",d"
    table = lab_app.dataframe[0].value
    assert "ts" not in table and pd.api.types.is_datetime64_any_dtype(table[LAB_TIME])
    assert list(table["kind"][:2]) == ["interaction", "online update"]


def test_the_peeking_text_points_at_the_rate_above_it(lab_app):
    lab_app.run()
    lab_app.switch_page("views/experiments.py")
    lab_app.session_state["ab_tab"] = "A/A and peeking"
    lab_app.run()
    text = next(m.value for m in lab_app.markdown if "Why peeking misleads" in m.value)
    text = " ".join(text.split())
    assert "*Peeking* rate of the A/A tests above" in text and "below)" not in text
    assert lab_app.button(key="aa_run")  # the A/A tests (and their Peeking rate) come first


def test_a_lone_version_is_the_only_tick_on_its_axis():
    """With only v1 stored, the versions chart ticked v0, v1 and v2 (found in review)."""
    import plotly.graph_objects as go

    figure = integer_axis(go.Figure(go.Scatter(x=[1], y=[0.5])), "x", [1], prefix="v")
    assert tuple(figure.layout.xaxis.range) == (0.5, 1.5)  # only the tick at 1 is inside
    wide = integer_axis(go.Figure(go.Scatter(x=[1, 40], y=[0, 1])), "x", [1, 40])
    assert wide.layout.xaxis.range is None  # plotly's own range where there are many


def test_a_charts_camera_saves_1920_by_1080_as_png_or_svg():
    config = slide_config("svg", "Relative lift against mf")
    assert config == {
        "displaylogo": False,
        "toImageButtonOptions": {
            "format": "svg",
            "width": 960,  # laid out at half the slide, drawn at twice the size: 1920 x 1080
            "height": 540,
            "scale": 2,
            "filename": "recsys-lab-relative-lift-against-mf",
        },
    }
    assert slide_config()["toImageButtonOptions"]["format"] == "png"
    with pytest.raises(ValueError, match="png or svg, not 'jpeg'"):
        slide_config("jpeg", "chart")
