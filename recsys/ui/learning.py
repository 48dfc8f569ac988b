"""The simulator's core: the learning message, the before/after diff, the cards and what the
model holds. One fragment, so a click on a card reruns only this part of the page."""

from __future__ import annotations

import streamlit as st

from recsys.engine import Engine
from recsys.ui.panels import model_panel
from recsys.ui.steps import cards, undo
from recsys.ui.widgets import diff_view, history_table, md


@st.fragment
def learning_view(
    engine: Engine, user: str, algorithm: str, k: int, presenter: bool, context: dict | None = None
) -> None:
    if st.session_state.pop("rerun_app", False):
        st.rerun(scope="app")  # a click started a retrain: the whole page follows it
    if message := st.session_state.pop("flash", None):
        st.error(message)
    if message := st.session_state.pop("toast", None):
        st.toast(md(message), icon=":material/psychology:")
    # In a live A/B experiment the person's arm decides the algorithm, and the list they see
    # is logged as impressions; clicks on it carry its request id.
    ranking, exposure = engine.show(user, k, algorithm, context)
    if exposure:
        algorithm, k = exposure["algorithm"], exposure["slate"]
        st.info(
            f"A/B experiment **{md(exposure['experiment'])}** is live: {md(user)} is in arm "
            f"**{md(exposure['arm'])}** ({md(exposure['label'])}), so the list below is that "
            "arm's, whatever the sidebar says. Results are on the A/B tests page.",
            icon=":material/science:",
        )
    step = st.session_state.get("last_step")
    if step is not None and step.event.user == user and step.after.algorithm == algorithm:
        st.success(md(step.message), icon=":material/psychology:")
        if note := st.session_state.get("step_note"):
            st.warning(note, icon=":material/tab_duplicate:")
        with st.container(border=True, key="diff"):
            summary, undo_slot = st.columns([4, 1], vertical_alignment="center")
            summary.markdown(f"**{md(step.summary)}**")
            undo_slot.button(
                "Undo last action",
                key="undo_last",
                icon=":material/undo:",
                width="stretch",
                on_click=undo,
                args=(engine, user, algorithm, k, context),
                help="Forget your newest interaction, as Reset this user forgets them all, "
                "and see the list it gives back.",
            )
            diff_view(step)
    else:
        st.info(
            "Like, dislike, favourite, view or rate an item below: this panel then shows "
            "what the model learned and how your list changed.",
            icon=":material/touch_app:",
        )

    if engine.catalog.n == 0:
        st.error("The catalog is empty. Create a world with `python -m recsys init --reset`.")
    elif not ranking.items:
        st.warning(
            "You have interacted with every item: nothing is left to recommend. "
            "Use **Reset this user** below to start again."
        )
    else:
        serving = engine.serving(user, algorithm)
        st.subheader(
            f"Top {len(ranking.items)} for {md(user)} · {algorithm} {serving['label']}"
            + (" (canary candidate)" if serving["arm"] == "candidate" else "")
            + (f" · arm {md(exposure['arm'])}" if exposure else "")
        )
        cards(
            engine,
            ranking,
            k,
            columns=1 if presenter else 2,
            context=context,
            request_id=exposure["request_id"] if exposure else None,
        )

    if presenter:  # the room sees the cards, the diff and the scores; the panels stay off
        return
    with st.expander("What the model holds about you", expanded=True, icon=":material/neurology:"):
        model_panel(engine, user, algorithm, ranking.item_ids())
    with st.expander(
        f"Your history, newest first ({engine.last_seq:,} events in the lab)",
        expanded=True,
        icon=":material/history:",
    ):
        history_table(engine, user)
