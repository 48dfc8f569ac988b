"""The session report: one self-contained HTML file to take to a defense.

It holds the lab's setup, one person's interactions with the before/after of their list (rebuilt
from the log by `timetravel.journey`), the learning history, the model versions and the A/B
results. Plotly's JavaScript is inlined once, so the file opens offline with working charts;
every text from the catalog or a user is HTML-escaped.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from recsys.algorithms import DEFAULT_ALGORITHM, algorithm_class
from recsys.data.axes import integer_axis, rate_axis
from recsys.data.slides import chart_name, slide_config
from recsys.errors import RecsysError
from recsys.events import validate_user
from recsys.experiments.analysis import cumulative, report
from recsys.lifecycle.timetravel import journey
from recsys.ranking import diff
from recsys.store.versions import timeline
from recsys.world import DAY, EPOCH

MAX_STOPS = 30
MAX_EXPERIMENTS = 5
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;line-height:1.45}
h1{margin-bottom:.2rem}h2{margin-top:2.4rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f6}.muted{color:#666;font-size:.9rem}.in{color:#1a7f37}.out{color:#b42318}
"""
# Run by plotly once a chart is drawn (`_chart`'s post_script): the toolbar gets a second
# download button, SVG at the camera's size, beside the camera (PNG). Plotly's config is JSON,
# so a button, which is a function, is added here by redrawing the chart with it. The toolbar
# is listed whole: the two downloads first, then zoom and pan (every chart here is a 2D one),
# and no "Share chart..." (an upload to plotly's cloud has no place in an offline handout).
SVG_BUTTON = """
function addSvgButton(id, config) {
  var gd = document.getElementById(id), size = config.toImageButtonOptions;
  var button = {
    name: "downloadSvg",
    title: "Download plot as an SVG (" + size.width * size.scale + " x " +
      size.height * size.scale + ")",
    icon: Plotly.Icons.disk,
    click: function (gd) {
      Plotly.downloadImage(gd, Object.assign({}, size, {format: "svg"}));
    }
  };
  var buttons = [["toImage", button], ["zoom2d", "pan2d"],
                 ["zoomIn2d", "zoomOut2d", "autoScale2d", "resetScale2d"]];
  return Plotly.react(gd, gd.data, gd.layout,
                      Object.assign({}, config, {modeBarButtons: buttons}));
}
"""


def session_report(
    engine,
    user: str | None = None,
    algorithm: str | None = None,
    tour: list[tuple[str, str, str, go.Figure | None]] | None = None,
) -> str:
    """The HTML report; `user` defaults to whoever acted last in the lab. `tour`: the defense
    tour's steps as they ran, (title, presenter notes, what it showed, its chart or None),
    shown first: the tour's handout."""
    name = algorithm_class(algorithm or DEFAULT_ALGORITHM).name
    if user is not None:
        validate_user(user)
    else:
        user = _last_live_user(engine)
    parts = [
        f"<h1>Recsys Learning Lab: session report</h1><p class=muted>Generated "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, lab clock day {engine.lab_time / DAY:.1f}, "
        f"{engine.last_seq:,} events.</p>",
        _tour(tour) if tour else "",
        _setup(engine, name),
        _interactions(engine, user, name),
        _history(engine),
        _versions(engine, name),
        _experiments(engine),
    ]
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        "<title>Recsys Learning Lab report</title>"
        f"<style>{STYLE}</style><script>{get_plotlyjs()}</script><script>{SVG_BUTTON}</script>"
        "</head>"
        f"<body>{body}</body></html>"
    )


def _tour(steps: list[tuple[str, str, str, go.Figure | None]]) -> str:
    items = "".join(
        f"<li><b>{_e(title)}</b><p>{_e(shown)}</p>{_chart(figure) if figure else ''}"
        f"<p class=muted>{_e(notes)}</p></li>"
        for title, notes, shown, figure in steps
    )
    return f"<h2>The defense tour, step by step</h2><ol>{items}</ol>"


def _e(value) -> str:
    return html.escape(str(value))


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p class=muted>Nothing yet.</p>"
    return frame.to_html(
        index=False, escape=True, border=0, na_rep="", float_format="{:.4g}".format
    )


def _chart(figure: go.Figure) -> str:
    # Plotly's own template, named: inside the app, Streamlit makes its "streamlit" template
    # the default, whose colours are placeholders (#000001...) that only Streamlit's front end
    # replaces, so a report made there would draw every bar and legend swatch black.
    # Its toolbar saves it for a slide: the camera as PNG, the button SVG_BUTTON adds as SVG,
    # both at 1920 x 1080 and named after its title.
    figure.update_layout(template="plotly", height=340, margin={"t": 50, "b": 40, "l": 70, "r": 20})
    config = slide_config("png", chart_name(figure, "report chart")) | {"responsive": True}
    return figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        config=config,
        post_script=f"return addSvgButton('{{plot_id}}', {json.dumps(config)});",
    )


def _last_live_user(engine) -> str | None:
    return engine.store.last_live_user()


def _setup(engine, algorithm: str) -> str:
    """The scenario (what it shows, and its JSON to load it again) and the setup in force."""
    meta = engine.meta
    source = (
        f"imported {meta.get('dataset_format')} data; semi-synthetic ground truth, seed "
        if meta.get("world") == "dataset"
        else "generated, seed "
    )
    rows = [
        ("world", f"{meta.get('label', meta.get('world', ''))} ({source}{meta.get('seed', '?')})"),
        ("catalog", f"{engine.catalog.n:,} items"),
        ("event weights", _pairs(meta.get("weights", "default"))),
        ("algorithm", algorithm),
        ("parameters", _pairs(engine.model(algorithm).config.to_dict())),
        (
            "production version",
            engine.version_store.label_of(engine.version_store.alias(algorithm, "production")),
        ),
        ("policies", _pairs(engine.lifecycle.policy.to_dict())),
    ]
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return _scenario(meta) + f"<h2>Setup</h2><table>{cells}</table>"


def _pairs(value) -> str:
    """A setting's name = value pairs as a reader of the report reads them (not JSON); a JSON
    object in a string (as the lab's meta holds it) is read first, other text kept as is."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if not isinstance(value, dict):
        return str(value)
    return ", ".join(f"{name} = {_plain(v)}" for name, v in value.items()) or "none"


def _plain(value) -> str:
    if isinstance(value, dict):
        return "(" + _pairs(value) + ")"
    if isinstance(value, bool | None):
        return {True: "on", False: "off", None: "none"}[value]
    return str(value)


def _scenario(meta: dict[str, str]) -> str:
    if "scenario_setup" not in meta:
        return (
            "<h2>Scenario</h2><p class=muted>No scenario loaded: the lab was set up by hand "
            "(save it as a scenario on the Data page to reproduce it).</p>"
        )
    setup = json.loads(meta["scenario_setup"])
    return (
        f"<h2>Scenario: {_e(setup.get('title', setup['name']))}</h2>"
        f"<p>{_e(setup.get('description', ''))}</p>"
        f"<details><summary>Its JSON (load it with <code>python -m recsys scenario load "
        f"FILE</code>)</summary><pre>{_e(json.dumps(setup, indent=2))}</pre></details>"
    )


def _interactions(engine, user: str | None, algorithm: str) -> str:
    title = "<h2>Interactions and what the model learned</h2>"
    if user is None:
        return title + "<p class=muted>Nobody has used the lab live yet.</p>"
    stops = journey(engine, user, algorithm)[-MAX_STOPS:]
    if not stops:
        return title + f"<p class=muted>{_e(user)} has no live events to replay.</p>"
    rows = []
    for previous, stop in zip([None, *stops[:-1]], stops, strict=True):
        change = diff(previous.ranking, stop.ranking) if previous else None
        entered = ", ".join(r.title for r in change.entered) if change else ""
        left = ", ".join(r.title for r in change.left) if change else ""
        action = stop.kind + (f" {stop.value:g}" if stop.value is not None else "")
        rows.append(
            f"<tr><td>{stop.seq}</td><td>{_e(action)}</td>"
            f"<td>{_e(engine.item_title(stop.item))}</td>"
            f"<td>{_e(', '.join(r.title for r in stop.ranking.items[:3]))}</td>"
            f"<td class=in>{_e(entered)}</td><td class=out>{_e(left)}</td></tr>"
        )
    head = (
        "<tr><th>seq</th><th>action</th><th>item</th><th>top 3 after</th>"
        "<th>entered the top 10</th><th>left it</th></tr>"
    )
    text = (
        f"<p>The last {len(stops)} event{'s' if len(stops) != 1 else ''} of <b>{_e(user)}</b> "
        f"with {_e(algorithm)}, each list "
        "rebuilt from the event log exactly as it was shown.</p>"
    )
    regret = [s.regret for s in stops if s.regret is not None]
    chart = ""
    if regret:
        figure = go.Figure(go.Scatter(x=[s.seq for s in stops], y=regret, mode="lines+markers"))
        figure.update_layout(
            title="Regret@10 against the persona's hidden taste", xaxis_title="seq"
        )
        chart = _chart(integer_axis(figure, "x", [s.seq for s in stops]))
    return title + text + f"<table>{head}{''.join(rows)}</table>" + chart


def _history(engine) -> str:
    rows = timeline(engine.store, limit=5000)
    counts = rows.groupby("kind").size().rename("rows").reset_index()
    events = engine.store.events_per_day()
    chart = ""
    if not events.empty:
        figure = go.Figure(
            [go.Bar(x=g["day"], y=g["n"], name=k) for k, g in events.groupby("kind")]
        )
        figure.update_layout(
            barmode="stack", title="Live and simulated events per lab day", xaxis_title="day"
        )
        integer_axis(figure, "x", events["day"])
        chart = _chart(integer_axis(figure, "y", [0, *events.groupby("day")["n"].sum()]))
    model_rows = rows[~rows["kind"].isin(["interaction", "online update"])].head(30)
    epoch = pd.Timestamp(engine.meta.get("epoch") or EPOCH)
    when = epoch + pd.to_timedelta(model_rows.pop("ts").round(), unit="s")
    model_rows.insert(1, "lab time", when.dt.strftime("%Y-%m-%d %H:%M:%S"))
    model_rows = model_rows.fillna("")
    return (
        "<h2>Learning history</h2>"
        + _table(counts)
        + chart
        + "<p>Retrains, promotions, rollbacks, drift alarms and scenario marks, newest first:</p>"
        + _table(model_rows)
    )


def _versions(engine, algorithm: str) -> str:
    engine.lifecycle.measured(algorithm)
    frame = engine.version_store.versions(algorithm)
    frame["version"] = [f"v{n}" for n in frame["version"]]  # its algorithm's number
    keep = [
        c
        for c in ("version", "aliases", "trigger", "trained_through_seq", "n_events",
                  "RMSE", "precision@10", "recall@10", "NDCG@10", "coverage", "fit_seconds")
        if c in frame.columns
    ]  # fmt: skip
    chart = ""
    if "NDCG@10" in frame.columns and frame["NDCG@10"].notna().any():
        ordered = frame.sort_values("version_id")
        figure = go.Figure(go.Bar(x=ordered["version"], y=ordered["NDCG@10"]))
        figure.update_layout(title=f"{algorithm}: NDCG@10 on the fixed holdout per version")
        chart = _chart(rate_axis(figure))
    return f"<h2>Model versions of {_e(algorithm)}</h2>" + _table(frame[keep]) + chart


def _experiments(engine) -> str:
    experiments = engine.experiments.list()[:MAX_EXPERIMENTS]
    if not experiments:
        return "<h2>A/B tests</h2><p class=muted>No experiment yet.</p>"
    parts = ["<h2>A/B tests</h2>"]
    for index, experiment in enumerate(experiments):
        try:
            result = report(engine.store, experiment)
        except RecsysError as error:
            parts.append(f"<h3>{_e(experiment.name)}</h3><p>{_e(error)}</p>")
            continue
        arms = pd.DataFrame(
            [
                {
                    "arm": a["arm"],
                    "model": a["label"],
                    "users": a["users"],
                    "impressions": a["impressions"],
                    "CTR": None if a["ctr"] is None else round(a["ctr"]["value"], 4),
                    "CTR 95 % CI": ""
                    if a["ctr"] is None
                    else f"{a['ctr']['low']:.4f} to {a['ctr']['high']:.4f}",
                    "true CTR": None if a["true_ctr"] is None else round(a["true_ctr"], 4),
                }
                for a in result["arms"]
            ]
        )
        comparisons = pd.DataFrame(
            [
                {k: c[k] for k in ("arm", "metric", "lift", "lift_low", "lift_high", "p_value",
                                   "test")}
                | {"chance_to_beat": "no evidence (no events)"
                   if c["chance_to_beat"] is None and c["p_value"] is not None
                   else c["chance_to_beat"]}
                for c in result["comparisons"]
            ]
        )  # fmt: skip
        parts.append(
            f"<h3>{_e(experiment.name)} ({_e(experiment.mode)}, {_e(experiment.status)})</h3>"
            f"<p>{_e(result['verdict'])}</p>" + _table(arms) + _table(comparisons)
        )
        if index == 0:
            curve = cumulative(engine.store, experiment)
            if not curve.empty:
                figure = go.Figure(
                    [
                        go.Scatter(x=g["day"], y=g["value"], name=_e(a))
                        for a, g in curve.groupby("arm")
                    ]
                )
                figure.update_layout(title="Cumulative click-through rate", xaxis_title="day")
                parts.append(_chart(rate_axis(figure)))
    return "\n".join(parts)
