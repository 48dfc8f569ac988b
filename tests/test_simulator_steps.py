"""The Simulator as a presenter uses it (issue 18): each step said in one plain sentence, an
undo, a visitor and their last step kept across a reload, a stale second tab, the sidebar and
the tables telling the truth."""

from __future__ import annotations

import pandas as pd
import pytest

from recsys.engine import Engine
from recsys.ranking import Diff, RankedItem
from recsys.ui.state import engine_for
from tests.apptest import lab_app_test
from tests.test_app_data import shown


def ranked(item: int, *genres: str) -> RankedItem:
    return RankedItem(item, 1, 0.5, f"Title {item}", tuple(genres), None, None, "")


def test_a_step_is_said_in_one_sentence_by_the_genre_most_items_share():
    scifi = [ranked(i, "Sci-Fi", "Action" if i == 1 else "Drama") for i in range(1, 4)]
    drama = [ranked(9, "Drama"), ranked(8, "Drama", "Romance"), ranked(7, "Comedy")]
    assert Diff(tuple(scifi), tuple(drama), (), ()).summary() == (
        "Your list moved toward Sci-Fi: 3 entered, all Sci-Fi; 3 left, 2 of them Drama."
    )
    # Nothing shared by more than half: no direction is claimed.
    mixed = (ranked(1, "Sci-Fi"), ranked(2, "Drama"))
    assert Diff(mixed, (ranked(3, "Comedy"), ranked(4, "Horror")), (), ()).summary() == (
        "Your list changed: 2 entered; 2 left."
    )
    assert Diff((), (), (), ()).summary() == "Your list kept its items and its order."
    left_only = Diff((ranked(5, "Comedy"),), (ranked(6, "Horror"),), (), ())
    assert left_only.summary() == (
        "Your list moved toward Comedy: 1 entered (Comedy); 1 left (Horror)."
    )
    within = Diff((ranked(1, "Drama"),), (ranked(2, "Drama"),), (), ())
    assert within.summary().startswith("Your list changed within Drama:")


def test_undo_forgets_the_newest_interaction_and_gives_the_list_back(engine: Engine):
    before = engine.recommend("alice", 10, "mf")
    events = engine.store.count_events()
    liked = before.items[0].item
    engine.interact("alice", liked, "like", algorithm="mf")
    engine.interact("bob", 3, "view")  # someone else acts after: renumbered, not forgotten
    assert engine.recommend("alice", 10, "mf").item_ids() != before.item_ids()

    event = engine.undo_last("alice")
    assert (event.user, event.item, event.kind) == ("alice", liked, "like")
    assert engine.store.count_events() == events + 1
    seqs = [s for (s,) in engine.store.db.query("SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))  # gap-free
    assert engine.history("bob", 1)["kind"].tolist() == ["view"]
    after = engine.recommend("alice", 10, "mf")
    assert after.item_ids() == before.item_ids()
    assert [r.score for r in after.items] == pytest.approx([r.score for r in before.items])
    # The seeded history is never undone.
    assert engine.undo_last("alice") is None
    assert engine.undo_last("nobody-yet") is None


def test_like_then_undo_in_the_page(lab_app, db_path):
    app = lab_app.run()
    engine = engine_for(str(db_path))
    events = engine.store.count_events()
    like = next(b for b in app.button if b.key and b.key.startswith("like-"))
    like.click().run()
    assert not app.exception
    step = app.session_state["last_step"]
    assert any(m == f"**{step.summary}**" for m in shown(app.markdown))
    assert not app.toast  # said once, in the box above the diff
    app.button(key="undo_last").click().run()
    assert not app.exception
    assert engine.store.count_events() == events
    title = engine.item_title(int(like.key.split("-")[1]))
    assert any(f"Undid your like of “{title}”" in s for s in shown(app.success))
    assert not app.toast
    undone = app.session_state["last_step"]
    assert undone.after.item_ids() == step.before.item_ids()  # the list came back
    assert "**Before**" in " ".join(m.value for m in app.markdown)


def test_the_visitor_and_their_last_step_survive_a_reload(db_path, monkeypatch):
    import streamlit as st

    monkeypatch.setenv("RECSYS_DB", str(db_path))
    st.cache_resource.clear()
    first = lab_app_test().run()
    visitor = first.session_state["user"]
    assert visitor.startswith("visitor-")
    assert "A fresh visitor: no history yet." in shown(first.sidebar.caption)
    next(b for b in first.button if b.key and b.key.startswith("like-")).click().run()
    assert "You, this visit: 1 interaction so far." in shown(first.sidebar.caption)

    reload = lab_app_test()  # a new session with the link the first one left
    for key, value in first.query_params.items():
        reload.query_params[key] = value
    reload.run()
    assert not reload.exception
    assert reload.session_state["user"] == reload.session_state["visitor"] == visitor
    assert "You, this visit: 1 interaction so far." in shown(reload.sidebar.caption)
    assert any(s.startswith("Learned from your like") for s in shown(reload.success))
    st.cache_resource.clear()


def test_a_stale_tab_diffs_against_what_it_showed_and_cannot_act_twice(lab_app, db_path):
    tab_a = lab_app.run()
    tab_b = lab_app_test()
    tab_b.query_params["user"], tab_b.query_params["algorithm"] = "alice", "mf"
    tab_b.run()
    engine = engine_for(str(db_path))
    top = next(b for b in tab_a.button if b.key and b.key.startswith("like-")).key
    tab_a.button(key=top).click().run()
    events = engine.store.count_events()

    tab_b.button(key=top).click().run()  # the same like, from the list tab A made stale
    assert not tab_b.exception and engine.store.count_events() == events
    assert any("You already liked" in e and "nothing was recorded" in e for e in shown(tab_b.error))

    assert "last_step" not in tab_b.session_state  # the refused click left no step behind
    tab_c = lab_app_test()
    tab_c.query_params["user"], tab_c.query_params["algorithm"] = "alice", "mf"
    tab_c.run()
    drawn = [int(b.key.split("-")[1]) for b in tab_c.button if b.key and b.key.startswith("view-")]
    engine.interact("alice", drawn[-1], "dislike", algorithm="mf")  # elsewhere, after tab C drew
    tab_c.button(key=f"view-{drawn[0]}").click().run()
    assert engine.store.count_events() == events + 2
    step = tab_c.session_state["last_step"]
    # Before is what tab C showed (its cards sit in two columns: compared as sets), with the
    # item disliked elsewhere, which the current list no longer holds.
    assert set(step.before.item_ids()) == set(drawn) and drawn[-1] in step.before.item_ids()
    assert any("changed in another tab or window" in w for w in shown(tab_c.warning))


def test_history_tables_keep_their_seq_column_when_seqs_are_consecutive(lab_app, db_path):
    app = lab_app.run()
    for _ in range(3):
        next(b for b in app.button if b.key and b.key.startswith("view-")).click().run()
    tables = [t.value for t in app.table]
    assert tables and all(isinstance(t, pd.DataFrame) and "seq" in t.columns for t in tables)
    history = next(t for t in tables if "source" in t.columns)
    seqs = history["seq"].astype(int).tolist()
    assert seqs[:3] == list(range(seqs[0], seqs[0] - 3, -1))  # consecutive, newest first
