"""Recsys Learning Lab: `streamlit run app.py [-- --db PATH]`."""

import streamlit as st

from recsys.ui.navigation import pages, run
from recsys.ui.plugins import plugin_warnings
from recsys.ui.state import get_engine, init_session, open_scenario, sidebar

st.set_page_config(page_title="Recsys Learning Lab", page_icon=":material/science:", layout="wide")

engine = get_engine()
init_session(engine)
page = st.navigation(pages())  # the only router: the page list is recsys.ui.navigation.PAGES
open_scenario(engine)
sidebar(engine)
plugin_warnings()
if error := st.session_state.pop("link_error", None):
    st.error(error)
if toast := st.session_state.pop("scenario_toast", None):
    st.toast(toast, icon=":material/check_circle:")
run(page)
