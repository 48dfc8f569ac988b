"""Recsys Learning Lab: `streamlit run app.py [-- --db PATH]`."""

import streamlit as st

from recsys.ui.navigation import pages, run

st.set_page_config(page_title="Recsys Learning Lab", page_icon=":material/science:", layout="wide")
# First, before the engine's imports and the lab's opening: the sidebar lists the page titles
# from the first run (the only router: the page list is recsys.ui.navigation.PAGES).
page = st.navigation(pages())

from recsys.ui.plugins import plugin_warnings  # noqa: E402
from recsys.ui.state import get_engine, init_session, open_scenario, sidebar  # noqa: E402

engine = get_engine()
init_session(engine)
open_scenario(engine)
sidebar(engine)
plugin_warnings()
if error := st.session_state.pop("link_error", None):
    st.error(error)
if toast := st.session_state.pop("scenario_toast", None):
    st.toast(toast, icon=":material/check_circle:")
run(page)
