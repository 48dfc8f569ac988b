"""Parameters: change an algorithm's knobs and retrain it from the event log; check a plugin."""

import streamlit as st

from recsys.ui.navigation import ensure_app
from recsys.ui.parameters import outcome, parameters_form
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
            "trains a new version from the whole event log, so what it learned online is kept "
            "and the result is the same for everyone with the same log and seed. Like any "
            "retrain it goes through the promotion policy: it serves if auto_promote is on and "
            "it passes the gate, else it waits as the candidate on the Model versions page."
        )
        algorithm = current_algorithm()
        parameters_form(engine, algorithm)
        outcome(algorithm)
if algorithms.open:
    with algorithms:
        algorithms_tab()
