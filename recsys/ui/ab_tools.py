"""The A/B tests page's tools: A/A tests and peeking, sample size, off-policy, analytics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from recsys.algorithms import REGISTRY
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.experiments import stats as abstats
from recsys.experiments.aa import aa_rates
from recsys.experiments.analysis import most_active, performance
from recsys.experiments.offpolicy import evaluate_experiment
from recsys.experiments.population import MAX_PEOPLE
from recsys.experiments.simulation import simulate
from recsys.experiments.sized import simulate_planned
from recsys.ui import tables
from recsys.ui.charts import draw_chart, integer_axis, rate_axis
from recsys.ui.experiments import _arm_choices, pick_experiment
from recsys.ui.widgets import md

METHODS = {
    "ips": "IPS",
    "snips": "SNIPS",
    "direct": "direct method",
    "doubly_robust": "doubly robust",
}
PEEKING = """
**Why peeking misleads.** A fixed-horizon p-value promises a 5 % false-alarm rate *once*, at
the sample size you planned. Look at it every day and stop the first time it dips below 0.05,
and every look is another draw: the chance that at least one of them dips by luck grows with
each look, so "significant" results that are pure noise become common (the *Peeking* rate of
the A/A tests above). The always-valid interval (a confidence sequence: Howard et al. 2021, in
the asymptotic form of Waudby-Smith et al. 2021 that GrowthBook uses) is built to hold at every
sample size at once, so stopping when it excludes zero keeps the false-alarm rate at alpha
however often you look. It is wider at any single look: that is the price of being allowed to
look.
"""


def aa_view(engine: Engine) -> None:
    st.markdown(
        "Run many **A/A tests**: both arms serve the same model, so every significant result "
        "is a false positive. A sound test finds one in about alpha of the runs."
    )
    n_people = max(len(engine.experiments.simulated_people()), 1)
    cols = st.columns(5, vertical_alignment="bottom")
    algorithm = cols[0].selectbox("Algorithm", list(REGISTRY), key="aa_algorithm")
    runs = cols[1].number_input("A/A tests", 10, 2000, 200, 10, key="aa_runs")
    users = cols[2].number_input(
        "People", 4, MAX_PEOPLE, min(n_people, 200), key="aa_users",
        help=f"The world has {n_people:,}; past that, more are drawn from its population model.",
    )  # fmt: skip
    sessions = cols[3].number_input("Visits each", 1, 100, 5, key="aa_sessions")
    go_ = cols[4].button("Run A/A tests", key="aa_run", icon=":material/replay:", width="stretch")
    if go_:
        progress = st.progress(0.0, text="Ranking…")
        try:
            st.session_state.aa_result = aa_rates(
                engine, algorithm, runs=int(runs), users=int(users), sessions=int(sessions),
                progress=lambda share, text: progress.progress(share, text=text),
            )  # fmt: skip
        except RecsysError as error:
            st.error(f"The A/A tests did not run: {md(error)}.")
            return
    result = st.session_state.get("aa_result")
    if result:
        rates = result["false_positive_rate"]
        cols = st.columns(4)
        cols[0].metric("User unit (delta method)", f"{rates['user']:.1%}")
        cols[1].metric("Impressions as independent", f"{rates['impression']:.1%}")
        cols[2].metric(f"Peeking ({result['looks']} looks)", f"{rates['peeking']:.1%}")
        cols[3].metric("Always-valid, same looks", f"{rates['sequential']:.1%}")
        st.caption(
            f"{result['runs']} A/A tests of {result['algorithm']}, {result['users']} people x "
            f"{result['sessions']} visits, alpha {result['alpha']}. The first should be close "
            "to alpha. The second is wrong in one direction or the other: too many false "
            "alarms when a person's clicks go together, too few (and lost power) when, as "
            "with this world's one pick per visit, they exclude each other."
        )
        draw_chart(p_value_figure(result["p_values"]), key="aa_hist")
    st.markdown(PEEKING)


def p_value_figure(p_values) -> go.Figure:
    """The A/A tests' p-values in 20 bins on [0, 1], counts on whole-number ticks."""
    figure = go.Figure(go.Histogram(x=p_values, xbins={"start": 0, "end": 1, "size": 0.05}))
    figure.update_layout(
        title="p-values of the A/A tests (uniform when the test is sound)",
        xaxis_title="p-value",
        yaxis_title="A/A tests",
        height=300,
        margin={"t": 50, "b": 40},
    )
    counts, _ = np.histogram(np.asarray(p_values, dtype=float), bins=20, range=(0, 1))
    integer_axis(figure, "y", [0, *counts], ticks=5)
    return rate_axis(figure, "x")


def size_view(engine: Engine | None = None) -> None:
    cols = st.columns(4)
    baseline = cols[0].number_input("Baseline rate", 0.001, 0.999, 0.08, 0.01, format="%.3f")
    mde = cols[1].number_input(
        "Minimum detectable effect (relative)", -0.99, 5.0, 0.05, 0.01, format="%.3f"
    )
    alpha = cols[2].select_slider("Alpha", [0.01, 0.05, 0.1], value=0.05, key="size_alpha")
    power = cols[3].select_slider("Power", [0.7, 0.8, 0.9, 0.95], value=0.8, key="size_power")
    try:
        n = abstats.sample_size(baseline, mde, alpha, power)
    except RecsysError as error:
        st.error(f"{md(error)}. Change the inputs.")
        return
    st.metric("Users per arm", f"{n:,}", help="Two-sided two-proportion test, normal approx.")
    rows = []
    for effect in (0.01, 0.02, 0.05, 0.1, 0.2):
        try:
            rows.append(
                {"relative effect": f"{effect:+.0%}", "users per arm": abstats.sample_size(
                    baseline, effect, alpha, power)}
            )  # fmt: skip
        except RecsysError:
            continue
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption(
        "One user counts as one trial here: with several impressions per user, use the rate "
        "per user or expect the delta-method variance to change the answer."
    )
    if engine is not None:
        planned_run_view(engine, baseline, mde, alpha, power, n)


def planned_run_view(engine: Engine, baseline, mde, alpha, power, n: int) -> None:
    """One click: the test above, simulated at the size it needs, and whether it found it."""
    st.markdown(
        f"**Simulate this test at the size it needs**: {2 * n:,} simulated people (drawn "
        "from the world's population past its own), one visit to a one-item list each, so "
        "each person is one trial as the calculator assumes."
    )
    choices = _arm_choices(engine)
    cols = st.columns([2, 2, 1, 2], vertical_alignment="bottom")
    control = cols[0].selectbox("Control", choices, index=choices.index("popularity"),
                                key="size_control")  # fmt: skip
    treatment = cols[1].selectbox("Treatment", choices, index=choices.index("mf"),
                                  key="size_treatment")  # fmt: skip
    seed = cols[2].number_input("Seed", 0, 2**31 - 1, 0, key="size_seed")
    if cols[3].button(
        f"Simulate {2 * n:,} people", key="size_simulate", icon=":material/play_arrow:",
        type="primary", width="stretch",
    ):  # fmt: skip
        progress = st.progress(0.0, text="Drawing people…")
        try:
            st.session_state.size_result = simulate_planned(
                engine, control, treatment, float(baseline), float(mde), float(alpha),
                float(power), seed=int(seed),
                progress=lambda share, text: progress.progress(min(share, 1.0), text=text),
            )  # fmt: skip
        except RecsysError as error:
            progress.empty()
            st.error(f"The test was not simulated: {md(error)}. Change the inputs or the arms.")
            return
        progress.empty()
    run = st.session_state.get("size_result")
    if not run:
        return
    (st.success if run["reached"] else st.warning)(md(run["sentence"]))
    plan, measured, truth = run["plan"], run["measured"], run["truth"]
    cols = st.columns(4)
    cols[0].metric("Reached its power?", "yes: detected" if run["reached"] else "no: missed")
    cols[1].metric("Planned power", f"{plan['power']:.0%}")
    had = run["power_had"]
    cols[2].metric("Power at the true rates", "n/a" if had is None else f"{had:.0%}")
    cols[3].metric("Users per arm", f"{plan['per_arm']:,}")
    rows = [
        ("planned", plan["baseline"], plan["baseline"] * (1 + plan["mde"]), plan["mde"]),
        ("measured", measured["control"], measured["treatment"], measured["lift"]),
        ("truth", truth["control"], truth["treatment"], truth["lift"]),
    ]
    table = pd.DataFrame(rows, columns=["", "control rate", "treatment rate", "relative lift"])
    st.dataframe(
        table, hide_index=True, key="size_table",
        column_config={c: st.column_config.NumberColumn(c, format="percent")
                       for c in ("control rate", "treatment rate", "relative lift")},
    )  # fmt: skip
    name = run["report"]["experiment"]["name"]
    st.caption(md(f"Stored as the simulated experiment {name} (see Results)."))


def offpolicy_view(engine: Engine) -> None:
    st.markdown(
        "Estimate a **new policy's** click rate from logs a different policy collected, using "
        "the propensity of every logged impression, and compare with the simulated truth. "
        "The logs must explore: a one-item list where the lead item is random with chance "
        "*explore*."
    )
    with st.expander("Log exploring traffic", expanded=False, icon=":material/shuffle:"):
        cols = st.columns(4, vertical_alignment="bottom")
        logging = cols[0].multiselect(
            "Logging arms", list(REGISTRY), default=["popularity", "item_knn"], key="ope_arms"
        )
        epsilon = cols[1].number_input("Explore", 0.05, 1.0, 1.0, 0.05, key="ope_eps")
        visits = cols[2].number_input("Visits each", 10, 500, 200, 10, key="ope_visits")
        if cols[3].button("Log traffic", key="ope_log", width="stretch"):
            try:
                result = simulate(
                    engine, ",".join(logging), sessions=int(visits), slate=1,
                    explore=float(epsilon), seed=int(visits),
                )  # fmt: skip
            except RecsysError as error:
                st.error(f"Nothing was logged: {md(error)}.")
            else:
                st.session_state.ope_experiment_select = result["experiment"]["name"]
                st.rerun()
    experiment = pick_experiment(
        engine, "ope_experiment", only=lambda e: e.slate == 1 and e.explore > 0
    )
    if experiment is None:
        st.info("No exploring logs yet: log some traffic above first.")
        return
    target = st.selectbox("Policy to evaluate", list(REGISTRY), key="ope_target")
    try:
        result = evaluate_experiment(engine, experiment, target)
    except RecsysError as error:
        st.error(f"{md(error)}.")
        return
    frame = pd.DataFrame(result["estimates"])
    frame["method"] = frame["method"].map(METHODS)
    ess = result["effective_sample_size"]
    if ess < 100:
        st.warning(
            f"Only about {ess:.0f} logged impressions effectively inform this estimate (the "
            "logs rarely showed what this policy would): IPS and its interval are unreliable. "
            "Log more traffic or explore more.",
            icon=":material/warning:",
        )
    figure = go.Figure(
        go.Scatter(
            x=frame["value"],
            y=frame["method"],
            mode="markers",
            marker={"size": 11},
            error_x={"type": "data", "symmetric": False, "array": frame["high"] - frame["value"],
                     "arrayminus": frame["value"] - frame["low"]},
            name="estimate, 95 % CI",
        )
    )  # fmt: skip
    if result["truth"] is not None:
        figure.add_vline(x=result["truth"], line_color="green", annotation_text="truth")
    figure.add_vline(x=result["logged_ctr"], line_dash="dot", annotation_text="logged rate")
    figure.update_layout(
        title=f"{target}'s lead-slot click rate, estimated from {result['impressions']:,} "
        "logged impressions",
        xaxis_title="click rate of the lead slot",
        height=320,
        margin={"t": 50, "b": 40},
    )
    rate_axis(figure, "x")
    draw_chart(figure, key="ope_chart")
    st.dataframe(frame.round(4), hide_index=True)
    st.caption(
        "IPS reweights each logged click by how much likelier the new policy is to show that "
        "item; SNIPS normalises the weights; the direct method trusts a reward model (here "
        "deliberately simple: per-item click rates, blind to the person); doubly robust uses the "
        "model and corrects it with IPS on its errors."
    )


def analytics_view(engine: Engine) -> None:
    days = st.slider("Last N days of the lab clock", 1, 90, 7, key="analytics_days")
    try:
        per_algorithm = performance(engine.store, engine.lab_time, float(days))
        active = most_active(engine.store, engine.lab_time, float(days))
    except RecsysError as error:
        st.error(f"{md(error)}.")
        return
    st.markdown("**Performance per algorithm** (the lists people acted on, live and autopilot)")
    if per_algorithm.empty:
        st.caption("No served events in this window: use the Simulator or the autopilot.")
    else:
        st.dataframe(per_algorithm, hide_index=True, width="stretch")
    # One under the other: side by side, the items' columns were cut off at 1440 px.
    st.markdown("**Top-performing recommendations** (all experiments, most clicks)")
    st.dataframe(engine.experiments.top_items(), hide_index=True, width="stretch")
    st.markdown("**Most active users**")
    epoch = tables.epoch_of(engine.meta)
    active.insert(1, "last seen", tables.lab_times(active.pop("last_ts"), epoch))
    st.dataframe(
        active,
        hide_index=True,
        width="stretch",
        column_config={"last seen": st.column_config.DatetimeColumn(format=tables.TIME_FORMAT)},
    )
    now = tables.lab_times(pd.Series([engine.lab_time]), epoch).iloc[0]
    st.caption(
        f"Lab clock now: {now:%Y-%m-%d %H:%M:%S} (day {engine.lab_time / 86400.0:.1f} of the "
        "world)."
    )
