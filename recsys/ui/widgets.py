"""Reusable pieces of the pages: Markdown escaping, the before/after diff, the history."""

from __future__ import annotations

import html
import re

import pandas as pd
import streamlit as st

from recsys.engine import Engine
from recsys.ranking import Diff, LearningStep, RankedItem, UndoStep

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


def diff_view(step: LearningStep | UndoStep) -> None:
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
        ],
        # seq is a column, not the index: Streamlit hides an index of consecutive numbers.
        hide_index=True,
    )


def what_a_replacement_loses(engine: Engine) -> str:
    """What replacing the lab (an import, a scenario load) throws away, in a few words."""
    kind = (
        f"the imported {engine.meta.get('label', 'dataset')}"
        if engine.world == "dataset"
        else (f"the {engine.meta.get('label', engine.world)} world")
    )
    return f"{kind}, its {engine.last_seq:,} events, versions and experiments"


def confirm_replace(engine: Engine, key: str) -> bool:
    """The one confirmation asked wherever something replaces the lab (import, scenario load
    by button, file or link): a checkbox that says what goes. True once ticked."""
    return st.checkbox(
        f"Replace the current lab: {md(what_a_replacement_loses(engine))} (saved scenarios stay)",
        key=key,
    )
