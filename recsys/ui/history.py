"""The Learning history page's pieces: timeline, a user's journey (bump chart, scores,
embedding map, regret), metrics over time and time travel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from sklearn.decomposition import PCA

from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.lifecycle.policies import rewards
from recsys.lifecycle.timetravel import first_seq, journey, recommend_as_of
from recsys.ranking import diff
from recsys.store.versions import TIMELINE_KINDS, timeline
from recsys.ui import tables
from recsys.ui.charts import draw_chart, integer_axis, rate_axis
from recsys.ui.widgets import md, plain


def timeline_view(engine: Engine, user: str) -> None:
    left, middle, right = st.columns([2, 4, 2])
    # Radio options render Markdown: the user id is escaped so it shows as typed.
    whose = left.radio("Whose", ["everyone", f"{md(user)} only"], key="tl_whose", horizontal=True)
    kinds = middle.multiselect("Kinds", TIMELINE_KINDS, default=TIMELINE_KINDS, key="tl_kinds")
    limit = right.number_input("Rows", 10, 5000, 300, step=50, key="tl_limit")
    start = int(engine.meta.get("history_through_seq", 0)) + 1
    if engine.last_seq < start:
        st.info("Nothing happened in the lab yet: use the Simulator or Autopilot.")
        return
    first, last = st.slider(
        "Seq range (the lab's own time axis)",
        start,
        max(engine.last_seq, start + 1),
        (start, max(engine.last_seq, start + 1)),
        key="tl_range",
    )
    frame = timeline(
        engine.store,
        None if whose == "everyone" else user,
        kinds or TIMELINE_KINDS,
        first,
        last,
        int(limit),
    )
    if frame.empty:
        st.info("Nothing of these kinds in this range.")
        return
    draw_chart(
        timeline_figure(frame, kinds or TIMELINE_KINDS), key="tl_chart", name="learning timeline"
    )
    tables.show(
        frame,
        engine.meta,
        key="tl_table",
        column_config={"user_id": "user", "what": st.column_config.TextColumn(width="large")},
    )
    st.caption(
        "Newest seq first; within a seq, in the order one row led to the next: the event, "
        "what the model learned from it, a drift alarm, the retrain, the alias moves it made."
    )


def timeline_figure(frame: pd.DataFrame, kinds) -> go.Figure:
    """One lane per chosen kind (in `TIMELINE_KINDS` order from the top, empty lanes included),
    a dot per row of `frame` (`timeline`'s columns) at its seq."""
    lanes = [k for k in TIMELINE_KINDS if k in kinds]
    shown = frame.assign(user_id=frame["user_id"].map(plain), what=frame["what"].map(plain))
    figure = px.scatter(
        shown,
        x="seq",
        y="kind",
        color="kind",
        hover_data=["user_id", "algorithm", "what"],
        height=90 + 28 * len(lanes),
        category_orders={"kind": lanes},
    )
    figure.update_layout(showlegend=False, margin={"t": 10, "b": 10})
    figure.update_yaxes(
        categoryorder="array", categoryarray=lanes, range=[len(lanes) - 0.5, -0.5], title=None
    )
    return integer_axis(figure, "x", frame["seq"])


def _journey(engine: Engine, user: str, algorithm: str, k: int):
    """A user's journey, rebuilt once per (user, algorithm, k, log length)."""
    key = (user, algorithm, k, engine.last_seq)
    cached = st.session_state.get("journey")
    if cached is None or cached[0] != key:
        with st.spinner("Replaying your events from the log…"):
            cached = (key, journey(engine, user, algorithm, k))
        st.session_state.journey = cached
    return cached[1]


def journey_view(engine: Engine, user: str, algorithm: str, k: int = 10) -> None:
    stops = _journey(engine, user, algorithm, k)
    if not stops:
        st.info(
            f"{md(user)} has no events in the lab yet: like or rate something in the "
            "Simulator, or run Autopilot for a persona."
        )
        return
    st.caption(
        f"{len(stops)} events of {md(user)}, replayed from the event log with {algorithm}: "
        "after each one, the top-k and the scores the model held."
    )
    rows = []
    for index, stop in enumerate(stops, 1):
        for r in stop.ranking.items:
            rows.append({"step": index, "seq": stop.seq, "rank": r.rank, "title": plain(r.title)})
    ranks = pd.DataFrame(rows)
    # Every (step, title) pair, empty where the item was out of the list: the lines break there
    # instead of joining a departure to a return.
    grid = pd.MultiIndex.from_product(
        [range(1, len(stops) + 1), ranks["title"].unique()], names=["step", "title"]
    )
    ranks = (
        ranks.set_index(["step", "title"])
        .reindex(grid)
        .reset_index()
        .assign(seq=lambda f: f["step"].map({i: s.seq for i, s in enumerate(stops, 1)}))
    )
    bump = px.line(
        ranks,
        x="step",
        y="rank",
        color="title",
        markers=True,
        hover_data=["seq"],
        height=420,
        title=f"Bump chart: rank of every item that reached your top {k}",
    )
    bump.update_yaxes(autorange="reversed", dtick=1)
    bump.update_layout(showlegend=len(ranks["title"].unique()) <= 25)
    integer_axis(bump, "x", ranks["step"])
    draw_chart(bump, key="journey_bump")
    scores = pd.DataFrame(
        [
            {"step": i, "seq": s.seq, "item": plain(engine.item_title(item)), "score": score}
            for i, s in enumerate(stops, 1)
            for item, score in s.scores.items()
        ]
    )
    chosen = scores.groupby("item")["step"].min().sort_values().index[-12:]
    figure = px.line(
        scores[scores["item"].isin(chosen)],
        x="step",
        y="score",
        color="item",
        markers=True,
        hover_data=["seq"],
        height=340,
        title="Scores of the items you chose (the 12 most recent)",
    )
    integer_axis(figure, "x", scores["step"])
    draw_chart(figure, key="journey_scores")
    regret = [s.regret for s in stops]
    if any(r is not None for r in regret):
        figure = px.line(
            pd.DataFrame({"step": range(1, len(stops) + 1), "regret": regret}),
            x="step",
            y="regret",
            height=280,
            title=f"Regret@{k} against the persona's hidden taste (0 is ideal)",
        )
        integer_axis(figure, "x", range(1, len(stops) + 1))
        draw_chart(figure, key="journey_regret")


def embedding_view(engine: Engine, user: str, algorithm: str) -> None:
    model = engine.model(algorithm)
    items = model.embedding()
    if items is None:
        st.info(
            f"{algorithm} has no latent space to draw: choose **mf** in the sidebar to see "
            "items and your taste vector in two dimensions."
        )
        return
    pca = PCA(n_components=2, random_state=0).fit(items)
    points = pca.transform(items)
    frame = pd.DataFrame(
        {
            "x": points[:, 0],
            "y": points[:, 1],
            "title": [plain(t) for t in engine.catalog.titles],
            "genre": [plain(g[0]) if g else "—" for g in engine.catalog.genres],
        }
    )
    figure = px.scatter(
        frame, x="x", y="y", color="genre", hover_name="title", opacity=0.55, height=560
    )
    stops = [s for s in _journey(engine, user, algorithm, 10) if s.vector is not None]
    if stops:
        path = pca.transform(np.array([s.vector for s in stops]))
        figure.add_trace(
            go.Scatter(
                x=path[:, 0],
                y=path[:, 1],
                mode="lines+markers",
                name=f"{plain(user)} after each event",
                line={"color": "black", "width": 2},
                marker={"size": 7, "color": "black"},
                text=[f"seq {s.seq}: {s.kind} {plain(engine.item_title(s.item))}" for s in stops],
                hoverinfo="text",
            )
        )
        figure.add_annotation(x=path[0, 0], y=path[0, 1], text="start", showarrow=True)
        figure.add_annotation(x=path[-1, 0], y=path[-1, 1], text="now", showarrow=True)
    draw_chart(figure, key="embedding_map", name=f"{algorithm} embedding map")
    explained = pca.explained_variance_ratio_.sum()
    st.caption(
        f"PCA of the {algorithm} item factors ({explained:.0%} of their variance in two "
        "axes), coloured by first genre; the path is your vector after each of your events."
    )


def metrics_view(engine: Engine, algorithm: str) -> None:
    window = st.slider("Rolling window (events)", 10, 1000, 100, key="metrics_window")
    served = engine.store.served_events()
    if served.empty:
        st.info("No live events yet: use the Simulator or Autopilot.")
        return
    served["reward"] = rewards(served["kind"], served["value"], served["context"])
    served["like"] = served["kind"].isin(["like", "favorite"]).astype(float)
    rated = served.dropna(subset=["reward"])
    rolling = pd.DataFrame(
        {
            "seq": rated["seq"],
            "reward rate": rated["reward"].rolling(window, min_periods=1).mean(),
        }
    )
    rolling_likes = pd.DataFrame(
        {"seq": served["seq"], "like rate": served["like"].rolling(window, min_periods=1).mean()}
    )
    figure = go.Figure()
    figure.add_scatter(x=rolling["seq"], y=rolling["reward rate"], name="reward rate")
    figure.add_scatter(x=rolling_likes["seq"], y=rolling_likes["like rate"], name="like rate")
    _mark_model_events(engine, figure)
    figure.update_layout(height=340, title="Rolling rates of live events", xaxis_title="seq")
    integer_axis(figure, "x", served["seq"])
    rate_axis(figure, "y")
    draw_chart(figure, key="metrics_rates")
    errors = engine.store.prediction_errors("mf")
    if errors.empty:
        st.caption("Progressive RMSE appears once live ratings arrive (mf predicts stars).")
    else:
        rmse = np.sqrt((errors["error"] ** 2).rolling(window, min_periods=1).mean())
        figure = px.line(
            x=errors["seq"],
            y=rmse,
            labels={"x": "seq", "y": "RMSE"},
            height=300,
            title="Progressive RMSE of mf: each rating predicted before it is learned",
        )
        integer_axis(figure, "x", errors["seq"])
        draw_chart(figure, key="metrics_rmse")
    st.caption(
        "Dotted lines: retrains and promotions; red: drift alarms; black: taste shifts. "
        "Regret against hidden taste is on the Journey tab for personas."
    )


def _mark_model_events(engine: Engine, figure: go.Figure) -> None:
    marks = timeline(
        engine.store,
        kinds=["retrain", "promotion", "rollback", "drift alarm", "taste shift"],
        limit=200,
    )
    colours = {"drift alarm": "red", "taste shift": "black"}
    for seq, kind in zip(marks["seq"], marks["kind"], strict=True):
        # Only the rare marks get a label: retrains are many and would cover the lines.
        label = (
            {"annotation_text": kind, "annotation_position": "top left"} if kind in colours else {}
        )
        figure.add_vline(
            x=seq,
            line_dash="dot" if kind not in colours else "solid",
            line_color=colours.get(kind, "gray"),
            opacity=0.5,
            **label,
        )


def _as_of(engine: Engine, user: str, seq: int, k: int, algorithm: str):
    """A rebuilt list, kept per session: the past does not change until the log is rewritten
    (a reset), which starts a new generation of the engine's state."""
    cache = st.session_state.setdefault("as_of", {})
    key = (user, seq, k, algorithm, engine.store.path, engine.generation)
    if key not in cache:
        if len(cache) > 64:
            cache.clear()
        cache[key] = recommend_as_of(engine, user, seq, k, algorithm)
    return cache[key]


def time_travel_view(engine: Engine, user: str, algorithm: str, k: int = 10) -> None:
    first = first_seq(engine, algorithm)
    last = engine.last_seq
    if last <= first:
        st.info(
            "Time travel needs at least two events after the seeded history: use the "
            "Simulator first."
        )
        return
    mine = [s for s in engine.store.served_by(user) if s >= first]
    st.caption(
        f"Any point from seq {first:,} to {last:,}: the models are rebuilt from the log as "
        f"they were right after that event. {md(user)}'s own events: "
        + (", ".join(f"{s:,}" for s in mine[-8:]) if mine else "none yet")
    )
    a, b = st.slider(
        "Points A and B (seq): drag either handle",
        first,
        last,
        (mine[0] if mine else first, last),
        key="tt_range",
    )
    left, right = st.columns(2)
    try:
        before, after = (_as_of(engine, user, int(seq), k, algorithm) for seq in (a, b))
    except RecsysError as error:
        st.error(f"{md(error)}. Pick a seq inside the range.")
        return
    changes = diff(before, after)
    moves = {m.item: m.places for m in (*changes.moved, *changes.unchanged)}
    entered = {r.item for r in changes.entered}
    left.markdown(f"**At seq {int(a):,}**")
    left.markdown("\n".join(f"{r.rank}. {md(r.title)} :gray[{r.score:.3f}]" for r in before.items))
    right.markdown(f"**At seq {int(b):,}**")
    right.markdown(
        "\n".join(
            f"{r.rank}. {md(r.title)} "
            + (
                ":green-badge[NEW]"
                if r.item in entered
                else f":green[▲{moves[r.item]}]"
                if moves.get(r.item, 0) > 0
                else f":red[▼{-moves[r.item]}]"
                if moves.get(r.item, 0) < 0
                else ":gray[=]"
            )
            for r in after.items
        )
    )
    st.caption(
        f"{len(changes.entered)} entered, {len(changes.left)} left, {len(changes.moved)} moved "
        "between the two points."
    )
