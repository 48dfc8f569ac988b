"""Background retrains as the pages show them: a progress bar while one runs, its result when
it lands (`recsys.lifecycle.background`).

The status is a fragment that reruns every second only while a retrain runs; when the last one
lands it reruns the whole page, so the list, the version in the heading and the Versions page
show what now serves."""

from __future__ import annotations

import time

import streamlit as st

from recsys.engine import Engine
from recsys.lifecycle.jobs import Job
from recsys.ui.widgets import md


def status(engine: Engine) -> None:
    """The sidebar's retrain status (nothing when no retrain ran in this process)."""
    ticking = bool(engine.retrainer.running())

    @st.fragment(run_every=1.0 if ticking else None)
    def _status() -> None:
        jobs = engine.retrainer.jobs()
        running = [job for job in jobs if not job.finished and not job.discarded]
        for job in running:
            st.progress(job.progress(), text=md(_running(job)))
        finished = [job for job in jobs if job.finished]
        if finished and not running:
            job = finished[-1]
            ago = time.monotonic() - (job.ended or job.started)
            st.caption(md(f"{_landed(job)} ({_ago(ago)})"))
        if ticking and not running:
            st.rerun(scope="app")  # it landed: the page shows what now serves

    _status()


def _running(job: Job) -> str:
    text = f"{job.label.capitalize()}: {job.stage}"
    if job.stage == "fitting" and job.expected:
        left = job.expected - (time.monotonic() - job.started)
        text += f", about {max(left, 0):.0f} s left" if left > 0.5 else ", finishing"
    return text


def _landed(job: Job) -> str:
    if job.stage == "failed":
        return f"{job.label.capitalize()} failed: {job.error}"
    if job.stage == "discarded":
        return f"{job.label.capitalize()} was dropped: the lab was reset while it ran"
    result = job.result or {}
    if job.kind != "retrain":
        return f"Mini-batch of {job.algorithm} landed in {job.seconds:.1f} s"
    if result.get("promoted"):
        fate = "now serves"
    else:
        gate = (result.get("gate") or {}).get("message")
        fate = "is the candidate" + (f" ({gate})" if gate else "")
    return f"{job.label.capitalize()} landed in {job.seconds:.1f} s and {fate}"


def _ago(seconds: float) -> str:
    return "just now" if seconds < 5 else f"{seconds:.0f} s ago"
