"""A/B tests: experiments on live visitors or simulated people, with their statistics."""

import streamlit as st

from recsys.ui.ab_tools import aa_view, analytics_view, offpolicy_view, size_view
from recsys.ui.experiments import create_view, results_view
from recsys.ui.navigation import ensure_app
from recsys.ui.state import get_engine

ensure_app()
engine = get_engine()
st.title("A/B tests")
st.caption(
    "Arms are algorithms or model versions; each user is assigned by a hash, so they always see "
    "the same arm. Every list shown is logged as impressions. Simulated people have a hidden "
    "taste, so the lab knows which arm is truly better and can tell whether a test got it right."
)
views = {
    "Results": lambda: results_view(engine),
    "New experiment": lambda: create_view(engine),
    "A/A and peeking": lambda: aa_view(engine),
    "Sample size": lambda: size_view(engine),
    "Off-policy": lambda: offpolicy_view(engine),
    "Analytics": lambda: analytics_view(engine),
}
if goto := st.session_state.pop("ab_goto", None):
    st.session_state.ab_tab = goto
for tab, view in zip(
    st.tabs(list(views), key="ab_tab", on_change="rerun"), views.values(), strict=True
):
    if tab.open:
        with tab:
            view()
