"""Simulator: act on recommendations and watch what the model learned."""

import streamlit as st

from recsys.ui.state import current_algorithm, current_user, get_engine
from recsys.ui.widgets import cards, diff_view, history_table, md

K = 10
engine = get_engine()
user, algorithm = current_user(), current_algorithm()

st.title("Simulator")
st.caption(
    "View, like, dislike, favourite or rate an item: the model learns at once and the "
    "before/after of your recommendations shows what changed and why."
)

if message := st.session_state.pop("flash", None):
    st.error(message)

step = st.session_state.get("last_step")
if step is not None and step.event.user == user and step.after.algorithm == algorithm:
    st.success(md(step.message))
    with st.container(border=True):
        diff_view(step)

ranking = engine.recommend(user, K, algorithm)
if not ranking.items:
    st.warning("The catalog has nothing left to recommend for this user.")
else:
    st.subheader(f"Top {len(ranking.items)} for {md(user)}")
    cards(engine, ranking, K)

tab_history, tab_model = st.tabs(["Your history", "What the model holds"])
with tab_history:
    history_table(engine, user)
with tab_model:
    if ranking.items:
        top = ranking.items[0]
        explanation = engine.explain(user, top.item, algorithm)
        st.markdown(f"Score of **{md(top.title)}** broken down ({algorithm}):")
        st.dataframe(
            {"part": list(explanation.parts), "value": list(explanation.parts.values())},
            hide_index=True,
        )
    log = engine.store.learning_log(user=user, limit=5)
    if not log.empty:
        st.markdown("Latest learning-log rows:")
        st.dataframe(log, hide_index=True, width="stretch")
