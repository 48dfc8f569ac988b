"""Simulator: act on recommendations and watch what the model learned, at once."""

import streamlit as st

from recsys.ui.learning import learning_view
from recsys.ui.navigation import ensure_app
from recsys.ui.panels import autopilot, presenter_style, reset_controls
from recsys.ui.state import current_algorithm, current_context, current_user, get_engine

K = 10
ensure_app()
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

learning_view(engine, user, algorithm, K, presenter, current_context())
with st.expander(
    "Autopilot: let a persona use the lab", expanded=True, icon=":material/smart_toy:"
):
    autopilot(engine, user, algorithm, K)
if not presenter:  # technical panels are hidden in presenter mode (the sidebar turns it off)
    with st.expander("Rehearse: reset", expanded=True, icon=":material/restart_alt:"):
        reset_controls(engine, user)
