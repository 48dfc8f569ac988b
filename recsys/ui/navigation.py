"""The app's one router: the page list app.py hands to `st.navigation`, and the guard every
page calls first.

Streamlit 1.67 has two multipage modes. Ours is `st.navigation` in app.py: every run executes
app.py (session set-up, sidebar), which then runs the chosen page. The legacy mode runs a
script from a `pages/` folder beside the entry script alone, without app.py, and lists that
folder's raw file names in the sidebar until some session has called `st.navigation` (seen as
"app, data, evaluation…" for seconds after a first visit or a deep link). The page scripts
therefore live in `views/`, a folder Streamlit does not look at: the legacy mode never starts,
and app.py calls `st.navigation` first, so the sidebar shows the page titles from the first run.

`ensure_app` still guards a page script run without app.py (`streamlit run views/world.py`):
it reroutes with two public calls, `st.navigation` and `st.rerun()`, which runs app.py on the
same page. Nothing here touches Streamlit internals. The page paths are absolute, so the router
also works when app.py is run from another entry script (`recsys.ui.headless`).
"""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[2]
PAGES_DIR = ROOT / "views"  # not pages/: see the module docstring
APP = ROOT / "app.py"

# (file stem, title, icon); the first is the default page.
PAGES: tuple[tuple[str, str, str], ...] = (
    ("simulator", "Simulator", ":material/touch_app:"),
    ("tour", "Defense tour", ":material/slideshow:"),
    ("parameters", "Parameters", ":material/tune:"),
    ("history", "Learning history", ":material/timeline:"),
    ("versions", "Model versions", ":material/inventory_2:"),
    ("experiments", "A/B tests", ":material/science:"),
    ("evaluation", "Evaluation", ":material/analytics:"),
    ("world", "World", ":material/public:"),
    ("data", "Data", ":material/database:"),
)

# Set while app.py runs a page: one script run is one thread, so a page reads here whether
# app.py is running it (a session-state flag could outlive an interrupted run).
_routing = threading.local()


def page_path(name: str) -> Path:
    """The absolute path of `views/NAME.py`, for `st.Page` and `st.switch_page`.

    Raises ValueError for a name that is not one of `PAGES`."""
    if name not in {stem for stem, _, _ in PAGES}:
        raise ValueError(f"unknown page {name!r}; known: {', '.join(s for s, _, _ in PAGES)}")
    return PAGES_DIR / f"{name}.py"


def pages() -> list[st.Page]:
    """Every page of the app as an `st.Page`, in sidebar order, the simulator the default."""
    return [
        st.Page(page_path(stem), title=title, icon=icon, default=index == 0)
        for index, (stem, title, icon) in enumerate(PAGES)
    ]


def run(page: st.Page) -> None:
    """Run the page `st.navigation` chose, marked as run by app.py (see `ensure_app`)."""
    _routing.active = True
    try:
        page.run()
    finally:
        _routing.active = False


def ensure_app() -> None:
    """Call first in every page. A page script run without app.py (as its own entry script)
    switches to `st.navigation` and reruns through app.py on the same page, so it gets the
    session set-up and the sidebar. Inside app.py's run it does nothing."""
    if not getattr(_routing, "active", False):
        st.navigation(pages())
        st.rerun()
