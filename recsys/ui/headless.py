"""The whole app without a browser, run as a server runs it: for `python -m recsys bench`.

`launcher()` starts app.py from a one-line script in a temporary folder of its own, so every
AppTest run is app.py under `st.navigation`, as on a server, whatever sits beside app.py (the
page scripts are in `views/`, not `pages/`: see `recsys.ui.navigation`). Public AppTest API
only.
"""

from __future__ import annotations

import os
import tempfile
import time
from functools import cache
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys.ui.navigation import APP, ROOT


def launcher() -> Path:
    """The path of a script that runs app.py, in a temporary folder of its own (removed when
    the process exits). `streamlit run` puts app.py's folder on `sys.path`; so does this."""
    return Path(_launcher_folder().name) / "app.py"


@cache
def _launcher_folder() -> tempfile.TemporaryDirectory:
    folder = tempfile.TemporaryDirectory(prefix="recsys-app-")
    (Path(folder.name) / "app.py").write_text(
        "import runpy, sys\n"
        f"if {str(ROOT)!r} not in sys.path:\n"
        f"    sys.path.insert(0, {str(ROOT)!r})\n"
        f"runpy.run_path({str(APP)!r}, run_name='__main__')\n",
        encoding="utf-8",
    )
    return folder  # cached: the folder lives as long as the process


def rerun_after_like_ms(db_path: str, clicks: int = 10) -> list[float]:
    """Server-side time of a simulator rerun after a Like, in ms, one per click after the
    first (which pays for imports): click, callback, whole script. Runs as user alice on the
    lab database at `db_path`; raises RuntimeError with the app's message if a run fails."""
    previous = os.environ.get("RECSYS_DB")
    os.environ["RECSYS_DB"] = db_path
    st.cache_resource.clear()
    try:
        app = AppTest.from_file(launcher(), default_timeout=120)
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
        return timings[1:]
    finally:
        st.cache_resource.clear()
        if previous is None:
            os.environ.pop("RECSYS_DB", None)
        else:
            os.environ["RECSYS_DB"] = previous
