"""The Model versions page's pieces: the registry table and actions, comparison, metric chart,
policies, canary and the taste-drift scenario."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.lifecycle.policies import Policy
from recsys.ui import sharing
from recsys.ui.charts import draw_chart, version_metrics_figure
from recsys.ui.widgets import md

SHOWN_METRICS = ["NDCG@10", "precision@10", "recall@10", "RMSE", "MAE", "coverage"]
POLICY_GROUPS = {
    "Retrain": ["retrain_ratings", "minibatch_events", "minibatch_seconds", "schedule_seconds"],
    "Drift detector": [
        "drift_detector",
        "ph_delta",
        "ph_threshold",
        "ph_alpha",
        "ph_min_instances",
        "adwin_delta",
        "adwin_clock",
    ],
    "Promotion gate and rollback": [
        "auto_promote",
        "gate_metric",
        "gate_absolute",
        "gate_relative",
        "rollback_floor",
        "rollback_window",
    ],
}


def status_line(engine: Engine, algorithm: str) -> None:
    registry, label = engine.version_store, engine.lifecycle.label
    production = registry.alias(algorithm, "production")
    candidate = registry.alias(algorithm, "candidate")
    previous = registry.previous_production(algorithm)
    share = engine.lifecycle.policy.canary_share
    cols = st.columns(4)
    cols[0].metric("Production", label(production))
    cols[1].metric("Candidate", label(candidate) if candidate else "none")
    cols[2].metric("Canary share", f"{share:g} %" if candidate and share else "off")
    cols[3].metric("Previous production", label(previous) if previous else "none")
    left, right = st.columns(2)
    if left.button(
        "Train a new version now",
        key="versions_train",
        icon=":material/model_training:",
        width="stretch",
        help="Fits on the whole log, measures it on the fixed holdout and, if the policy "
        "auto-promotes, runs the promotion gate.",
    ):
        with st.status(f"Training {algorithm} on {engine.last_seq:,} events…") as status:
            try:
                info = engine.lifecycle.train(algorithm, "manual", "gate")
            except RecsysError as error:
                status.update(label="Training failed", state="error")
                st.error(f"{md(error)}. Check the parameters page and try again.")
                return
            st.session_state.versions_flash = (
                f"Trained in {info['seconds']:.2f} s: {info['outcome']}."
            )
            status.update(label="Trained", state="complete")
        st.rerun()
    if right.button(
        f"Roll back to {label(previous)}" if previous else "Roll back",
        key="versions_rollback",
        icon=":material/undo:",
        width="stretch",
        disabled=previous is None,
        help="Serve the previous production again: its parameters plus the events since.",
    ):
        info = engine.lifecycle.rollback(algorithm)
        st.session_state.versions_flash = (
            f"Rolled back: {info['label']} serves again (was {info['was_label']})."
        )
        st.rerun()
    if message := st.session_state.pop("versions_flash", None):
        st.success(md(message), icon=":material/check_circle:")


def versions_table(engine: Engine, algorithm: str) -> pd.DataFrame:
    if engine.version_store.unmeasured(algorithm):
        with st.spinner("Measuring versions on the holdout…"):
            engine.lifecycle.measured(algorithm)
    frame = engine.version_store.versions(algorithm)
    metrics = [m for m in SHOWN_METRICS if m in frame]
    frame = frame.assign(parent=[_label(n) or "–" for n in frame["parent"]])
    shown = frame[
        [
            "version",
            "aliases",
            "trigger",
            "parent",
            "trained_through_seq",
            "n_events",
            *metrics,
            "fit_seconds",
            "created_at",
        ]
    ]
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={
            "version": st.column_config.NumberColumn("version", format="v%d"),
            "parent": st.column_config.TextColumn("parent"),
            "trained_through_seq": st.column_config.NumberColumn("through seq"),
            "n_events": st.column_config.NumberColumn("events"),
            **{m: st.column_config.NumberColumn(m, format="%.4f") for m in metrics},
            "fit_seconds": st.column_config.NumberColumn("fit s", format="%.2f"),
        },
        key="versions_table",
    )
    return frame


def version_actions(engine: Engine, algorithm: str, frame: pd.DataFrame) -> None:
    ids = frame["version_id"].tolist()
    if not ids:
        return
    production = engine.version_store.alias(algorithm, "production")
    names = dict(zip(frame["version_id"], frame["version"], strict=True))
    left, middle, right = st.columns([2, 2, 2], vertical_alignment="bottom")
    chosen = left.selectbox(
        "Version", ids, format_func=lambda v: f"v{names[v]}", key="versions_pick"
    )
    shown = f"v{names[chosen]}"
    force = middle.checkbox(
        "Promote past the gate", key="versions_force", help="For a deliberate override."
    )
    verdict = engine.lifecycle.gate(chosen) if chosen != production else None
    with right:
        promote = st.button(
            f"Promote {shown}",
            key="versions_promote",
            icon=":material/rocket_launch:",
            disabled=chosen == production,
            width="stretch",
        )
        delete = st.button(
            f"Delete {shown}",
            key="versions_delete",
            icon=":material/delete:",
            disabled=chosen == production,
            width="stretch",
            # Said only where it applies: v1 is not production just because it is first.
            help=f"{shown} serves production and cannot be deleted."
            if chosen == production
            else None,
        )
    if verdict:
        st.caption(
            "If promoted now: "
            + md(verdict["message"].rsplit(": ", 1)[0])
            + (" (passes the gate)" if verdict["passed"] else " (the gate would refuse it)")
            + ". To try it on a share of users first, use the Canary tab."
        )
    try:
        if promote:
            engine.lifecycle.promote(chosen, force=force)
            st.session_state.versions_flash = f"{shown} now serves {algorithm}."
            st.rerun()
        if delete and sharing.allowed("delete a model version"):
            engine.lifecycle.delete(chosen)
            st.session_state.versions_flash = f"Deleted {shown}."
            st.rerun()
    except RecsysError as error:
        st.error(f"{md(error)}.", icon=":material/block:")


def metric_chart(frame: pd.DataFrame) -> None:
    metrics = [m for m in SHOWN_METRICS if m in frame and frame[m].notna().any()]
    if frame.empty or not metrics:
        st.info("No measured versions yet.")
        return
    # Whole-number version ticks (v1, v2...), rates on [0, 1], titles that do not overlap.
    figure = version_metrics_figure(frame, metrics, x="version")
    draw_chart(figure, key="versions_metrics", name="model versions on the holdout")
    st.caption("Each version's own parameters on the fixed holdout set aside with the world.")


def compare_view(engine: Engine) -> None:
    everything = engine.version_store.versions()
    ids = everything["version_id"].tolist()
    if len(ids) < 2:
        st.info("Train a second version to compare.")
        return
    label = {
        v: f"{a} v{n}"
        for v, a, n in zip(
            everything["version_id"], everything["algorithm"], everything["version"], strict=True
        )
    }
    left, right = st.columns(2)
    a = left.selectbox("A", ids, index=1, format_func=label.get, key="cmp_a")
    b = right.selectbox("B", ids, index=0, format_func=label.get, key="cmp_b")
    try:
        report = engine.lifecycle.compare(a, b)
    except RecsysError as error:
        st.error(f"{md(error)}: pick two different versions.")
        return
    names = {"a": label[a], "b": label[b]}
    metrics = pd.DataFrame(report["metrics"]).T.rename(columns=names)
    st.dataframe(metrics, width="stretch", key="cmp_metrics")
    if report["config"]:
        st.markdown("**Config differences**")
        st.dataframe(
            pd.DataFrame(report["config"]).T.rename(columns=names),
            width="stretch",
            key="cmp_config",
        )
    else:
        st.caption("Same configuration.")
    st.markdown(
        f"**Top-10 agreement** over {len(report['users'])} sample users: mean overlap "
        f"{fmt_metric(report['mean_overlap'])}, mean Kendall tau "
        f"{fmt_metric(report['mean_kendall_tau'])}"
    )
    if report["users"]:
        st.dataframe(pd.DataFrame(report["users"]), hide_index=True, key="cmp_users")


def fmt_metric(value) -> str:
    """A metric with three decimals, or a dash where it is undefined."""
    return "—" if value is None else f"{value:.3f}"


def policy_form(engine: Engine) -> None:
    policy = engine.lifecycle.policy
    bounds = {b["name"]: b for b in Policy.bounds()}
    with st.form("policy_form", border=True):
        values = {}
        for group, names in POLICY_GROUPS.items():
            st.markdown(f"**{group}**")
            columns = st.columns(3)
            for index, name in enumerate(names):
                values[name] = _policy_input(columns[index % 3], bounds[name], policy)
        st.caption(
            "Online learning on every event is always on. A full retrain makes a version; a "
            "mini-batch refit only a checkpoint."
        )
        saved = st.form_submit_button("Save the policy", type="primary", icon=":material/save:")
    if saved:
        try:
            engine.lifecycle.set_policy(values)
        except RecsysError as error:
            st.error(f"{md(error)}. Nothing was changed.")
            return
        st.success(
            "Policy saved. Counters are read again from the log; detectors and the rollback "
            "window start empty."
        )


def _policy_input(column, bound: dict, policy: Policy):
    name, value = bound["name"], getattr(policy, bound["name"])
    key = f"policy-{name}"
    if bound["choices"]:
        choices = list(bound["choices"])
        return column.selectbox(
            name, choices, index=choices.index(value), help=bound["help"], key=key
        )
    if bound["type"] == "bool":
        return column.checkbox(name, value=bool(value), help=bound["help"], key=key)
    if bound["type"] == "int":
        return column.number_input(
            name,
            int(bound["low"]),
            int(bound["high"]),
            int(value),
            help=bound["help"],
            key=key,
        )
    return column.number_input(
        name,
        float(bound["low"]),
        float(bound["high"]),
        float(value),
        help=bound["help"],
        format="%.4f" if bound["high"] <= 1 else "%.1f",
        key=key,
    )


def updates_view(engine: Engine, algorithm: str) -> None:
    updates = engine.version_store.updates(algorithm, limit=200)
    if updates.empty:
        st.info("No retrains yet.")
    else:
        updates["version"] = [_label(n) for n in updates["version"]]
        # The holdout metrics as columns, not JSON text; the seq orders them (raw lab
        # seconds would tell a person nothing).
        metrics = pd.DataFrame([json.loads(m or "{}") for m in updates["metrics"]])
        metrics = metrics[[m for m in SHOWN_METRICS if m in metrics]]
        columns = ["at_seq", "update_type", "trigger", "version", "events", "seconds", "status"]
        shown = pd.concat([updates[columns], metrics, updates[["error", "created_at"]]], axis=1)
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config={
                "seconds": st.column_config.NumberColumn("seconds", format="%.2f"),
                **{m: st.column_config.NumberColumn(m, format="%.4f") for m in metrics},
            },
            key="updates",
        )
    st.markdown(
        "**Alias moves** (who or what moved each alias, when and why; `canary` rows are the "
        "canary's share set, changed or cleared)"
    )
    moves = engine.version_store.alias_history(algorithm)
    order = ["at_seq", "alias", "from", "to", "actor", "reason", "created_at"]
    st.dataframe(
        moves[order],
        hide_index=True,
        width="stretch",
        key="moves",
    )


def _label(number) -> str:
    return "" if number is None or number != number else f"v{int(number)}"
