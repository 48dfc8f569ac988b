"""Every chart of the pages: `draw_chart` draws it with a toolbar whose camera saves it for a
slide (1920 x 1080, PNG or SVG as the sidebar's `download_format` setting chooses; no other
module calls `st.plotly_chart`, tests/test_layout.py checks). And axes that say what they
measure: whole-number axes (seq, version, step, counts) tick only at whole numbers, rates are
drawn on [0, 1], facet titles name their panel without overlapping.

The axis helpers live in `recsys.data.axes` (the session report, below this layer, uses them
too). Every plotly chart of the pages goes through them; the figure builders of the Model
versions page live here (`version_metrics_figure`, `canary_figure`), so their axes are tested
on the figure objects (dtick, tickformat, range), not on pixels.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from recsys.data.axes import integer_axis, is_rate, rate_axis
from recsys.data.slides import SLIDE_HEIGHT, SLIDE_WIDTH, chart_name, slide_config
from recsys.experiments.metrics import LABELS, RATES
from recsys.ui.widgets import plain

__all__ = [
    "FORMAT_KEY",
    "canary_figure",
    "download_format",
    "draw_chart",
    "facet_titles",
    "integer_axis",
    "is_rate",
    "rate_axis",
    "version_metrics_figure",
]


FORMAT_KEY = "chart_format"  # the sidebar's setting, per session: "PNG" or "SVG"
FORMATS = ("PNG", "SVG")


def download_format() -> None:
    """The sidebar's "Chart downloads" setting, shared by every page for the session: the
    format the camera of every chart's toolbar saves (PNG unless a `?charts=svg` link or the
    person chose SVG)."""
    if FORMAT_KEY not in st.session_state:
        svg = st.query_params.get("charts") == "svg"
        st.session_state[FORMAT_KEY] = FORMATS[1] if svg else FORMATS[0]
    st.segmented_control(
        f"Chart downloads ({SLIDE_WIDTH} x {SLIDE_HEIGHT})",
        FORMATS,
        required=True,
        key=FORMAT_KEY,
        help=f"The camera at the top right of every chart (point at the chart to see its "
        f"toolbar) saves it at slide size, {SLIDE_WIDTH} x {SLIDE_HEIGHT}, with its text twice "
        "as large as on screen. PNG: a picture any slide tool takes. SVG: lines and text, "
        "sharp at any size on a slide (PowerPoint, Keynote, LibreOffice, Inkscape).",
    )


def draw_chart(figure: go.Figure, key: str, name: str | None = None) -> None:
    """Draw `figure` across its container (inside `with column:` for a column) under the
    widget key `key`, with the slide download in its toolbar: the session's format, the file
    named after the figure's title, else `name` (say what an untitled chart shows), else
    `key`."""
    image_format = st.session_state.get(FORMAT_KEY) or FORMATS[0]
    config = slide_config(image_format.lower(), chart_name(figure, name or key))
    # Streamlit's theme leaves almost no side margins: a saved slide's last panel would touch
    # the image's edge, and long category labels (the timeline's lanes) would be cut at the
    # left unless the axis makes room for them.
    if figure.layout.margin.r is None:
        figure.update_layout(margin_r=24)
    if figure.layout.margin.l is None:
        figure.update_layout(margin_l=16)
    figure.update_yaxes(automargin=True)
    st.plotly_chart(figure, width="stretch", key=key, config=config)


def facet_titles(figure: go.Figure) -> go.Figure:
    """Facet titles as the value alone ("NDCG@10", not "metric=NDCG@10")."""
    figure.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    return figure


def version_metrics_figure(frame: pd.DataFrame, metrics: list[str], x: str = "version_id"):
    """The Model versions page's chart: one panel per metric over the versions (`frame`: one
    row per version with column `x`, "aliases", "trigger" and the `metrics`). Versions tick
    as v1, v2..., bounded metrics span [0, 1]; panels are spaced so titles and tick labels
    do not overlap."""
    long = frame.melt(id_vars=[x, "aliases", "trigger"], value_vars=metrics, var_name="metric")
    rows = math.ceil(len(metrics) / 3)
    figure = px.line(
        long.sort_values(x),
        x=x,
        y="value",
        facet_col="metric",
        facet_col_wrap=3,
        facet_col_spacing=0.07,
        facet_row_spacing=0.22 if rows > 1 else 0.0,
        markers=True,
        hover_data=["aliases", "trigger"],
        labels={x: "version", "value": ""},
        height=260 * rows + 80,
    )
    figure.update_yaxes(matches=None, showticklabels=True)
    figure.update_xaxes(showticklabels=True)
    integer_axis(figure, "x", frame[x], prefix="v", ticks=6)
    facet_titles(figure)
    # Each panel's own y axis: [0, 1] for the bounded metrics, the data's range for the others.
    for annotation in figure.layout.annotations:
        if is_rate(annotation.text):
            anchor = _panel_yaxis(figure, annotation)
            if anchor is not None:
                figure.layout[anchor].update(range=[0, 1], autorange=False)
    return figure


def _panel_yaxis(figure: go.Figure, annotation) -> str | None:
    """The layout name ("yaxis3") of the y axis under a facet title."""
    for trace in figure.data:
        if trace.hovertemplate and f"metric={annotation.text}<" in trace.hovertemplate:
            return "yaxis" + trace.yaxis[1:]
    return None


def canary_figure(live: pd.DataFrame) -> go.Figure:
    """The canary tab's bars: the mean reward (a share of rewarded events, in [0, 1]) of each
    arm's version (`live`: columns version, arm, reward mean, events, rewards, likes)."""
    figure = px.bar(
        live.assign(version=live["version"].map(lambda v: f"v{v}")),
        x="version",
        y="reward mean",
        color="arm",
        hover_data=["events", "rewards", "likes"],
        height=300,
    )
    return rate_axis(figure)


# The A/B tests page's arms, in order.
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


def curve_figure(curve: pd.DataFrame, metric: str) -> go.Figure:
    figure = go.Figure()
    for i, (arm, rows) in enumerate(curve.groupby("arm", sort=False)):
        color = COLORS[i % len(COLORS)]
        figure.add_trace(
            go.Scatter(
                x=list(rows["day"]) + list(rows["day"][::-1]),
                y=list(rows["high"]) + list(rows["low"][::-1]),
                fill="toself",
                fillcolor=color,
                opacity=0.18,
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
            )
        )
        figure.add_trace(
            go.Scatter(x=rows["day"], y=rows["value"], name=plain(arm), line={"color": color})
        )
    figure.update_layout(
        title=f"Cumulative {LABELS[metric]} with 95 % bands",
        xaxis_title="lab days since start",
        yaxis_title=LABELS[metric],
        height=360,
        margin={"t": 50, "b": 40},
    )
    return rate_axis(figure) if metric in RATES else figure


def lift_figure(result: dict, control: str) -> go.Figure:
    rows = [c for c in result["comparisons"] if c["lift"] is not None]
    labels = [f"{plain(c['arm'])}: {LABELS[c['metric']]}" for c in rows]
    lifts = [c["lift"] for c in rows]
    figure = go.Figure(
        go.Scatter(
            x=lifts,
            y=labels,
            mode="markers",
            marker={"size": 10, "color": ["#2ca02c" if x > 0 else "#d62728" for x in lifts]},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [c["lift_high"] - c["lift"] for c in rows],
                "arrayminus": [c["lift"] - c["lift_low"] for c in rows],
            },
            name="lift, 95 % CI",
        )
    )
    if result["sequential"]:
        seq = [c for c in rows if c.get("sequential_low") is not None]
        figure.add_trace(
            go.Scatter(
                x=[(c["sequential_low"] + c["sequential_high"]) / 2 for c in seq],
                y=[f"{plain(c['arm'])}: {LABELS[c['metric']]}" for c in seq],
                mode="markers",
                marker={"size": 1, "color": "gray"},
                error_x={
                    "type": "data",
                    "array": [(c["sequential_high"] - c["sequential_low"]) / 2 for c in seq],
                },
                name="always-valid",
            )
        )
    figure.add_vline(x=0, line_dash="dot")
    figure.update_layout(
        title=f"Relative lift against {plain(control)}",
        xaxis_tickformat="+.0%",
        height=360,
        margin={"t": 50, "b": 40},
    )
    return figure
