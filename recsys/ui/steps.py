"""The Simulator's cards, what a click on one does, its undo, and the last step of each user
kept across a reload.

A card's buttons call `act`; the Simulator's **Undo last action** calls `undo`. Both run as
callbacks, before the rerun, so the rerun shows the result, and both put the step in
`st.session_state.last_step` for the diff. `remember` keeps each user's last step for the
server process, so a reload (a new session with `?user=` in its link) shows it again.
"""

from __future__ import annotations

import threading

import streamlit as st

from recsys.algorithms import SCALES
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.ranking import LearningStep, Ranking, UndoStep, diff
from recsys.ui.widgets import ACTIONS, RATINGS, md, meta_line

PAST = {"view": "viewed", "like": "liked", "dislike": "disliked", "favorite": "favourited"}


def act(
    engine: Engine,
    user: str,
    algorithm: str,
    item: int,
    kind: str,
    k: int,
    context: dict | None = None,
    request_id: int | None = None,
    shown: Ranking | None = None,
) -> None:
    """Button callback for one interaction. `request_id`: the logged list (a live experiment's
    impressions) the click came from; `shown`: the list this page showed, the diff's Before.

    A page drawn before the same user acted elsewhere (another tab) still records its click,
    diffed against what it showed, and says so; the same action on the same item taken
    elsewhere since is refused rather than recorded twice."""
    state = st.session_state
    value = None
    if kind == "rating":
        value = state.get(f"rating-{item}")
        if value is None:
            state.flash = "Pick a rating (0.5 to 5 stars) in the card first, then press Rate."
            return
    elsewhere = _elsewhere(engine, user, shown)
    if (item, kind) in elsewhere:
        title = engine.item_title(item)
        state.flash = (
            f"You already {PAST.get(kind, 'rated')} “{md(title)}” in another tab or window: "
            "nothing was recorded. This page now shows your current list."
        )
        state.pop("last_step", None)
        return
    state.affinity_before = engine.genre_affinity(user, algorithm)  # for the Δ column
    try:
        step = engine.interact(
            user,
            item,
            kind,
            value,
            context,
            algorithm=algorithm,
            k=k,
            request_id=request_id,
            shown=shown,
        )
    except RecsysError as error:
        state.flash = f"Nothing was recorded: {md(error)}"
        return
    state.last_step = step
    state.step_note = (
        "Your list had changed in another tab or window since this page showed it: Before is "
        "the list this page showed."
        if elsewhere
        else None
    )
    remember(engine, step)
    if any(action.get("started") for action in step.actions):
        state.rerun_app = True  # the sidebar follows the retrain; a callback cannot rerun
    if user == state.get("visitor") and engine.store.count_events(user) == 1:
        state.rerun_app = True  # the sidebar stops calling this visitor fresh
    # The fragment's rerun says what was learned, once, above the diff (no toast repeating it).


def _elsewhere(engine: Engine, user: str, shown: Ranking | None) -> set[tuple[int, str]]:
    """(item, kind) of `user`'s events since `shown` was drawn, when the list it showed is no
    longer the current one (empty otherwise)."""
    if shown is None or shown.seq >= engine.last_seq:
        return set()
    since = engine.store.events(after_seq=shown.seq, user=user)
    return set(zip(since.item.tolist(), since.kind.tolist(), strict=True))


def undo(engine: Engine, user: str, algorithm: str, k: int, context: dict | None) -> None:
    """Button callback: forget the user's newest interaction (`Engine.undo_last`, the erasure
    path of "Reset this user") and show the diff it makes."""
    state = st.session_state
    state.affinity_before = engine.genre_affinity(user, algorithm)
    before = engine.recommend(user, k, algorithm, context)
    try:
        event = engine.undo_last(user)
    except RecsysError as error:
        state.flash = f"Nothing was undone: {md(error)}."
        return
    if event is None:
        state.flash = f"{md(user)} has nothing to undo (a seeded history stays)."
        state.pop("last_step", None)
        return
    after = engine.recommend(user, k, algorithm, context)
    step = UndoStep(event, engine.item_title(event.item), before, after, diff(before, after))
    state.last_step, state.step_note = step, None
    remember(engine, step)
    if user == state.get("visitor") and not engine.store.count_events(user):
        state.rerun_app = True  # a fresh visitor again: the sidebar says so


def cards(
    engine: Engine,
    ranking: Ranking,
    k: int,
    columns: int = 2,
    context: dict | None = None,
    request_id: int | None = None,
) -> None:
    grid = st.columns(columns)
    # Every card says which scale its score is on (stars, similarity, estimated reward...).
    unit, meaning = ranking.scale or "score", SCALES.get(ranking.scale)
    unit = "reward" if unit == "estimated reward" else unit
    for index, r in enumerate(ranking.items):
        with grid[index % columns].container(border=True, key=f"card-{r.item}"):
            head, score = st.columns([3, 1.3])  # room for the scale's name above the score
            tags = " ".join(f":gray-badge[{md(t)}]" for t in r.tags)
            head.markdown(f"**{r.rank}. {md(r.title)}**  \n{md(meta_line(r))}  \n{tags}")
            score.metric(unit, f"{r.score:.2f}", help=meaning)
            st.caption(md(r.reason))
            on = (engine, ranking.user, ranking.algorithm, r.item)  # what every button acts on
            buttons = st.columns([1, 1, 1.2, 1.25], gap="small")
            for (kind, label, icon), slot in zip(ACTIONS, buttons, strict=True):
                slot.button(
                    label,
                    icon=icon,
                    key=f"{kind}-{r.item}",
                    width="stretch",
                    on_click=act,
                    args=(*on, kind, k, context, request_id, ranking),
                )
            rate, press = st.columns([3, 2])
            rate.selectbox(
                "Rating",
                RATINGS,
                index=None,
                key=f"rating-{r.item}",
                placeholder="★ 0.5 to 5",
                label_visibility="collapsed",
            )
            press.button(
                "Rate",
                key=f"rate-{r.item}",
                width="stretch",
                on_click=act,
                args=(*on, "rating", k, context, request_id, ranking),
            )


_lock = threading.Lock()


@st.cache_resource(show_spinner=False)
def _recent() -> dict[str, tuple[int | None, LearningStep | UndoStep]]:
    """user -> (their newest live seq after the step, the step), for this server process."""
    return {}


def remember(engine: Engine, step: LearningStep | UndoStep) -> None:
    """Keep `step` as its user's last step (for `recall` after a reload)."""
    user = step.event.user
    # A click's event is the user's newest; only an undo needs the log asked what is left.
    newest = step.event.seq if isinstance(step, LearningStep) else engine.store.last_live_seq(user)
    with _lock:
        _recent()[user] = (newest, step)


def recall(engine: Engine, user: str) -> LearningStep | UndoStep | None:
    """`user`'s last step, if nothing they did since has made it stale (a reload shows it)."""
    with _lock:
        kept = _recent().get(user)
    if kept is None or engine.store.last_live_seq(user) != kept[0]:
        return None
    return kept[1]
