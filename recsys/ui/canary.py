"""The Model versions page's Canary tab: pick a version, give it a share of users, watch its
live metrics beside production's, then promote it or roll the canary back."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.ui.widgets import md

LIVE_COLUMNS = {
    "side": st.column_config.TextColumn("serves"),
    "label": st.column_config.TextColumn("version"),
    "users": st.column_config.NumberColumn("users"),
    "events": st.column_config.NumberColumn("events"),
    "views": st.column_config.NumberColumn("views"),
    "clicks": st.column_config.NumberColumn("clicks"),
    "CTR": st.column_config.NumberColumn("CTR", format="%.3f", help="clicks per view"),
    "likes": st.column_config.NumberColumn("likes"),
    "like rate": st.column_config.NumberColumn("like rate", format="%.3f", help="per event"),
    "reward mean": st.column_config.NumberColumn(
        "reward", format="%.3f", help="1 for a like or 4+ stars, 0 for a dislike or a skip"
    ),
}


def canary_view(engine: Engine, algorithm: str) -> None:
    life = engine.lifecycle
    status = life.canary_status(algorithm)
    if message := st.session_state.pop("canary_flash", None):
        st.success(md(message), icon=":material/check_circle:")
    if status["serving"]:
        st.markdown(
            f"**Canary on:** {status['candidate_label']} serves **{status['share']:g} %** of "
            f"{algorithm}'s users (split by a hash of the user id, so each keeps its side); "
            f"production {status['production_label']} serves the rest."
        )
        _live(status)
        _decide(engine, algorithm, status)
    else:
        st.markdown(
            f"**No canary:** production {status['production_label']} serves all of "
            f"{algorithm}'s users. Pick a version to try on a share of them."
        )
    _set_form(engine, algorithm, status)


def _live(status: dict) -> None:
    live: pd.DataFrame = status["live"]
    since = f"since event {status['since_seq']:,}" if status["since_seq"] else "so far"
    sides = {status["production"]: "production", status["candidate"]: "canary"}
    rows = pd.DataFrame(
        [{"side": side, "label": _label(status, side)} for side in ("production", "canary")]
    )
    if not live.empty:
        live = live.assign(
            side=live["version"].map(sides),
            reward_sum=live["reward mean"].fillna(0) * live["rewards"],
        )
        live = live.groupby(["side", "label"], as_index=False)[
            ["users", "events", "views", "clicks", "likes", "rewards", "reward_sum"]
        ].sum()
        live["reward mean"] = (live["reward_sum"] / live["rewards"]).where(live["rewards"] > 0)
    rows = rows.merge(live, on=["side", "label"], how="left") if not live.empty else rows
    for column in ("users", "events", "views", "clicks", "likes"):
        rows[column] = rows[column].fillna(0).astype(int) if column in rows else 0
    rows["CTR"] = (rows["clicks"] / rows["views"]).where(rows["views"] > 0)
    rows["like rate"] = (rows["likes"] / rows["events"]).where(rows["events"] > 0)
    if "reward mean" not in rows:
        rows["reward mean"] = float("nan")
    st.markdown(f"**Live traffic {since}**: what each side served and what people did with it")
    st.dataframe(
        rows[list(LIVE_COLUMNS)],
        hide_index=True,
        width="stretch",
        column_config=LIVE_COLUMNS,
        key="canary_live",
    )
    if rows["events"].min() == 0:
        st.caption("A side with no events yet: use the Simulator or Autopilot to send traffic.")


def _label(status: dict, side: str) -> str:
    return status["production_label"] if side == "production" else status["candidate_label"]


def _decide(engine: Engine, algorithm: str, status: dict) -> None:
    life, candidate = engine.lifecycle, status["candidate"]
    label = status["candidate_label"]
    verdict = life.gate(candidate)
    st.caption(
        "Promoting runs the same gate as a retrain: "
        + md(verdict["message"])
        + ("." if verdict["passed"] else "; tick the box to promote past it.")
    )
    left, middle, right = st.columns([2, 2, 2], vertical_alignment="bottom")
    force = left.checkbox("Promote past the gate", key="canary_force", disabled=verdict["passed"])
    promote = middle.button(
        f"Promote {label} to production",
        key="canary_promote",
        icon=":material/rocket_launch:",
        type="primary",
        width="stretch",
    )
    rollback = right.button(
        "Roll back the canary",
        key="canary_rollback",
        icon=":material/undo:",
        width="stretch",
        help=f"Production {status['production_label']} serves everyone again; {label} stays "
        "in the registry.",
    )
    try:
        if promote:
            life.promote(candidate, force=force)
            st.session_state.canary_flash = (
                f"{label} now serves all of {algorithm}'s users; the canary ended."
            )
            st.rerun()
        if rollback:
            life.clear_canary(algorithm)
            st.session_state.canary_flash = (
                f"Canary rolled back: production {status['production_label']} serves all of "
                f"{algorithm}'s users."
            )
            st.rerun()
    except RecsysError as error:
        st.error(f"{md(error)}.", icon=":material/block:")


def _set_form(engine: Engine, algorithm: str, status: dict) -> None:
    frame = engine.version_store.versions(algorithm)
    frame = frame[frame["version_id"] != status["production"]]
    if frame.empty:
        st.info(
            "Every version of this algorithm is production: train a new version (Versions tab) "
            "to have one to try."
        )
        return
    names = dict(zip(frame["version_id"], frame["version"], strict=True))
    ids = list(names)
    index = ids.index(status["candidate"]) if status["candidate"] in names else 0
    with st.form("canary_form", border=True):
        left, right = st.columns(2)
        version = left.selectbox(
            "Version to try",
            ids,
            index=index,
            format_func=lambda v: f"v{names[v]}",
            key="canary_version",
        )
        share = right.number_input(
            "Share of users (%)",
            min_value=0.5,
            max_value=100.0,
            value=float(status["share"] or 10.0),
            step=0.5,
            key="canary_share",
            help="The share applies to every algorithm's candidate; users are split by a "
            "hash of their id, so each keeps their side.",
        )
        start = st.form_submit_button(
            "Change the canary" if status["serving"] else "Start the canary",
            icon=":material/science:",
        )
    if start:
        try:
            result = engine.lifecycle.set_canary(algorithm, version, share)
        except RecsysError as error:
            st.error(f"{md(error)}. Nothing was changed.", icon=":material/block:")
            return
        st.session_state.canary_flash = (
            f"Canary: {result['candidate_label']} serves {result['share']:g} % of "
            f"{algorithm}'s users; production {result['production_label']} the rest. "
            "Recorded in Updates and alias moves."
        )
        st.rerun()
