"""Reusable pieces of the pages: recommendation cards, the before/after diff, the history."""

from __future__ import annotations

import html
import re

import pandas as pd
import streamlit as st

from recsys.algorithms import SCALES
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.ranking import Diff, LearningStep, RankedItem, Ranking

RATINGS = [x / 2 for x in range(1, 11)]
# Material icons ship with Streamlit, so they render even where no emoji font is installed.
ACTIONS = (
    ("view", "View", ":material/visibility:"),
    ("like", "Like", ":material/thumb_up:"),
    ("dislike", "Dislike", ":material/thumb_down:"),
    ("favorite", "Favorite", ":material/star:"),
)


# Streamlit rewrites Markdown *text* after parsing, where a backslash escape no longer exists:
# " -- " becomes an em dash (and ->, <-, >=, <=, ~= arrows and signs), URLs, www. and e-mail
# addresses become links, and :name: becomes an icon or emoji. A WORD JOINER (U+2060, invisible,
# no break) at the right place keeps each pattern from matching; the text reads the same.
JOIN = "\u2060"
_REWRITTEN = [
    (re.compile(r"(^|\s)(?=(?:<->|->|<-|--|>=|<=|~=)(?:\s|$))"), r"\1" + JOIN),
    (re.compile(r"(?i)\b(https?|ftp|www)(?=[:.])"), r"\1" + JOIN),
    (re.compile(r"([@:])(?=\w)"), r"\1" + JOIN),
]


def md(text: object) -> str:
    """Catalog, file or user text for a Markdown element, shown exactly as it is: never as
    markup, HTML, math, a link, an icon or a typographic replacement (the escapes, and the
    joins of `_REWRITTEN`)."""
    text = str(text)
    for pattern, joined in _REWRITTEN:
        text = pattern.sub(joined, text)
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&])", r"\\\1", text)


def plain(text: object) -> str:
    """User text for a plotly label, legend, hover or title: plotly reads a few HTML tags
    (<b>, <br>, <a>...) and entities there, so <, > and & are written as entities."""
    return html.escape(str(text), quote=False)


def meta_line(r: RankedItem) -> str:
    first = str(r.year) if r.year is not None else (r.region or "")
    return " · ".join(x for x in (first, ", ".join(r.genres)) if x)


def act(
    engine: Engine,
    user: str,
    algorithm: str,
    item: int,
    kind: str,
    k: int,
    context: dict | None = None,
    request_id: int | None = None,
) -> None:
    """Button callback: the work happens before the rerun, so the rerun shows the result.
    `request_id`: the logged list (a live experiment's impressions) the click came from."""
    state = st.session_state
    value = None
    if kind == "rating":
        value = state.get(f"rating-{item}")
        if value is None:
            state.flash = "Pick a rating (0.5 to 5 stars) in the card first, then press Rate."
            return
    state.affinity_before = engine.genre_affinity(user, algorithm)  # for the Δ column
    try:
        step = engine.interact(
            user, item, kind, value, context, algorithm=algorithm, k=k, request_id=request_id
        )
    except RecsysError as error:
        state.flash = f"Nothing was recorded: {md(error)}"
        return
    state.last_step = step
    if any(action.get("started") for action in step.actions):
        state.rerun_app = True  # the sidebar follows the retrain; a callback cannot rerun
    # Shown by the fragment after its rerun: a callback inside a fragment must not draw.
    state.toast = step.message


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
            buttons = st.columns([1, 1, 1.2, 1.25], gap="small")
            for (kind, label, icon), slot in zip(ACTIONS, buttons, strict=True):
                slot.button(
                    label,
                    icon=icon,
                    key=f"{kind}-{r.item}",
                    width="stretch",
                    on_click=act,
                    args=(
                        engine,
                        ranking.user,
                        ranking.algorithm,
                        r.item,
                        kind,
                        k,
                        context,
                        request_id,
                    ),
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
                args=(
                    engine,
                    ranking.user,
                    ranking.algorithm,
                    r.item,
                    "rating",
                    k,
                    context,
                    request_id,
                ),
            )


def diff_view(step: LearningStep) -> None:
    """Two columns, Before and After, with arrows, entry badges and score deltas."""
    d: Diff = step.diff
    moves = {m.item: m for m in (*d.moved, *d.unchanged)}
    entered = {r.item for r in d.entered}
    before, after = st.columns(2)
    with before:
        st.markdown("**Before**")
        left = {r.item for r in d.left}
        st.markdown(
            "\n".join(
                f"{r.rank}. ~~{md(r.title)}~~ :red-badge[left]"
                if r.item in left
                else f"{r.rank}. {md(r.title)}"
                for r in step.before.items
            )
        )
    with after:
        st.markdown("**After**")
        lines = []
        for r in step.after.items:
            if r.item in entered:
                badge = " :green-badge[NEW]"
            else:
                m = moves[r.item]
                arrow = (
                    f" :green[▲{m.places}]"
                    if m.places > 0
                    else f" :red[▼{-m.places}]"
                    if m.places < 0
                    else " :gray[=]"
                )
                badge = f"{arrow} :gray[{m.score_delta:+.3f}]"
            lines.append(f"{r.rank}. {md(r.title)}{badge}")
        st.markdown("\n".join(lines))
    if d.left:
        st.caption("Left the list: " + ", ".join(md(r.title) for r in d.left))


def history_table(engine: Engine, user: str, limit: int = 20) -> None:
    history = engine.history(user, limit)
    if history.empty:
        st.info("No interactions yet: like, rate or view an item and it appears here.")
        return
    stars = history["value"].map(lambda v: "" if pd.isna(v) else f"{v:g} ★")
    # A static table: a data grid costs the browser more than a click may.
    st.table(  # st.table renders its cells as Markdown: titles are escaped
        history.assign(value=stars, title=history["title"].map(md))[
            ["seq", "kind", "value", "title", "source"]
        ].set_index("seq")
    )
