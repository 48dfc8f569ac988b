"""The A/B tests page's results and set-up: per-arm estimates, lifts, SRM, curves, creation."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys.algorithms import REGISTRY
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.experiments.analysis import cumulative, report
from recsys.experiments.assignment import Experiment
from recsys.experiments.metrics import LABELS, METRICS, RATES, SHORT_LABELS
from recsys.experiments.population import MAX_PEOPLE
from recsys.experiments.simulation import MAX_SESSIONS, create, simulate
from recsys.ui.charts import curve_figure, draw_chart, lift_figure
from recsys.ui.widgets import md


def pick_experiment(engine: Engine, key: str, only=None) -> Experiment | None:
    experiments = [e for e in engine.experiments.list() if only is None or only(e)]
    if not experiments:
        return None
    names = [e.name for e in experiments]
    wanted = st.session_state.pop(f"{key}_select", None)
    if wanted in names:
        st.session_state[key] = wanted
    name = st.selectbox(
        "Experiment",
        names,
        key=key,
        format_func=lambda n: f"{n} ({_status(experiments[names.index(n)])})",
    )
    return experiments[names.index(name)]


def _status(experiment: Experiment) -> str:
    return f"{experiment.mode}, {experiment.status}"


def results_view(engine: Engine) -> None:
    if flash := st.session_state.pop("ab_flash", None):
        st.success(md(flash), icon=":material/check_circle:")
    experiment = pick_experiment(engine, "ab_experiment")
    if experiment is None:
        st.info(
            "No experiment yet. Create one in **New experiment**: a simulated run finishes in a "
            "second or two; a live one assigns the people who use the Simulator page.",
            icon=":material/science:",
        )
        return
    left, middle, right, action = st.columns([2, 2, 1.4, 1.4], vertical_alignment="bottom")
    unit = left.radio(
        "Unit of analysis",
        ["user", "impression"],
        horizontal=True,
        key="ab_unit",
        help="The user was randomised, so by default each user is one observation (delta "
        "method). 'impression' treats every impression as independent: the textbook "
        "two-proportion z-test, which is wrong when one person's clicks are related.",
    )
    alpha = middle.select_slider("Alpha", [0.01, 0.05, 0.1], value=0.05, key="ab_alpha")
    sequential = right.toggle(
        "Always-valid",
        key="ab_sequential",
        help="Also show the sequential (always-valid) interval of each lift: safe to look "
        "at as often as you like. See the A/A and peeking tab for why that matters.",
    )
    running = experiment.mode == "live" and experiment.status == "running"
    if running and action.button(
        "Stop", key="ab_stop", icon=":material/stop_circle:", width="stretch"
    ):
        engine.stop_experiment(experiment.experiment_id)
        st.session_state.ab_flash = f"Stopped {experiment.name}."
        st.rerun()
    result = report(engine.store, experiment, unit=unit, sequential=sequential, alpha=alpha)
    _verdict(result)
    _arms_table(result)
    _comparisons_table(result)
    _srm(result)
    if experiment.details.get("interleaving"):
        _interleaving(experiment.details["interleaving"])
    rate = st.selectbox(
        "Metric over time", list(RATES), format_func=LABELS.get, key="ab_curve_metric"
    )
    curve = cumulative(engine.store, experiment, rate, unit=unit, alpha=alpha)
    if curve.empty:
        st.caption("The curves appear once the experiment has impressions.")
        return
    chart, lift = st.columns(2)
    with chart:
        draw_chart(curve_figure(curve, rate), key="ab_curve")
    with lift:
        draw_chart(lift_figure(result, experiment.control.name), key="ab_lift")


def _verdict(result: dict) -> None:
    srm = result["srm"]
    if srm and srm["mismatch"]:
        st.error(md(result["verdict"]), icon=":material/warning:")
    elif any(c["significant"] for c in result["comparisons"] if c["metric"] == "ctr"):
        st.success(md(result["verdict"]), icon=":material/verified:")
    else:
        st.info(md(result["verdict"]), icon=":material/hourglass_top:")


def _interval(estimate: dict | None, digits: int = 3) -> str:
    if estimate is None:
        return "n/a"
    value, low, high = (f"{estimate[k]:.{digits}f}" for k in ("value", "low", "high"))
    return f"{value} ({low}–{high})"


def _arms_table(result: dict) -> None:
    """Two tables, so every column shows at 1440 px: the traffic with the click-through rate
    beside its hidden truth, then the other metrics with their intervals."""
    labelled = any(arm["label"] != arm["arm"] for arm in result["arms"])
    traffic, others = [], []
    for arm in result["arms"]:
        row = {"arm": arm["arm"]} | ({"model": arm["label"]} if labelled else {})
        row |= {"share %": arm["share"], "users": arm["users"], "impressions": arm["impressions"]}
        row["CTR (95 % CI)"] = _interval(arm["ctr"])
        if arm["true_ctr"] is not None:  # the truth beside the estimate
            row["true CTR"] = round(arm["true_ctr"], 4)
            row["regret@k"] = round(arm["regret"], 3)
        traffic.append(row)
        others.append(
            {"arm": arm["arm"]}
            | {f"{SHORT_LABELS[m]} (95 % CI)": _interval(arm[m]) for m in METRICS if m != "ctr"}
        )
    st.markdown("**Per arm**")
    st.dataframe(pd.DataFrame(traffic), hide_index=True, width="stretch", key="ab_arms")
    st.dataframe(pd.DataFrame(others), hide_index=True, width="stretch", key="ab_arm_metrics")
    truth = (
        " True CTR and regret@k come from the simulated people's hidden taste: what each arm "
        "would give on average, which no log can measure. Compare them with the measured "
        "intervals."
        if result["arms"] and result["arms"][0]["true_ctr"] is not None
        else ""
    )
    st.caption(
        "CTR: click-through rate; avg rating: the average rating given, in stars. Each estimate "
        "is followed by its 95 % interval." + truth
    )
    if drawn := result.get("drawn_people"):
        st.caption(
            f"{drawn:,} of these people were drawn from the world's population model past its "
            "own (a persona, then a taste around it), each served as a look-alike of their "
            "persona; they are not users of the lab."
        )


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def _chance(comparison: dict) -> str | None:
    if comparison["chance_to_beat"] is not None:
        return f"{comparison['chance_to_beat']:.1%}"
    # A comparison that ran but has no chance: neither arm had an event to compare.
    return None if comparison["p_value"] is None else "n/a (no events)"


def _range(low, high) -> str:
    return "n/a" if low is None or high is None else f"{low:+.1%} to {high:+.1%}"


def _comparisons_table(result: dict) -> None:
    rows = []
    for c in result["comparisons"]:
        row = {
            "arm": c["arm"],
            "metric": SHORT_LABELS[c["metric"]],
            "lift": _pct(c["lift"]),
            "lift 95 % CI": _range(c["lift_low"], c["lift_high"]),
        }
        if result["sequential"]:
            row["always-valid CI"] = _range(c.get("sequential_low"), c.get("sequential_high"))
        row |= {
            "p-value": "n/a" if c["p_value"] is None else f"{c['p_value']:.3g}",
            "significant": c["significant"],
            "P(beats control)": _chance(c),
            "expected loss": None
            if c["expected_loss"] is None
            else float(f"{c['expected_loss']:.3g}"),
            "test": c["test"] or "n/a: too little data",
        }
        rows.append(row)
    st.markdown(f"**Against the control** (alpha {result['alpha']})")
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        key="ab_comparisons",
        column_config={"significant": st.column_config.CheckboxColumn("significant", width=80)},
    )
    st.caption(
        "Lift is relative (treatment / control − 1) with a delta-method interval. With the "
        "user as unit, every metric (the average rating too: a user's ratings go together) "
        "uses the delta-method z-test; with impressions as unit, rates use the two-proportion "
        "z-test and the average rating Welch's t-test. P(beats control) and expected "
        "loss (how much you give up if you pick the arm and it is worse) come from "
        "Beta-Binomial posteriors for rates and normal ones for the average rating. With "
        "Always-valid on, 'significant' means the always-valid interval excludes zero."
    )


def _srm(result: dict) -> None:
    srm = result["srm"]
    if srm is None:
        return
    cols = st.columns(3)
    cols[0].metric(
        "Sample ratio",
        "MISMATCH" if srm["mismatch"] else "OK",
        help="Chi-square test of the users per arm against the split; flagged at p < 0.001.",
    )
    cols[1].metric("Users per arm", " / ".join(str(c) for c in srm["counts"]))
    cols[2].metric("SRM p-value", f"{srm['p_value']:.3g}")


def _interleaving(result: dict) -> None:
    st.markdown(
        f"**Team-draft interleaving** of {md(result['a'])} and {md(result['b'])} on the same "
        f"people: {md(result['b'])} won {result['wins_b']} sessions, {md(result['a'])} "
        f"{result['wins_a']}, {result['ties']} ties. On balance {result['users_b']} people "
        f"preferred {md(result['b'])} and {result['users_a']} {md(result['a'])}: "
        f"{result['preference']:.1%} [{result['low']:.1%}, {result['high']:.1%}] for "
        f"{md(result['b'])}, sign test over people p = {result['p_value']:.3g}. Each visitor "
        "sees one list mixing both rankers, so the comparison needs far fewer visitors than an "
        "A/B split."
    )


def _arm_choices(engine: Engine) -> list[str]:
    versions = engine.version_store.versions()
    labels = [f"{r.algorithm}@v{r.version}" for r in versions.head(15).itertuples()]
    return [*REGISTRY, *labels]


def create_view(engine: Engine) -> None:
    live = engine.live_experiment
    if live is not None:
        st.info(
            f"Live experiment **{md(live.name)}** is running; stop it on the Results tab "
            "before starting another live one (simulated runs are always possible).",
            icon=":material/science:",
        )
    with st.form("ab_create"):
        top = st.columns([2, 1])
        name = top[0].text_input(
            "Name", placeholder="leave empty to name a simulated run", key="ab_name"
        )
        mode = top[1].radio("Mode", ["simulated", "live"], horizontal=True, key="ab_mode")
        arms = st.multiselect(
            "Arms (the first is the control)",
            _arm_choices(engine),
            default=["mf", "popularity"],
            key="ab_arms",
            help="An algorithm serves its production model; mf@v3 serves mf's stored v3.",
        )
        extra = st.text_input(
            "More arms by spec (optional)",
            placeholder="mf(factors=8,reg=0.1), B=mf",
            key="ab_extra",
            help="Comma-separated: an algorithm with other parameters is trained once and "
            "stored as a version; name=spec gives an arm a name (two arms with the same model "
            "make an A/A test).",
        )
        cols = st.columns(4)
        split = cols[0].text_input(
            "Split %", placeholder="even", help="e.g. 50,50 or 45/55", key="ab_split"
        )
        slate = cols[1].number_input("List length", 1, 50, 10, key="ab_slate")
        explore = cols[2].number_input(
            "Explore",
            0.0,
            1.0,
            0.0,
            0.05,
            key="ab_explore",
            help="Chance that the lead slot shows a random item (recorded as its propensity): "
            "what off-policy evaluation needs.",
        )
        seed = cols[3].number_input("Seed", 0, 2**31 - 1, 0, key="ab_seed")
        sim = st.columns(2)
        n_people = len(engine.experiments.simulated_people())
        users = sim[0].number_input(
            "Simulated people",
            1,
            MAX_PEOPLE,
            max(n_people, 1),
            key="ab_users",
            help=f"The world has {n_people:,}; past that, more are drawn from its population "
            "model (a persona, then a taste around it), each served as a look-alike of their "
            "persona. They are not added to the lab's users unless you keep them.",
        )
        sessions = sim[1].number_input("Visits each", 1, MAX_SESSIONS, 20, key="ab_sessions")
        keep = st.checkbox("Keep the drawn people as users of the lab", key="ab_keep_people")
        submitted = st.form_submit_button(
            "Create", icon=":material/play_arrow:", type="primary", key="ab_submit"
        )
    if not submitted:
        return
    spec = ",".join([*arms, *([extra] if extra.strip() else [])])
    try:
        if mode == "live":
            experiment = create(
                engine, name, spec, split or None, mode="live", slate=int(slate),
                explore=float(explore), seed=int(seed),
            )  # fmt: skip
            st.session_state.ab_flash = (
                f"Live experiment {experiment.name} started: people on the Simulator page are "
                "now assigned to its arms."
            )
        else:
            progress = st.progress(0.0, text="Starting…")
            result = simulate(
                engine, spec, name=name.strip() or None, split=split or None, users=int(users),
                sessions=int(sessions), seed=int(seed), slate=int(slate), explore=float(explore),
                progress=lambda share, text: progress.progress(min(share, 1.0), text=text),
                keep_people=bool(keep),
            )  # fmt: skip
            experiment = engine.experiments.get(result["experiment"]["name"])
            st.session_state.ab_flash = (
                f"Simulated {experiment.name}: {experiment.details['impressions']:,} impressions "
                f"at {experiment.details['impressions_per_second']:,.0f} per second."
            )
    except RecsysError as error:
        st.error(f"Nothing was created: {md(error)}. Fix it and press Create again.")
        return
    st.session_state.ab_experiment_select = experiment.name
    st.session_state.ab_goto = "Results"
    st.rerun()
