"""The Tour page: the guided defense tour (`recsys.tour`) step by step, with presenter notes,
Next and Previous by button or arrow key, Rehearse again, and a one-file handout."""

from __future__ import annotations

import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from recsys import tour as story
from recsys.algorithms import REGISTRY
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.ui import sharing
from recsys.ui.charts import draw_chart, integer_axis
from recsys.ui.panels import affinity_table, truth_caption, truth_chart
from recsys.ui.widgets import diff_view, md, what_a_replacement_loses

STEPS = story.DEFENSE


def tour_view(engine: Engine) -> None:
    state = st.session_state
    tour: story.Tour | None = state.get("tour")
    if tour is None:
        _start(engine)
        return
    index = state.get("tour_step", 0)
    step = STEPS[index]
    st.progress((index + 1) / len(STEPS), text=f"Step {index + 1} of {len(STEPS)}: {step.title}")
    back, forward, again, handout = st.columns([1, 1, 1.3, 1.6])
    back.button(
        "Previous",
        key="tour_previous",
        icon=":material/arrow_back:",
        disabled=index == 0,
        shortcut="Left",
        on_click=_go,
        args=(index - 1,),
        width="stretch",
    )
    forward.button(
        "Next",
        key="tour_next",
        icon=":material/arrow_forward:",
        type="primary",
        disabled=index == len(STEPS) - 1,
        shortcut="Right",
        on_click=_go,
        args=(index + 1,),
        width="stretch",
    )
    again_clicked = again.button(
        "Rehearse again", key="tour_again", icon=":material/replay:", width="stretch"
    )
    if again_clicked and sharing.allowed("rehearse the tour (it resets the lab)"):
        started = time.perf_counter()
        story.rehearse(engine, tour)
        state.tour_step = 0
        state.tour_said = f"Back to the start in {time.perf_counter() - started:.2f} s."
        st.rerun()
    handout.download_button(
        "Handout (HTML)",
        data=lambda: _handout(engine, tour),
        file_name="recsys-defense-tour.html",
        mime="text/html",
        key="tour_handout",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
        help="The steps as they ran, with their notes, and the session report: one file "
        "that opens offline.",
    )
    if said := state.pop("tour_said", None):
        st.success(said, icon=":material/replay:")
    try:
        with st.spinner(f"{step.title}…"):
            result = story.advance(engine, tour, index)
    except RecsysError as error:
        st.error(f"This step could not run: {md(error)}. Rehearse again to start over.")
        return
    st.subheader(step.title)
    st.info(md(step.notes), icon=":material/record_voice_over:")
    st.markdown(f"**{md(story.outcome(step.key, result))}**")
    DRAW[step.key](result)


def _start(engine: Engine) -> None:
    st.markdown(
        "The lab's story in eight steps, each performed for you from the seeded world with "
        "the lab's seed: a fresh visitor, one like and its diff, the model's view, Autopilot "
        "against the ground truth, the learning history, a retrain and its version, an A/B "
        "test against popularity and a taste drift. Next and Previous also work with the "
        "arrow keys."
    )
    choices = [name for name in REGISTRY if name != "popularity"]
    algorithm = st.selectbox(
        "Algorithm under test",
        choices,
        index=choices.index(st.session_state.get("algorithm", "mf"))
        if st.session_state.get("algorithm") in choices
        else 0,
        key="tour_algorithm",
        help="Tested against popularity in the A/B step; your own plugin works too.",
    )
    st.caption(f"Starting resets the lab: {md(what_a_replacement_loses(engine))} go.")
    start = st.button(
        "Start the tour", key="tour_start", type="primary", icon=":material/slideshow:"
    )
    if start and sharing.allowed("start the tour (it resets the lab)"):
        st.session_state.tour = story.Tour(algorithm)
        st.session_state.tour_step = 0
        st.rerun()


def _go(index: int) -> None:
    st.session_state.tour_step = max(0, min(index, len(STEPS) - 1))


def _handout(engine: Engine, tour: story.Tour) -> str:
    from recsys.data.report import session_report

    # The data is made when the button is clicked: a step still running (or not reached) is
    # said to be missing, not left out silently.
    steps = [
        (
            s.title,
            s.notes,
            story.outcome(s.key, tour.results[s.key]),
            FIGURES[s.key](tour.results[s.key]) if s.key in FIGURES else None,
        )
        if s.key in tour.results
        else (s.title, s.notes, "Not run when this handout was made.", None)
        for s in STEPS
    ]
    return session_report(engine, story.VISITOR, tour.algorithm, tour=steps)


def _fresh(result: dict) -> None:
    ranking = result["ranking"]
    st.markdown(
        "\n".join(
            f"{r.rank}. {md(r.title)} · {', '.join(map(md, r.genres))} · {r.score:.2f}"
            for r in ranking.items
        )
    )


def _like(result: dict) -> None:
    step = result["step"]
    st.success(md(step.message), icon=":material/psychology:")
    with st.container(border=True, key="diff"):
        diff_view(step)


def _model(result: dict) -> None:
    numbers = result["numbers"]
    if numbers:
        for column, (name, value) in zip(st.columns(len(numbers)), numbers.items(), strict=True):
            column.metric(name, f"{value:,.3f}" if value % 1 else f"{value:,.0f}")
    if not result["affinity"].empty:
        st.markdown(affinity_table(result["affinity"]))


def _autopilot(result: dict) -> None:
    draw_chart(truth_chart(result), key="tour_autopilot", name="autopilot against the truth")
    st.caption(truth_caption(result))


def _titled_truth_chart(result: dict) -> go.Figure:
    """The autopilot chart for the handout, where no page heading names it."""
    figure = truth_chart(result)
    return figure.update_layout(title="Autopilot against the truth", margin={"t": 60})


def _history_figure(result: dict) -> go.Figure:
    kinds = pd.Series(result["since"], dtype="str").value_counts(ascending=True)
    figure = go.Figure(go.Bar(x=kinds.to_numpy(), y=kinds.index, orientation="h"))
    figure.update_layout(
        title="Events since the seeded world, by kind", height=240, margin={"t": 40, "b": 30}
    )
    return integer_axis(figure, "x", [0, *kinds])


def _history(result: dict) -> None:
    draw_chart(_history_figure(result), key="tour_history")
    st.markdown("**The newest learning-log rows** (each update an event caused):")
    log = result["log"]
    columns = [c for c in ("seq", "algorithm", "kind", "user_change", "item_change") if c in log]
    st.table(log[columns].round(4), hide_index=True)


def _retrain(result: dict) -> None:
    versions = result["versions"]
    columns = [
        c for c in ("version", "aliases", "trigger", "n_events", "fit_seconds") if c in versions
    ]
    shown = versions[columns].assign(version=versions["version"].map(lambda n: f"v{n}"))
    st.dataframe(shown, hide_index=True, width="stretch", key="tour_versions")


def _ab(result: dict) -> None:
    rows = [
        {
            "arm": arm["arm"],
            "users": arm["users"],
            "impressions": arm["impressions"],
            "measured click-through": arm["ctr"]["value"] if arm["ctr"] else None,
            "true click-through": arm["true_ctr"],
        }
        for arm in result["report"]["arms"]
    ]
    rate = st.column_config.NumberColumn(format="percent")
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        key="tour_ab",
        column_config={"measured click-through": rate, "true click-through": rate},
    )


def _drift(result: dict) -> None:
    shifts = ", ".join(f"{md(a)} → {md(b)}" for a, b in result["shifts"].items())
    st.markdown(
        f"Taste shifts: {shifts}. Reward {result['reward_before']:.2f} before the shift, "
        f"{result['reward_after']:.2f} after."
    )
    if result["retrains"]:
        retrains = pd.DataFrame(result["retrains"]).rename(
            columns={"at_seq": "at seq", "seconds": "fit s"}
        )
        st.dataframe(retrains.round({"fit s": 2}), hide_index=True, key="tour_drift")


DRAW = {
    "fresh": _fresh,
    "like": _like,
    "model": _model,
    "autopilot": _autopilot,
    "history": _history,
    "retrain": _retrain,
    "ab": _ab,
    "drift": _drift,
}

# The steps whose chart the handout carries too, as drawn on the page.
FIGURES = {"autopilot": _titled_truth_chart, "history": _history_figure}
