"""Simulator: act on recommendations and watch what the model learned, at once."""

import streamlit as st

from recsys.ui.panels import autopilot, model_panel, presenter_style, reset_controls
from recsys.ui.state import current_algorithm, current_user, get_engine
from recsys.ui.widgets import cards, diff_view, history_table, md

K = 10
engine = get_engine()
user, algorithm = current_user(), current_algorithm()
presenter = st.session_state.get("presenter", False)
if presenter:
    presenter_style()

st.title("Simulator")
if not presenter:
    st.caption(
        "View, like, dislike, favourite or rate an item: the model learns at once, and "
        "the before/after of your recommendations shows what changed and why."
    )

if message := st.session_state.pop("flash", None):
    st.error(message)

step = st.session_state.get("last_step")
if step is not None and step.event.user == user and step.after.algorithm == algorithm:
    st.success(md(step.message), icon=":material/psychology:")
    with st.container(border=True, key="diff"):
        diff_view(step)
else:
    st.info(
        "Like, dislike, favourite, view or rate an item below: this panel then shows what "
        "the model learned and how your list changed.",
        icon=":material/touch_app:",
    )

ranking = engine.recommend(user, K, algorithm)
if engine.catalog.n == 0:
    st.error("The catalog is empty. Create a world with `python -m recsys init --reset`.")
elif not ranking.items:
    st.warning(
        "You have interacted with every item: nothing is left to recommend. "
        "Use **Reset this user** below to start again."
    )
else:
    st.subheader(f"Top {len(ranking.items)} for {md(user)} · {algorithm}")
    cards(engine, ranking, K, columns=1 if presenter else 2)

with st.expander(
    "What the model holds about you", expanded=not presenter, icon=":material/neurology:"
):
    model_panel(engine, user, algorithm, ranking.items[0].item if ranking.items else None)
with st.expander("Your history, newest first", expanded=not presenter, icon=":material/history:"):
    history_table(engine, user)
with st.expander(
    "Autopilot: let a persona use the lab", expanded=True, icon=":material/smart_toy:"
):
    autopilot(engine, user, algorithm, K)
with st.expander("Rehearse: reset", expanded=not presenter, icon=":material/restart_alt:"):
    reset_controls(engine, user)
