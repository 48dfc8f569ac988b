"""The Model versions page's taste-drift scenario: personas whose tastes swap, the drift
detector's alarms and the drift retrains that follow."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.simulation import taste_drift
from recsys.ui.versions import fmt_metric
from recsys.ui.widgets import md


def drift_scenario(engine: Engine, algorithm: str) -> None:
    st.markdown(
        "Two personas use the lab, then their hidden tastes swap with the persona least like "
        "them. The drift detector on the reward stream should fire after the shift (never "
        "before), a drift retrain follows, and the Learning history shows the whole story. "
        "The gate judges versions on the fixed holdout, which holds the old tastes: after a "
        "shift it may keep the drift retrain back as a candidate. The canary compares them on "
        "live traffic instead."
    )
    personas = engine.personas["name"].tolist()
    left, middle, right = st.columns(3)
    chosen = left.multiselect("Personas", personas, default=personas[:2], key="drift_personas")
    before = middle.number_input("Visits before the shift", 1, 2000, 150, key="drift_before")
    after = right.number_input("Visits after the shift", 1, 2000, 250, key="drift_after")
    detector = engine.lifecycle.policy.drift_detector
    if detector == "off":
        st.warning("The drift detector is off: set one in Policies first.")
    if st.button("Run the taste-drift scenario", key="drift_run", icon=":material/trending_down:"):
        if not chosen:
            st.error("Pick at least one persona.")
            return
        progress = st.progress(0.0, text="Starting…")
        started = time.perf_counter()
        try:
            report = taste_drift(
                engine,
                chosen,
                int(before),
                int(after),
                algorithm=algorithm,
                progress=lambda i, n: progress.progress(i / n, text=f"visit {i} of {n}"),
            )
        except RecsysError as error:
            st.error(f"The scenario stopped: {md(error)}")
            return
        report["seconds"] = time.perf_counter() - started
        st.session_state.drift_report = report
    report = st.session_state.get("drift_report")
    if report:
        first = report["first_alarm_after_shift"]
        st.markdown(
            f"Shift at seq **{report['shift_seq']:,}** "
            f"({', '.join(f'{a} → {b}' for a, b in report['shifts'].items())}); reward "
            f"{fmt_metric(report['reward_before'])} before, "
            f"{fmt_metric(report['reward_after'])} after. "
            + (
                f"The detector fired at seq **{first:,}**, {first - report['shift_seq']} events "
                "after the shift"
                if first
                else "The detector did not fire (try more visits after the shift)"
            )
            + f"; {report['alarms_before_shift']} alarm(s) before it. "
            f"{report['end_seq'] - report['start_seq']:,} events in {report['seconds']:.1f} s."
        )
        if report["retrains"]:
            st.dataframe(pd.DataFrame(report["retrains"]), hide_index=True, key="drift_retrains")
