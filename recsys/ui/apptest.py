"""Driving the app headless with AppTest, for the tests and `python -m recsys bench`."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"


@contextmanager
def navigation_v2() -> Iterator[None]:
    """Work around AppTest 1.67: it resets `PagesManager.uses_pages_directory` before every
    run, so with a `pages/` folder beside app.py a rerun after a click executes only the page
    script (v1 multipage semantics) and drops the sidebar. A real server keeps the flag False
    once `st.navigation` has run; inside this block AppTest does the same."""
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    try:
        yield
    finally:
        PagesManager.__init__ = original


def rerun_after_like_ms(db_path: str, clicks: int = 10) -> list[float]:
    """Server-side time of a simulator rerun after a Like: click, callback, whole script."""
    previous = os.environ.get("RECSYS_DB")
    os.environ["RECSYS_DB"] = db_path
    st.cache_resource.clear()
    try:
        with navigation_v2():
            app = AppTest.from_file(str(APP), default_timeout=120)
            app.query_params["user"] = "alice"
            app.run()
            timings = []
            for _ in range(clicks + 1):
                like = next(b for b in app.button if b.key and b.key.startswith("like-"))
                started = time.perf_counter()
                like.click().run()
                timings.append((time.perf_counter() - started) * 1000)
                if app.exception:
                    raise RuntimeError(app.exception[0].message)
            return timings[1:]  # the first rerun pays for imports
    finally:
        st.cache_resource.clear()
        if previous is None:
            os.environ.pop("RECSYS_DB", None)
        else:
            os.environ["RECSYS_DB"] = previous


def median(values: list[float]) -> float:
    return statistics.median(values)
