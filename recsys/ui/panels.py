"""The simulator's side panels: what the model holds, Autopilot, resets, presenter styling."""

from __future__ import annotations

import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from recsys import simulation
from recsys.algorithms import SCALES
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.simulation import WINDOW
from recsys.ui import sharing
from recsys.ui.charts import draw_chart, integer_axis
from recsys.ui.widgets import md

# Constant CSS only: no user or catalog text ever goes through unsafe HTML.
PRESENTER_CSS = """
<style>
[class*="st-key-card-"] p, [class*="st-key-card-"] li { font-size: 1.25rem; }
[class*="st-key-card-"] [data-testid="stCaptionContainer"] p { font-size: 1.05rem; }
[class*="st-key-card-"] [data-testid="stMetricValue"],
[class*="st-key-card-"] [data-testid="stMetricValue"] * { font-size: 3.2rem; line-height: 1.2; }
[class*="st-key-card-"] [data-testid="stMetricLabel"] p { font-size: 1.1rem; }
[class*="st-key-card-"] button p { font-size: 1.1rem; }
[data-testid="stAlertContentSuccess"] p { font-size: 1.3rem; }
.st-key-diff p, .st-key-diff li { font-size: 1.2rem; }
h1 { font-size: 3rem !important; }
</style>
"""


def presenter_style() -> None:
    st.html(PRESENTER_CSS)


def model_panel(engine: Engine, user: str, algorithm: str, shown: list[int]) -> None:
    """What the model holds about this user, so nobody can call the learning hard-coded.

    Drawn with Markdown and static tables: charts and data grids cost the browser more than a
    click may (the diff must show within a second)."""
    model = engine.model(algorithm)
    numbers = model.describe(user)
    if not numbers:
        st.info(
            "The model knows nothing about you yet, so you see what is popular. Like, "
            "dislike or rate an item and this panel shows what it learned."
        )
    else:
        columns = st.columns(len(numbers))
        for column, (name, value) in zip(columns, numbers.items(), strict=True):
            column.metric(name, f"{value:,.3f}" if value % 1 else f"{value:,.0f}")
    affinity = engine.genre_affinity(user, algorithm)
    if not affinity.empty:
        st.markdown(
            "**Affinity per genre**: the mean of your taste vector · each item's "
            "vector, per genre, centred on zero; Δ is what your last action changed."
        )
        before = st.session_state.get("affinity_before")
        st.markdown(affinity_table(affinity, before if _same_owner(user, algorithm) else None))
    elif not model.personalized:
        st.caption(
            f"{algorithm} is the same for everyone: it holds nothing personal. "
            "Switch to mf to see a learned taste."
        )
    if shown:
        rank = st.selectbox(
            "Explain the score of",
            range(1, len(shown) + 1),
            key="explain_rank",
            help="The score of the item at this rank, broken into its parts.",
        )
        item = shown[min(rank, len(shown)) - 1]
        explanation = engine.explain(user, item, algorithm)
        # The part the reason is about is bold: the card's one line and the numbers agree.
        parts = "\n".join(
            f"| {'**' + md(name) + '**' if name == explanation.lead else md(name)} | {value:+.3f} |"
            for name, value in explanation.parts.items()
        )
        st.markdown(
            f"**Why #{rank} is “{md(engine.item_title(item))}”**: "
            f"{md(explanation.reason)}\n\n"
            f"Score {explanation.score:+.3f}, {md(SCALES[model.scale])}; the parts add up "
            f"to it, and the reason names the largest positive one (bold).\n\n"
            f"| part | value |\n|---|---:|\n{parts}"
        )
    log = engine.store.learning_log(user=user, limit=5)
    if not log.empty:
        st.markdown(
            "**Latest learning-log rows** (each algorithm learns every event, in order, "
            "when it is used):"
        )
        st.table(
            log[
                [
                    "seq",
                    "algorithm",
                    "kind",
                    "user_change",
                    "item_change",
                    "score_before",
                    "score_after",
                    "duration_ms",
                ]
            ].round(4),
            hide_index=True,  # seq stays a column: an index of consecutive seqs would be hidden
        )


def _same_owner(user: str, algorithm: str) -> bool:
    step = st.session_state.get("last_step")
    return step is not None and step.event.user == user and step.after.algorithm == algorithm


def affinity_table(affinity: pd.Series, before: pd.Series | None = None, width: int = 14) -> str:
    """A Markdown table with a bar per genre: green for liked directions, red for disliked."""
    scale = max(float(affinity.abs().max()), 1e-9)
    rows = ["| genre | affinity | | Δ |", "|---|---:|---|---:|"]
    for genre, value in affinity.items():
        bar = "█" * max(1, round(abs(value) / scale * width))
        colour = "green" if value >= 0 else "red"
        delta = ""
        if before is not None and genre in before.index:
            change = value - before[genre]
            delta = (
                f":{'green' if change >= 0 else 'red'}[{change:+.3f}]"
                if abs(change) >= 5e-4
                else ""
            )
        rows.append(f"| {md(genre)} | {value:+.3f} | :{colour}[{bar}] | {delta} |")
    return "\n".join(rows)


@st.fragment
def autopilot(engine: Engine, user: str, algorithm: str, k: int) -> None:
    """A persona uses the live recommendations through the choice model, step by step."""
    if st.session_state.pop("rerun_app", False):
        st.rerun(scope="app")
    personas = engine.personas
    labels = dict(zip(personas["name"], personas["label"], strict=True))
    if "autopilot_persona" not in st.session_state and user in labels:
        st.session_state.autopilot_persona = user  # being a persona: drive that one
    left, middle, right = st.columns([3, 2, 2], vertical_alignment="bottom")
    persona = left.selectbox(
        "Persona",
        list(labels),
        key="autopilot_persona",
        help="Its hidden taste drives its choices; the model never sees it.",
    )
    steps = middle.number_input("Steps", 1, 500, 30, key="autopilot_steps")
    run = right.button(
        "Run autopilot", icon=":material/smart_toy:", key="autopilot_run", width="stretch"
    )
    st.caption(md(personas.set_index("name").loc[persona, "description"]))
    if run:
        progress = st.progress(0.0, text="Starting…")
        started = time.perf_counter()
        try:
            records = simulation.autopilot(
                engine,
                persona,
                int(steps),
                k=k,
                algorithm=algorithm,
                progress=lambda i, n: progress.progress(
                    i / n, text=f"{labels[persona]}: visit {i} of {n}"
                ),
            )
        except RecsysError as error:
            st.error(f"Autopilot stopped: {md(error)}")
            return
        st.session_state.autopilot_result = simulation.record(
            records, persona, algorithm, k, time.perf_counter() - started
        )
        if st.session_state.get("user") == persona:
            st.rerun(scope="app")  # its recommendations above changed
    result = st.session_state.get("autopilot_result")
    if result:
        st.markdown(
            f"**{md(labels.get(result['persona'], result['persona']))}** made "
            f"{len(result['true_utility'])} visits with {result['algorithm']}: "
            f"{result['picks']} picks, {result['events']} events in {result['seconds']:.1f} s."
        )
        draw_chart(truth_chart(result), key="autopilot_chart", name="autopilot against the truth")
        st.caption(truth_caption(result))
        st.button(
            "Be this persona",
            key="autopilot_become",
            icon=":material/person:",
            on_click=_become,
            args=(result["persona"],),
            help="Switch the active user to the persona to see its recommendations.",
        )


def truth_chart(result: dict) -> go.Figure:
    """Per visit, the mean hidden utility of the list shown, between the floor (what
    popularity would have shown) and the ceiling (the persona's best unseen items)."""
    steps = list(range(1, len(result["true_utility"]) + 1))
    figure = go.Figure()
    figure.add_scatter(
        x=steps,
        y=result["popularity_utility"],
        mode="lines",
        name="popularity (floor)",
        line={"color": "#9ca3af", "dash": "dot"},
    )
    figure.add_scatter(
        x=steps,
        y=result["oracle_utility"],
        mode="lines",
        name="best possible (ceiling)",
        line={"color": "#16a34a", "dash": "dot"},
        fill="tonexty",  # the band between floor and ceiling
        fillcolor="rgba(22, 163, 74, 0.08)",
    )
    figure.add_scatter(
        x=steps,
        y=result["true_utility"],
        mode="lines+markers",
        name=result["algorithm"],
        line={"color": "#4f46e5", "width": 3},
    )
    figure.update_layout(
        height=300,
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        xaxis_title="visit",
        yaxis_title=f"hidden utility of the top {result['k']}",
        legend={"orientation": "h", "y": 1.12},
    )
    return integer_axis(figure, "x", steps)


def truth_caption(result: dict) -> str:
    """The chart in one sentence: the gap closed over the last visits, and the true CTR."""
    s, n = result["summary"], min(WINDOW, len(result["true_utility"]))
    gap = s[f"gap_closed_last{WINDOW}"]
    closed = (
        "popularity's list is already the best possible: no gap to close"
        if gap is None
        else f"the list closed **{gap:.0%}** of the gap between popularity's list and the "
        "persona's best unseen items"
    )
    ctr = {name: s[f"{name}_ctr_last{WINDOW}"] for name in ("true", "popularity", "oracle")}
    return (
        f"Over the last {n} visits {closed}. True CTR (the chance of a click on the list per "
        f"visit, under the world's choice model): {ctr['true']:.0%}, against "
        f"{ctr['popularity']:.0%} for popularity and {ctr['oracle']:.0%} at best. Utility is "
        "the persona's hidden taste, which no algorithm sees."
    )


def _become(persona: str) -> None:
    st.session_state.user = persona
    st.session_state.rerun_app = True  # a fragment's callback cannot rerun the whole page


def reset_controls(engine: Engine, user: str) -> None:
    if said := st.session_state.pop("reset_said", None):
        st.success(said, icon=":material/restart_alt:")
    left, right = st.columns(2)
    left.button(
        "Reset this user",
        icon=":material/person_remove:",
        key="reset_user",
        width="stretch",
        on_click=_reset_user,
        args=(engine, user),
        help="Forget what this user did in the lab (a demo user keeps its seeded past).",
    )
    # Tracked, so the reset can close it: an open popover would offer the button again.
    with right.popover(
        "Reset the lab",
        icon=":material/restart_alt:",
        width="stretch",
        key="reset_lab_popover",
        on_change="rerun",
    ):
        st.markdown(
            "Back to the seeded world: every interaction, simulation and retrain "
            "since the world was generated is dropped."
        )
        st.button(
            "Yes, reset the lab",
            type="primary",
            key="reset_lab",
            on_click=_reset_lab,
            args=(engine,),
        )


def _reset_user(engine: Engine, user: str) -> None:
    count = engine.reset_user(user)
    st.session_state.pop("last_step", None)
    st.session_state.reset_said = (
        f"Forgot {count} event{'' if count == 1 else 's'} of {md(user)}."
        if count
        else f"{md(user)} had nothing to forget."
    )


def _reset_lab(engine: Engine) -> None:
    if not sharing.allowed("reset the lab"):
        return
    started = time.perf_counter()
    engine.reset_lab()
    for key in ("last_step", "autopilot_result"):
        st.session_state.pop(key, None)
    st.session_state.reset_lab_popover = False  # closed: the reset is done
    # Said once, beside the buttons (a toast would cover the page's caption).
    st.session_state.reset_said = (
        f"The lab is back to its seeded world ({time.perf_counter() - started:.1f} s)."
    )
