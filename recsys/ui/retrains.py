"""Background retrains as the pages show them: a progress bar while one runs, its result when
it lands (`recsys.lifecycle.background`).

The status is a fragment that reruns every second while a retrain runs. When it lands, the
page is not redrawn by itself (a card could move under the cursor): a toast says so, and "Show
the new list" (or the next click) shows what now serves."""

from __future__ import annotations

import time

import streamlit as st

from recsys.engine import Engine
from recsys.lifecycle.jobs import Job
from recsys.ui.widgets import md

RECENT = 600  # seconds a finished retrain stays in the sidebar


def status(engine: Engine) -> None:
    """The sidebar's retrain status: a bar per running retrain, then what the last one did
    (for RECENT seconds). When one lands while the page is open, a toast says so and a button
    shows the new list: the page does not change under the cursor by itself."""
    ticking = bool(engine.retrainer.running())

    @st.fragment(run_every=1.0 if ticking else None)
    def _status() -> None:
        running = engine.retrainer.running()
        for job in running:
            st.progress(job.progress(), text=md(_running(job)))
        now = time.monotonic()
        recent = [j for j in engine.retrainer.jobs() if j.finished and now - j.ended < RECENT]
        if recent and not running:
            job = recent[-1]
            said = md(_landed(job))
            st.caption(said)
            seen = st.session_state.setdefault("retrains_seen", set())
            if ticking and id(job) not in seen:  # it landed while this page was open
                seen.add(id(job))
                st.toast(said, icon=":material/model_training:")
            serves = job.kind != "retrain" or (job.result or {}).get("promoted")
            if (
                ticking
                and serves
                and job.stage == "done"
                and st.button("Show the new list", key="retrain_show", icon=":material/refresh:")
            ):
                st.rerun(scope="app")  # lists and headings from what serves now

    _status()


def _running(job: Job) -> str:
    text = f"{_name(job)}: {job.stage}"
    if job.stage == "fitting" and job.expected:
        left = job.expected - (time.monotonic() - job.fit_started)
        text += f", about {max(left, 0):.0f} s left" if left > 0.5 else ", finishing"
    return text


def _name(job: Job) -> str:
    return job.label[0].upper() + job.label[1:]  # "Retrain of mf", names kept as they are


def _landed(job: Job) -> str:
    name = _name(job)
    if job.stage == "failed":
        return f"{name} failed: {job.error}"
    if job.stage == "discarded":
        return f"{name} was dropped: the lab changed while it ran"
    took = f"fitted in {job.seconds:.1f} s, landed {job.ended - job.started:.0f} s after it started"
    result = job.result or {}
    if job.kind != "retrain":
        return f"{name}: {took}; it serves"
    made = result.get("label", "the new version")
    if result.get("promoted"):
        return f"{name}: {took}; {made} now serves"
    gate = result.get("gate") or {}
    why = "the gate kept it back" if gate else "automatic promotion is off"
    return f"{name}: {took}; {made} is the candidate ({why})"
