"""Parameters: change an algorithm's knobs and rebuild it from the event log; check a plugin."""

import streamlit as st

from recsys.ui.navigation import ensure_app
from recsys.ui.parameters import parameters_form
from recsys.ui.plugins import algorithms_tab
from recsys.ui.state import current_algorithm, get_engine

ensure_app()
engine = get_engine()
st.title("Parameters")
knobs, algorithms = st.tabs(["Parameters", "Algorithms"], key="parameters_tab", on_change="rerun")
if knobs.open:
    with knobs:
        st.caption(
            "Every parameter of the algorithm chosen in the sidebar, with its bounds. Applying "
            "rebuilds the model from the whole event log, so what it learned online is kept "
            "and the result is the same for everyone with the same log and seed."
        )
        parameters_form(engine, current_algorithm())
if algorithms.open:
    with algorithms:
        algorithms_tab()
