"""Defense tour: the lab's story in eight steps, performed reproducibly, with presenter notes."""

import streamlit as st

from recsys.ui.navigation import ensure_app
from recsys.ui.state import get_engine
from recsys.ui.tour import tour_view

ensure_app()
engine = get_engine()
st.title("Defense tour")
tour_view(engine)
