"""The parameters panel: every config field of an algorithm as a bounded widget."""

from __future__ import annotations

import streamlit as st

from recsys.algorithms import REGISTRY
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.ui.widgets import md


def parameters_form(engine: Engine, algorithm: str) -> None:
    cls = REGISTRY[algorithm]
    current = engine.model(algorithm).config.to_dict()
    defaults = cls.config_class().to_dict()
    st.markdown(f"**{algorithm}**: {md(cls.summary)}")
    st.caption(
        f"Seed {engine.meta.get('seed', '0')} (the lab's): the same log, parameters and seed "
        "always rebuild the same model. Each knob says its bounds and its default."
    )
    with st.form(key=f"parameters-{algorithm}", border=True):
        values = {}
        for bound in cls.config_class.bounds():
            name, kind = bound["name"], bound["type"]
            label = f"{name} ({_range(bound)}default {_shown(bound['default'])})"
            if kind == "bool":
                values[name] = st.checkbox(
                    label,
                    value=bool(current[name]),
                    help=bound["help"],
                    key=f"param-{algorithm}-{name}",
                )
            elif kind == "int":
                values[name] = st.number_input(
                    label,
                    min_value=int(bound["low"]),
                    max_value=int(bound["high"]),
                    value=int(current[name]),
                    step=1,
                    help=bound["help"],
                    key=f"param-{algorithm}-{name}",
                )
            else:
                values[name] = st.number_input(
                    label,
                    min_value=float(bound["low"]),
                    max_value=float(bound["high"]),
                    value=float(current[name]),
                    step=_step(bound),
                    format="%.4f",
                    help=bound["help"],
                    key=f"param-{algorithm}-{name}",
                )
        apply = st.form_submit_button(
            "Apply and rebuild from the event log", type="primary", icon=":material/build:"
        )
    changes = {k: v for k, v in values.items() if v != current[k]} if apply else {}
    if apply and not changes:
        st.info("Nothing changed: edit a value first.")
    if st.session_state.pop("restore_defaults", None) == algorithm:
        changes = {k: v for k, v in defaults.items() if v != current[k]}
    if changes:
        _rebuild(engine, algorithm, changes)
    st.button(
        "Back to the defaults",
        key=f"defaults-{algorithm}",
        icon=":material/undo:",
        disabled=engine.model(algorithm).config.to_dict() == defaults,
        on_click=_restore_defaults,
        args=(algorithm, defaults),
    )


def _restore_defaults(algorithm: str, defaults: dict) -> None:
    """Put the defaults into the widgets (only a callback may) and rebuild on the rerun."""
    for name, value in defaults.items():
        st.session_state[f"param-{algorithm}-{name}"] = value
    st.session_state.restore_defaults = algorithm


def _rebuild(engine: Engine, algorithm: str, changes: dict) -> None:
    shown_changes = ", ".join(f"{k} = {_shown(v)}" for k, v in changes.items())
    with st.status(
        f"Training {algorithm} with {shown_changes} on {engine.last_seq:,} events…",
        expanded=False,
    ) as status:
        try:
            info = engine.configure(algorithm, changes)
        except RecsysError as error:
            status.update(label="Nothing changed", state="error")
            st.error(f"{md(error)}. Pick a value within the bounds shown.")
            return
        status.update(
            label=f"{info['label']} of {algorithm} trained in {info['seconds']:.2f} s with "
            f"{shown_changes}",
            state="complete",
        )
    serving = engine.lifecycle.label(engine.version_store.alias(algorithm, "production"))
    st.session_state.parameters_outcome = (algorithm, info, shown_changes, serving)
    if info["promoted"]:
        st.session_state.pop("last_step", None)  # its before/after came from the old model
    fate = "serves now" if info["promoted"] else "is the candidate"
    st.toast(f"{algorithm} {info['label']} ({shown_changes}) {fate}", icon=":material/build:")


def outcome(algorithm: str) -> None:
    """What the last Apply did for `algorithm`: the version trained, the gate's verdict and
    what serves now (kept across reruns until another Apply)."""
    last = st.session_state.get("parameters_outcome")
    if not last or last[0] != algorithm:
        return
    _, info, shown_changes, serving = last
    gate, label = info.get("gate"), info["label"]
    lines = [f"**Trained** {label} with {md(shown_changes)}."]
    if gate:
        verdict = "passed it" if gate["passed"] else "refused it"
        lines.append(f"**The gate {verdict}**: {md(gate['message'])}.")
    elif not info["promoted"]:
        lines.append("**No gate ran**: the policy's auto_promote is off.")
    if info["promoted"]:
        lines.append(f"**Serving now**: {label} serves {algorithm}.")
    else:
        lines.append(
            f"**Serving now**: {serving} still serves {algorithm}; {label} waits as the "
            "candidate. Promote it or try it on a share of users (Canary) on the Model "
            "versions page."
        )
    show = st.success if info["promoted"] else st.warning
    show("  \n".join(lines), icon=":material/rocket_launch:" if info["promoted"] else None)


def _range(bound: dict) -> str:
    """A knob's bounds as its label says them ("1 to 256, "); nothing for an on/off flag."""
    if bound["type"] == "bool" or bound["low"] is None:
        return ""
    return f"{_shown(bound['low'])} to {_shown(bound['high'])}, "


def _shown(value: float | bool) -> str:
    """A parameter's value as the page writes it: "on"/"off" for a flag, else compact."""
    return ("on" if value else "off") if isinstance(value, bool) else f"{value:g}"


def _step(bound: dict) -> float:
    span = float(bound["high"]) - float(bound["low"])
    return float(f"{span / 1000:.1g}") if span else 0.01
