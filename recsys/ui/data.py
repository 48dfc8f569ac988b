"""The Data page's import and export tabs (its scenarios tab is `recsys.ui.scenarios`)."""

from __future__ import annotations

import io
import math
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

from recsys.data.importer import FORMATS, max_import_bytes, read_dataset
from recsys.data.preview import columns, preview
from recsys.data.scale import parse_scale
from recsys.data.uploads import default_parts, size_text, upload_problem
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.ui import sharing
from recsys.ui.widgets import confirm_replace, md

NOT_GIVEN = "(none)"


# -- import -------------------------------------------------------------------------------


def import_view(engine: Engine) -> None:
    try:
        limit = max_import_bytes()
    except RecsysError as error:  # a bad RECSYS_MAX_IMPORT_MB: nothing can be read safely
        st.error(f"{md(error)}. Restart the lab with it fixed or unset to import files.")
        return
    fmt = st.radio(
        "Format",
        list(FORMATS),
        format_func=lambda f: FORMATS[f].label,
        horizontal=True,
        key="import_format",
    )
    spec = FORMATS[fmt]
    st.caption(spec.description)
    if said := st.session_state.get("import_accounting"):  # the last import's numbers
        st.info(md(said), icon=":material/info:")
    # A fresh key after each import empties the uploader and the confirmation.
    round_ = st.session_state.get("import_round", 0)
    suffix = f"_{round_}" if round_ else ""
    uploads = st.file_uploader(
        f"Files ({', '.join(spec.required + spec.optional)}; up to {size_text(limit)} each)",
        accept_multiple_files=True,
        key=f"import_files_{fmt}{suffix}",
        # The uploader refuses what the import would: one limit, said once, in both places.
        max_upload_size=max(1, math.ceil(limit / 2**20)),
    )
    files, sizes = {}, {}
    for upload in uploads or []:
        if upload.name in files:
            st.warning(f"Two uploads are named {md(upload.name)}: the one added last is used.")
        files[upload.name], sizes[upload.name] = upload, upload.size
    if not files:
        st.info("Upload the files to preview them, map their columns and check them.")
        _download_view(engine)
        return
    chosen = _assign_files(spec, list(files))
    if problem := upload_problem(spec, sizes, chosen, limit):
        st.error(md(problem))
        return
    chosen = {role: name for role, name in chosen.items() if name}
    files = {name: files[name].getvalue() for name in set(chosen.values())}
    mapping = {}
    for role, name in chosen.items():
        with st.expander(f"{role} ← {md(name)}", expanded=False):
            table = preview(files[name], role, fmt)
            st.dataframe(table, hide_index=True, width="stretch")
            if fmt != "movielens-100k":  # its files have no header to map
                mapping[role] = _map_columns(fmt, role, list(table.columns))
    mapping = {role: m for role, m in mapping.items() if m}
    given = {role: files[name] for role, name in chosen.items()}
    name = (
        st.text_input(
            "Dataset name", placeholder="e.g. Wine shop", key="import_name", max_chars=80
        ).strip()
        or spec.label
    )
    scale = _scale_input(fmt)
    if scale is False:
        return
    holdout = st.number_input(
        "Holdout share",
        0.0,
        0.5,
        0.1,
        0.05,
        key="import_holdout",
        help="The share of (user, item) pairs set aside to measure every model version on, "
        "never trained on; 0 keeps every event in the lab's log. A lab export's own holdout "
        "column is kept as it is.",
    )
    confirm = confirm_replace(engine, f"import_confirm{suffix}")
    check, run, _ = st.columns([1, 1, 2])
    if check.button("Check (dry run)", key="import_check", icon=":material/fact_check:"):
        report = read_dataset(
            fmt, given, mapping=mapping or None, name=name, max_bytes=limit, scale=scale
        )
        _show_report(report, holdout)
    if run.button(
        "Import and replace the lab", key="import_run", type="primary", disabled=not confirm
    ):
        report = read_dataset(
            fmt, given, mapping=mapping or None, name=name, max_bytes=limit, scale=scale
        )
        if not report.ok:
            _show_report(report)
            return
        _load(engine, report, given, mapping, holdout=holdout)


def _scale_input(fmt: str):
    """The ratings' scale the person gives (a Scale), None to read it off the data, or False
    after an error shown on the page."""
    default = "read off the ratings" if fmt == "lab" else "0.5:5 (MovieLens)"
    text = st.text_input(
        "Rating scale",
        placeholder=default,
        key=f"import_scale_{fmt}",
        help="LOW:HIGH such as 1:10 (rescaled to the lab's 0.5-5 stars, reported back on "
        "yours), or 'implicit' for 0/1 or counts. Leave empty for the default.",
    ).strip()
    if not text:
        return None
    try:
        return parse_scale(text)
    except RecsysError as error:
        st.error(f"{md(str(error))}. Leave it empty to use {md(default)}.")
        return False


def _assign_files(spec, names: list[str]) -> dict[str, str | None]:
    """Which upload plays which part of the format: a picker per part, starting from
    `default_parts` (the file of that name, else one no other part has)."""
    start = default_parts(spec, names)
    chosen = {}
    for role in spec.required + spec.optional:
        options = [NOT_GIVEN, *names]
        index = options.index(start[role]) if start[role] else 0
        pick = st.selectbox(role, options, index=index, key=f"import_role_{spec.name}_{role}")
        chosen[role] = None if pick == NOT_GIVEN else pick
    return chosen


def _map_columns(fmt: str, role: str, header: list[str]) -> dict[str, str]:
    """Our column -> theirs, only where they differ (an empty mapping means as named)."""
    required, optional = columns(fmt, role)
    mapping = {}
    cells = st.columns(max(len(required) + len(optional), 1))
    for cell, ours in zip(cells, required + optional, strict=False):
        options = header if ours in required else [NOT_GIVEN, *header]
        index = options.index(ours) if ours in options else 0
        theirs = cell.selectbox(ours, options, index=index, key=f"import_map_{fmt}_{role}_{ours}")
        if theirs != NOT_GIVEN and theirs != ours:
            mapping[ours] = theirs
    return mapping


def _show_report(report, holdout: float | None = None) -> None:
    from recsys.data.lab import accounting, split_preview

    for note in report.notes:  # how the files were read: another delimiter, empty rows
        st.caption(md(note))
    if report.ok:
        summary = report.summary()
        st.success(
            f"Valid: {summary['items']:,} items, {summary['users']:,} users and "
            f"{summary['interactions']:,} interactions. Import it to replace the lab."
        )
        st.caption(md(accounting(*split_preview(report, holdout))))
        st.table(_summary_rows(summary), hide_index=True)
        return
    st.error(
        f"{_problems(report.n_problems)}: nothing was imported and the lab is unchanged. "
        "Fix the lines below and upload again."
    )
    st.dataframe(
        pd.DataFrame(
            [{"file": p.file, "line": p.line, "problem": p.message} for p in report.problems]
        ),
        hide_index=True,
        width="stretch",
    )


def _summary_rows(summary: dict) -> pd.DataFrame:
    """What a dry run found, as labelled rows (it was an unlabelled JSON tree)."""
    rows = [("ratings", f"{summary['ratings']:,}")]
    rows += [(f"{kind} events", f"{n:,}") for kind, n in summary["kinds"].items()]
    rows += [("first event", summary["first"] or "none (file order)")]
    rows += [("last event", summary["last"] or "none (file order)")]
    if summary["rating_mean"] is not None:
        rows.append(("mean rating", f"{summary['rating_mean']:.2f}"))
    return pd.DataFrame(rows, columns=["what the check found", "value"])


def _problems(n: int) -> str:
    return f"{n:,} problem" + ("" if n == 1 else "s")


def _load(
    engine: Engine, report, files: dict[str, bytes] | None, mapping, path=None, holdout=None
) -> None:
    from recsys.data.lab import load_dataset

    if not sharing.allowed("import a dataset"):
        return
    bar = st.progress(0.0, text="Importing…")
    try:
        info = load_dataset(
            engine,
            report,
            files=files,
            path=path,
            mapping=mapping,
            progress=lambda share, text: bar.progress(min(share, 1.0), text=text),
            holdout=holdout,
        )
    except RecsysError as error:
        bar.empty()
        st.error(f"The import failed and the lab is unchanged: {md(error)}.")
        return
    st.session_state.import_round = st.session_state.get("import_round", 0) + 1
    st.session_state.import_accounting = info["accounting"]
    st.session_state.scenario_toast = (
        f"Imported {md(info['world'])}: {info['items']:,} items, {info['users']:,} users, "
        f"{info['events']:,} events. Every page now works on it."
    )
    st.rerun()


def _download_view(engine: Engine) -> None:
    from recsys.data.download import DATASETS

    source = DATASETS["movielens-small"]
    st.markdown(
        "**No files at hand?** Fetch MovieLens (ml-latest-small, 100,836 ratings) from "
        f"GroupLens. {source.licence}."
    )
    if st.button("Download and import MovieLens", key="import_download") and sharing.allowed(
        "download and import a dataset"
    ):
        from recsys.data.download import download
        from recsys.data.importer import read_path

        try:
            with st.spinner("Downloading…"):
                info = download("movielens-small")
            report = read_path(info["format"], info["path"])
        except RecsysError as error:
            st.error(f"{md(error)}.")
            return
        if not report.ok:
            _show_report(report)
            return
        _load(engine, report, None, None, path=info["path"])


# -- export -------------------------------------------------------------------------------


def export_view(engine: Engine) -> None:
    st.caption(
        "The event log, impressions, learning log, model versions, experiments, update log "
        "and alias history as files that DuckDB, pandas or Spark read back, plus the lab as "
        "a dataset that imports back; the same as `python -m recsys export`."
    )
    fmt = st.radio("File format", ["parquet", "csv"], horizontal=True, key="export_format")
    st.download_button(
        f"Download the log as {fmt.upper()} (zip)",
        data=lambda: _export_zip(engine, fmt),
        file_name=f"recsys-export-{fmt}.zip",
        mime="application/zip",
        key="export_download",
        on_click="ignore",
        icon=":material/download:",
    )


def _export_zip(engine: Engine, fmt: str) -> bytes:
    from recsys.data.export import export_lab

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "export"
        export_lab(engine, str(folder), fmt, False)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(folder.iterdir()):
                archive.write(file, file.name)
        return buffer.getvalue()
