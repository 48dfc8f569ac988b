"""Plugins in the app: loaded once per process at start, and the Parameters page's Algorithms tab.

At start (before the engine opens, so a plugin is in `REGISTRY` wherever a built-in is) the
app loads the lab's `plugins/` folder, every `--plugin PATH` after `streamlit run app.py --`,
the paths in `$RECSYS_PLUGINS` (separated like `$PATH`) and installed entry points. A plugin
that cannot be loaded is one warning line naming its file and line; the lab works without it.

The Algorithms tab runs the contract checks (`recsys.algorithms.checks`) on an uploaded `.py`
file, the report `python -m recsys check-algorithm` prints. Loading runs the file's code with
the user's rights: it happens only after a confirmation that says so, and in a shared lab only
for the host (`sharing.allowed`). The upload is checked, not added to the lab.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from recsys.algorithms import REGISTRY
from recsys.algorithms.checks import check_algorithm
from recsys.algorithms.discovery import (
    ENTRY_POINT_GROUP,
    PLUGIN_FOLDER,
    Loaded,
    discover,
    load_file,
    plugin_names,
)
from recsys.algorithms.plugin import PluginError
from recsys.ui import sharing
from recsys.ui.widgets import md

MAX_PLUGIN_BYTES = 1_000_000  # a plugin is a source file, not a data set


def plugin_arguments(argv: list[str] | None = None) -> list[str]:
    """Every `--plugin PATH` (or `--plugin=PATH`) after `streamlit run app.py --`, then the
    paths of `$RECSYS_PLUGINS`."""
    argv = sys.argv[1:] if argv is None else argv
    paths = []
    for i, arg in enumerate(argv):
        if arg == "--plugin" and i + 1 < len(argv):
            paths.append(argv[i + 1])
        elif arg.startswith("--plugin="):
            paths.append(arg.split("=", 1)[1])
    extra = os.environ.get("RECSYS_PLUGINS", "")
    return paths + [p for p in extra.split(os.pathsep) if p.strip()]


@st.cache_resource(show_spinner="Loading plugins…")
def _startup(paths: tuple[str, ...]) -> Loaded:
    return discover(paths)


def load_plugins() -> Loaded:
    """Register the plugins (once per process and set of paths)."""
    return _startup(tuple(plugin_arguments()))


def plugin_warnings() -> None:
    """One warning line per plugin that was left out (app.py draws them once per run)."""
    for problem in load_plugins().problems:
        st.warning(f"Plugin left out: {md(problem)}", icon=":material/extension_off:")


def algorithms_tab() -> None:
    """The registered plugins, where plugins come from, and a plugin file's contract check."""
    names = plugin_names()
    if names:
        rows = [
            {"algorithm": n, "file": REGISTRY[n].source, "summary": REGISTRY[n].summary}
            for n in names
        ]
        st.markdown("**Plugins in this lab** (each on every page, like a built-in):")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    else:
        st.markdown("**No plugin is loaded in this lab.**")
    st.caption(
        f"The lab loads plugins from the `plugins/` folder ({md(str(PLUGIN_FOLDER))}; files "
        "starting with `example` or `_` are skipped), from `--plugin PATH` (`streamlit run "
        "app.py -- --plugin my_algo.py`) and from installed packages with an entry point in "
        f"`{ENTRY_POINT_GROUP}`. A plugin is code and runs with your rights; the lab never "
        "loads one from a URL, and stores its state as arrays, never pickled. docs/plugins.md "
        "says how to write one."
    )
    st.subheader("Check a plugin file")
    st.markdown(
        "Runs the contract checks every built-in passes (the same as `python -m recsys "
        "check-algorithm PATH`) on a planted world of 40 items. The file is checked, not "
        "added to the lab: to use it, put it in the `plugins/` folder and restart the app."
    )
    upload = st.file_uploader("A plugin file (.py)", type=["py"], key="plugin_upload")
    if upload is None:
        st.session_state.pop("plugin_report", None)
        return
    size = upload.size
    st.warning(
        f"**{md(upload.name)}** ({size:,} bytes) is Python code. Loading it runs that code on "
        "this computer with your rights: it can read, change or delete your files. Load only "
        "a file you wrote or trust.",
        icon=":material/warning:",
    )
    confirmed = st.checkbox(
        "I understand: run this file's code with my rights", key="plugin_confirm"
    )
    clicked = st.button(
        "Load and check",
        key="plugin_check",
        type="primary",
        disabled=not confirmed,
        icon=":material/rule:",
    )
    if clicked and sharing.allowed("load a plugin"):
        st.session_state.plugin_report = _checked(upload.name, upload.getvalue())
    report = st.session_state.get("plugin_report")
    if report is not None and report["file"] == upload.name:
        _show(report)


def _checked(name: str, data: bytes) -> dict:
    """The check of the uploaded file `name` (its bytes `data`): an error line or reports."""
    if len(data) > MAX_PLUGIN_BYTES:
        return {"file": name, "error": f"{name} is over {MAX_PLUGIN_BYTES:,} bytes: not a plugin"}
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(name).name)
    with tempfile.TemporaryDirectory(prefix="recsys-plugin-") as folder:
        path = Path(folder) / safe
        path.write_bytes(data)
        try:
            reports = [check_algorithm(cls) for cls in load_file(path)]
        except PluginError as error:
            return {"file": name, "error": str(error).replace(folder + os.sep, "")}
    return {"file": name, "reports": reports}


def _show(report: dict) -> None:
    if "error" in report:
        st.error(
            f"{md(report['error'])}. Fix the file and upload it again; the lab is unchanged.",
            icon=":material/error:",
        )
        return
    for checked in report["reports"]:
        verdict = "passes every check" if checked.passed else "fails a check"
        icon = ":material/check_circle:" if checked.passed else ":material/cancel:"
        (st.success if checked.passed else st.error)(
            f"**{md(checked.algorithm)}** {verdict}", icon=icon
        )
        st.table(
            pd.DataFrame(
                [
                    {"": "pass" if c.passed else "FAIL", "check": c.name, "found": c.detail}
                    for c in checked.checks
                ]
            ).set_index("")
        )
        if checked.learn_one_ms is not None:
            st.caption(
                f"Speed on 40 items: learn_one {checked.learn_one_ms:.3f} ms, score "
                f"{checked.score_ms:.3f} ms per call (measured, not judged)."
            )
