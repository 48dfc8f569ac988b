"""Evaluation: compare algorithms offline on a split of the lab's log, and sweep a parameter."""

import streamlit as st

from recsys.ui.evaluation import comparison, parameter_sweep, split_controls
from recsys.ui.navigation import ensure_app
from recsys.ui.state import get_engine

ensure_app()
engine = get_engine()
st.title("Evaluation")
st.caption(
    "Each algorithm is fitted on the training events only and judged on the held-out "
    "ones: rating error, ranking quality at k, coverage, novelty, diversity, fit time."
)
split, k, seed = split_controls(engine)
compare, tune = st.tabs(["Compare algorithms", "Parameter sweep"])
with compare:
    comparison(engine, split, k, seed)
with tune:
    parameter_sweep(engine, split, k, seed)
