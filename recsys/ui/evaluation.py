"""The Evaluation page's pieces: a side-by-side comparison and a parameter sweep."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from recsys.algorithms import REGISTRY
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.evaluation import (
    config_label,
    evaluate,
    random_split,
    results_frame,
    sweep,
    sweep_costs,
    temporal_split,
)
from recsys.ui.charts import draw_chart, integer_axis, is_rate, rate_axis
from recsys.ui.widgets import md


def split_controls(engine: Engine):
    left, middle, right = st.columns(3)
    kind = left.selectbox("Split", ["random 80/20", "temporal: leave last n"], key="eval_split")
    seed = middle.number_input("Seed", 0, 1_000_000, 0, key="eval_seed")
    k = right.number_input("k", 1, 100, 10, key="eval_k")
    last = 1
    if kind.startswith("temporal"):
        last = st.number_input("Items held out per user (n)", 1, 20, 1, key="eval_last")
    events = engine.store.events()
    split = (
        random_split(events, 0.2, int(seed))
        if kind.startswith("random")
        else (temporal_split(events, int(last)))
    )
    st.caption(
        f"{split.name}: {len(split.train):,} training and {len(split.test):,} test "
        "events; the lab's database is not changed."
    )
    return split, int(k), int(seed)


def comparison(engine: Engine, split, k: int, seed: int) -> None:
    chosen = st.multiselect(
        "Algorithms",
        list(REGISTRY),
        key="eval_algorithms",
        default=["mf", "item_knn", "content", "popularity", "hybrid"],
    )
    if st.button("Evaluate", type="primary", key="eval_run", icon=":material/play_arrow:"):
        if not chosen:
            st.error("Pick at least one algorithm to evaluate.")
            return
        progress = st.progress(0.0, text="Fitting…")
        done = []

        def step(name: str) -> None:
            progress.progress(len(done) / len(chosen), text=f"Fitting and scoring {name}…")
            done.append(name)

        configs = {name: applied_config(engine, name) for name in chosen}
        results = evaluate(
            chosen, split, engine.catalog, k, engine.weights, configs, seed=seed, progress=step
        )
        progress.empty()
        frame = results_frame(results)
        frame.insert(1, "config", [config_label(n, configs[n]) for n in frame["algorithm"]])
        st.session_state.eval_results = frame
    frame = st.session_state.get("eval_results")
    if frame is not None:
        st.dataframe(frame.round(4), hide_index=True, width="stretch")
        metric = st.selectbox(
            "Chart",
            [c for c in frame.columns if c not in ("algorithm", "config")],
            index=list(frame.columns).index(f"NDCG@{k}") - 1 if f"NDCG@{k}" in frame.columns else 0,
            key="eval_metric",
        )
        figure = px.bar(frame, x="algorithm", y=metric)
        if is_rate(metric):
            rate_axis(figure)
        draw_chart(figure, key="eval_chart", name=f"offline evaluation {metric}")


def applied_config(engine: Engine, algorithm: str) -> dict:
    """The parameters `algorithm` serves with (its production version's, as Parameters applied
    them), read from the version registry: no model is built."""
    versions = engine.version_store
    production = versions.alias(algorithm, "production")
    return dict(versions.version(production)["config"]) if production is not None else {}


def parameter_sweep(engine: Engine, split, k: int, seed: int = 0) -> None:
    left, middle = st.columns(2)
    algorithm = left.selectbox("Algorithm", list(REGISTRY), key="sweep_algorithm")
    bounds = {b["name"]: b for b in REGISTRY[algorithm].config_class.bounds()}
    parameter = middle.selectbox(
        "Parameter",
        list(bounds),
        key="sweep_parameter",
        help=" · ".join(f"{n}: {b['help']}" for n, b in bounds.items()),
    )
    b = bounds[parameter]
    text = st.text_input(
        "Values (comma-separated)",
        _suggest(b),
        key="sweep_values",
        help=f"between {b['low']:g} and {b['high']:g}",
    )
    values, bad = _values(text, b["type"])
    base = {n: v for n, v in applied_config(engine, algorithm).items() if n != parameter}
    st.caption(
        f"Every other parameter as applied: {md(config_label(algorithm, base))}; the same "
        "split, seed and users as Compare."
    )
    estimates = _estimates(engine, algorithm, parameter, values, b, split)
    state = st.session_state
    if running := state.pop("sweep_running", None):  # the last run stopped before its end
        total, swept, varied = running
        done = state.pop("sweep_partial", [])
        st.warning(
            f"The sweep was stopped after {len(done)} of {total} points; the finished points "
            "are below."
            if done
            else "The sweep was stopped before its first point finished."
        )
        if done:
            state.sweep_result = (swept, varied, pd.DataFrame(done))
    if estimates:
        st.caption(
            f"{len(values)} points, about {_duration(sum(estimates))} in all (from the "
            f"production version's fit, {_duration(estimates[0])} for {values[0]:g} up to "
            f"{_duration(max(estimates))}); refined as points finish. Press Cancel, or change any "
            "setting, to stop after the point being measured."
        )
    if st.button("Run sweep", key="sweep_run", icon=":material/stacked_line_chart:"):
        if bad or not values:
            st.error("Values must be numbers separated by commas, e.g. 4, 8, 16.")
            return
        st.button("Cancel", key="sweep_cancel", icon=":material/cancel:")  # a click reruns
        bar = st.progress(0.0, text=f"Point 1 of {len(values)}…")
        state.sweep_running, state.sweep_partial = (len(values), algorithm, parameter), []

        def step(done: int, total: int, row: dict) -> None:
            state.sweep_partial = [*state.sweep_partial, row]
            spent = sum(r["seconds"] for r in state.sweep_partial)
            if estimates:  # the estimates, scaled by what the finished points took
                left = sum(estimates[done:]) * spent / sum(estimates[:done])
            else:
                left = spent / done * (total - done)
            text = f"{done} of {total} done ({parameter} = {row[parameter]:g} took "
            text += f"{row['seconds']:.1f} s)"
            bar.progress(
                done / total, text=text + (f"; about {_duration(left)} left" if left else "")
            )

        try:
            frame = sweep(
                algorithm,
                parameter,
                values,
                split,
                engine.catalog,
                k,
                engine.weights,
                progress=step,
                seed=seed,
                config=base,
            )
        except RecsysError as error:
            state.pop("sweep_running", None)
            st.error(f"{md(error)}. Use values within the bounds.")
            return
        state.pop("sweep_running", None)
        bar.empty()
        state.sweep_result = (algorithm, parameter, frame)
    result = st.session_state.get("sweep_result")
    if result:
        algorithm, parameter, frame = result
        metrics = [c for c in frame.columns if c not in (parameter, "users")]
        shown = st.multiselect(
            "Metrics",
            metrics,
            default=[m for m in metrics if m.startswith(("NDCG", "RMSE"))],
            key="sweep_metrics",
        )
        draw_chart(sweep_figure(frame, algorithm, parameter, shown), key="sweep_chart")
        st.dataframe(frame.round(4), hide_index=True, width="stretch")


def sweep_figure(frame: pd.DataFrame, algorithm: str, parameter: str, metrics: list[str]):
    """The sweep's metrics over the parameter's values: whole-number ticks for a whole-number
    parameter, [0, 1] when every metric shown is a rate."""
    long = frame.melt(id_vars=parameter, value_vars=metrics, var_name="metric")
    figure = px.line(
        long,
        x=parameter,
        y="value",
        color="metric",
        markers=True,
        title=f"{algorithm}: {parameter}",
    )
    values = frame[parameter]
    if len(values) and (values == values.round()).all():
        integer_axis(figure, "x", values)
    if metrics and all(is_rate(m) for m in metrics):
        rate_axis(figure)
    return figure


def _values(text: str, kind: str) -> tuple[list[float], bool]:
    """The comma-separated values, and whether any of them is not a number."""
    try:
        parse = int if kind in ("int", "bool") else float
        return [parse(v) for v in text.split(",") if v.strip()], False
    except ValueError:
        return [], True


def _estimates(engine: Engine, algorithm: str, parameter: str, values, bound, split) -> list:
    """Seconds per point, from the production version's fit scaled to the training split."""
    if not values:
        return []
    version = engine.version_store.version(engine.version_store.alias(algorithm, "production"))
    fit, events = version.get("fit_seconds"), version.get("n_events")
    if not fit or not events:
        return []
    # The version's own config: reading it builds no model (this runs on every rerun).
    current = version["config"].get(parameter, bound["default"])
    reference = fit * len(split.train) / events
    return sweep_costs(parameter, values, float(current), reference)


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def _suggest(bound: dict) -> str:
    if bound["name"] == "factors":
        return "4, 8, 16, 32, 64, 128"
    if bound["type"] == "bool":
        return "0, 1"  # off, on
    low, high, default = bound["low"], bound["high"], bound["default"]
    values = sorted(
        {
            max(low, default / 4),
            max(low, default / 2),
            default,
            min(high, default * 2),
            min(high, default * 4),
        }
    )
    return ", ".join(f"{int(v)}" if bound["type"] == "int" else f"{v:g}" for v in values)
