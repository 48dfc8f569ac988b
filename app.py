"""Recsys Learning Lab: `streamlit run app.py [-- --db PATH]`."""

import streamlit as st

from recsys.ui.state import get_engine, init_session, open_scenario, sidebar

st.set_page_config(page_title="Recsys Learning Lab", page_icon=":material/science:", layout="wide")

engine = get_engine()
init_session(engine)
page = st.navigation(
    [
        st.Page("pages/simulator.py", title="Simulator", icon=":material/touch_app:", default=True),
        st.Page("pages/parameters.py", title="Parameters", icon=":material/tune:"),
        st.Page("pages/history.py", title="Learning history", icon=":material/timeline:"),
        st.Page("pages/versions.py", title="Model versions", icon=":material/inventory_2:"),
        st.Page("pages/experiments.py", title="A/B tests", icon=":material/science:"),
        st.Page("pages/evaluation.py", title="Evaluation", icon=":material/analytics:"),
        st.Page("pages/world.py", title="World", icon=":material/public:"),
        st.Page("pages/data.py", title="Data", icon=":material/database:"),
    ]
)
open_scenario(engine)
sidebar(engine)
if error := st.session_state.pop("link_error", None):
    st.error(error)
if toast := st.session_state.pop("scenario_toast", None):
    st.toast(toast, icon=":material/check_circle:")
page.run()
