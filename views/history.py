"""Learning history: what happened, how one user's list and vector moved, metrics over time,
and time travel through the event log."""

import streamlit as st

from recsys.ui.history import (
    embedding_view,
    journey_view,
    metrics_view,
    time_travel_view,
    timeline_view,
)
from recsys.ui.navigation import ensure_app
from recsys.ui.state import current_algorithm, current_user, get_engine
from recsys.ui.widgets import md

ensure_app()
engine = get_engine()
user, algorithm = current_user(), current_algorithm()
st.title("Learning history")
st.caption(
    f"How the lab learned, rebuilt from its event log. The user ({md(user)}) and algorithm "
    f"({algorithm}) come from the sidebar."
)
# Tabs that track which one is open, so only the open tab's replay and charts are computed.
views = {
    "Timeline": lambda: timeline_view(engine, user),
    "Journey": lambda: journey_view(engine, user, algorithm),
    "Embedding map": lambda: embedding_view(engine, user, algorithm),
    "Metrics over time": lambda: metrics_view(engine, algorithm),
    "Time travel": lambda: time_travel_view(engine, user, algorithm),
}
for tab, view in zip(
    st.tabs(list(views), key="history_tab", on_change="rerun"), views.values(), strict=True
):
    if tab.open:
        with tab:
            view()
