"""The Evaluation page's pieces: a side-by-side comparison and a parameter sweep."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from recsys.algorithms import REGISTRY
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.evaluation import evaluate, random_split, results_frame, sweep, temporal_split


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

        results = evaluate(
            chosen, split, engine.catalog, k, engine.weights, seed=seed, progress=step
        )
        progress.empty()
        st.session_state.eval_results = results_frame(results)
    frame = st.session_state.get("eval_results")
    if frame is not None:
        st.dataframe(frame.round(4), hide_index=True, width="stretch")
        metric = st.selectbox(
            "Chart",
            [c for c in frame.columns if c != "algorithm"],
            index=list(frame.columns).index(f"NDCG@{k}") - 1 if f"NDCG@{k}" in frame.columns else 0,
            key="eval_metric",
        )
        st.plotly_chart(px.bar(frame, x="algorithm", y=metric), width="stretch", key="eval_chart")


def parameter_sweep(engine: Engine, split, k: int) -> None:
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
    if st.button("Run sweep", key="sweep_run", icon=":material/stacked_line_chart:"):
        try:
            values = [
                int(v) if b["type"] in ("int", "bool") else float(v)
                for v in text.split(",")
                if v.strip()
            ]
        except ValueError:
            st.error("Values must be numbers separated by commas, e.g. 4, 8, 16.")
            return
        progress = st.progress(0.0, text="Sweeping…")
        try:
            frame = sweep(
                algorithm,
                parameter,
                values,
                split,
                engine.catalog,
                k,
                engine.weights,
                progress=lambda i, n: progress.progress(i / n, text=f"{i} of {n}"),
            )
        except RecsysError as error:
            st.error(f"{error}. Use values within the bounds.")
            return
        progress.empty()
        st.session_state.sweep_result = (algorithm, parameter, frame)
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
        long = frame.melt(id_vars=parameter, value_vars=shown, var_name="metric")
        st.plotly_chart(
            px.line(
                long,
                x=parameter,
                y="value",
                color="metric",
                markers=True,
                title=f"{algorithm}: {parameter}",
            ),
            width="stretch",
            key="sweep_chart",
        )
        st.dataframe(frame.round(4), hide_index=True, width="stretch")


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
