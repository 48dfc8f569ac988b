"""Parameters: change an algorithm's knobs and rebuild it from the event log."""

import streamlit as st

from recsys.ui.navigation import ensure_app
from recsys.ui.parameters import parameters_form
from recsys.ui.state import current_algorithm, get_engine

ensure_app()
engine = get_engine()
st.title("Parameters")
st.caption(
    "Every parameter of the algorithm chosen in the sidebar, with its bounds. Applying "
    "rebuilds the model from the whole event log, so what it learned online is kept "
    "and the result is the same for everyone with the same log and seed."
)
parameters_form(engine, current_algorithm())
