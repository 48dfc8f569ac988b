"""The Data page's parts: scenarios, importing a dataset, exporting the log."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

from recsys.data import scenario_checks, scenarios
from recsys.data.importer import FORMATS, max_import_bytes, read_dataset
from recsys.data.preview import columns, preview
from recsys.data.scale import parse_scale
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.ui.navigation import page_path
from recsys.ui.widgets import md

NOT_GIVEN = "(none)"


# -- scenarios ----------------------------------------------------------------------------


def scenarios_view(engine: Engine) -> None:
    current = engine.meta.get("scenario")
    st.caption(
        "A scenario is the whole setup as JSON: world or dataset, algorithm parameters, event "
        "weights, seed, retrain policy, experiments and scripted runs. Loading one replaces the "
        "lab; the same scenario always gives the same recommendations. Open one from a link "
        "with `?scenario=NAME`."
    )
    checked = scenario_checks.stored(engine)
    for row in scenarios.catalogue(engine.store):
        with st.container(border=True):
            head, button = st.columns([5, 1])
            mark = " · loaded" if row["name"] == current else ""
            kind = "built-in" if row["builtin"] else "saved"
            head.markdown(f"**{md(row['title'])}** `{row['name']}` · {kind}{mark}")
            head.markdown(md(row["description"]) if row["description"] else "No description.")
            if row["builtin"]:
                with head:
                    _claims_view(row["name"], checked if row["name"] == current else None)
            head.caption(f"Link: `?scenario={row['name']}`")
            if button.button("Load", key=f"scenario_load_{row['name']}", type="primary"):
                load_scenario(engine, scenarios.get(engine.store, row["name"]))
            if not row["builtin"] and button.button("Delete", key=f"scenario_delete_{row['name']}"):
                scenarios.delete(engine.store, row["name"])
                st.rerun()
    _save_form(engine)
    uploaded = st.file_uploader("Load a scenario file (.json)", type=["json"], key="scenario_file")
    if uploaded is not None and st.button("Load this file", key="scenario_file_load"):
        try:
            setup = scenarios.parse(uploaded.getvalue().decode("utf-8", "replace"), uploaded.name)
        except RecsysError as error:
            st.error(f"{error}. Nothing was changed; fix the file and upload it again.")
            return
        load_scenario(engine, setup)


def _claims_view(name: str, checked: dict | None) -> None:
    """A built-in's claims; once it is loaded, each with what was measured and whether it
    holds."""
    claims = scenario_checks.claims(name)
    if not claims:
        return
    if not checked:
        st.markdown(
            "**What it claims**, checked after every load:\n"
            + "\n".join(f"- {md(claim.text)}" for claim in claims)
        )
        return
    for result in checked["results"]:
        note = f" ({md(result['note'])})" if result["note"] else ""
        text = f"{md(result['claim'])}: {md(result['reading'])}{note}"
        if result["passed"]:
            st.success(f"Holds. {text}", icon=":material/check_circle:")
        else:
            st.warning(f"Does not hold. {text}", icon=":material/warning:")
    st.caption(
        f"Measured right after loading, at event {checked['seq']:,}; "
        f"`python -m recsys scenario check` measures the lab as it is now."
    )


def _save_form(engine: Engine) -> None:
    with st.form("scenario_save"):
        st.markdown("**Save the current setup as a scenario**")
        st.text_input("Name", placeholder="my-defense-setup", key="scenario_name")
        st.text_input("Title", key="scenario_title")
        st.text_area("What it shows", key="scenario_description")
        st.checkbox("Replace a saved scenario of that name", key="scenario_overwrite")
        # Saved in the callback, so the list above already shows the new scenario.
        st.form_submit_button("Save", on_click=_save, args=(engine,))
        if said := st.session_state.pop("scenario_saved", None):
            ok, text = said
            (st.success if ok else st.error)(text)
    try:
        setup = scenarios.current(engine, "current-lab", "The current lab")
    except RecsysError:
        return
    st.download_button(
        "Download the current setup as JSON",
        scenarios.dumps(setup),
        file_name="recsys-scenario.json",
        mime="application/json",
        key="scenario_download",
        on_click="ignore",
        icon=":material/download:",
    )


def _save(engine: Engine) -> None:
    state = st.session_state
    try:
        setup = scenarios.current(
            engine, state.scenario_name.strip(), state.scenario_title, state.scenario_description
        )
        scenarios.save(engine.store, setup, overwrite=state.scenario_overwrite)
    except RecsysError as error:
        state.scenario_saved = (False, f"Not saved: {error}.")
    else:
        name = setup["name"]
        state.scenario_saved = (True, f"Saved scenario {name}; its link is ?scenario={name}.")


def load_scenario(engine: Engine, setup: dict) -> bool:
    """Load with a progress bar; on success remember where the scenario opens (applied on
    the next run, before the sidebar's widgets exist) and rerun."""
    bar = st.progress(0.0, text=f"Loading scenario {setup['name']}…")
    try:
        done = scenarios.load(engine, setup, lambda share, text: bar.progress(share, text=text))
    except RecsysError as error:
        bar.empty()
        st.error(f"The scenario was not loaded: {error}. The lab is unchanged.")
        return False
    held = sum(r["passed"] for r in done["checks"])
    st.session_state.scenario_open = done["open"] | {
        "name": setup["name"],
        "claims": [held, len(done["checks"])],
    }
    st.rerun()
    return True


def apply_scenario_open() -> None:
    """After a scenario loaded: select its user and algorithm, say so, and go to its page."""
    opened = st.session_state.pop("scenario_open", None)
    if not opened:
        return
    state = st.session_state
    if "user" in opened:
        state.user = opened["user"]
    if "algorithm" in opened:
        state.algorithm = opened["algorithm"]
    if not opened.get("quiet"):
        held, claims = opened.get("claims", [0, 0])
        checked = f" {held} of its {claims} claims hold (see Data)." if claims else ""
        state.scenario_toast = f"Scenario {opened['name']} loaded.{checked}"
    st.switch_page(page_path(opened.get("page", "simulator")))


# -- import -------------------------------------------------------------------------------


def import_view(engine: Engine) -> None:
    limit = max_import_bytes()
    fmt = st.radio(
        "Format",
        list(FORMATS),
        format_func=lambda f: FORMATS[f].label,
        horizontal=True,
        key="import_format",
    )
    spec = FORMATS[fmt]
    st.caption(spec.description)
    # A fresh key after each import empties the uploader and the confirmation.
    round_ = st.session_state.get("import_round", 0)
    suffix = f"_{round_}" if round_ else ""
    uploads = st.file_uploader(
        f"Files ({', '.join(spec.required + spec.optional)}; up to {limit / 2**20:.0f} MB each)",
        accept_multiple_files=True,
        key=f"import_files_{fmt}{suffix}",
    )
    files = {}
    for upload in uploads or []:
        if upload.name in files:
            st.warning(f"Two uploads are named {upload.name}: the one added last is used.")
        files[upload.name] = upload.getvalue()
    if not files:
        st.info("Upload the files to preview them, map their columns and check them.")
        _download_view(engine)
        return
    chosen = _assign_files(spec, files)
    if len(set(chosen.values())) < len(chosen):
        st.error("One upload is picked for two parts of the format: pick a file for each part.")
        return
    mapping = {}
    for role, name in chosen.items():
        with st.expander(f"{role} ← {name}", expanded=False):
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
    confirm = st.checkbox(
        f"Replace the current lab ({engine.last_seq:,} events, with its versions and "
        "experiments; saved scenarios stay)",
        key=f"import_confirm{suffix}",
    )
    check, run, _ = st.columns([1, 1, 2])
    if check.button("Check (dry run)", key="import_check", icon=":material/fact_check:"):
        _show_report(
            read_dataset(
                fmt, given, mapping=mapping or None, name=name, max_bytes=limit, scale=scale
            )
        )
    if run.button(
        "Import and replace the lab", key="import_run", type="primary", disabled=not confirm
    ):
        report = read_dataset(
            fmt, given, mapping=mapping or None, name=name, max_bytes=limit, scale=scale
        )
        if not report.ok:
            _show_report(report)
            return
        _load(engine, report, given, mapping)


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


def _assign_files(spec, files: dict[str, bytes]) -> dict[str, str]:
    """Which upload plays which part of the format (by default the one of the same name)."""
    names = list(files)
    chosen = {}
    for role in spec.required + spec.optional:
        options = names if role in spec.required else [NOT_GIVEN, *names]
        default = names.index(role) if role in names else 0
        if role in spec.optional:
            default = options.index(role) if role in names else 0
        pick = st.selectbox(role, options, index=default, key=f"import_role_{spec.name}_{role}")
        if pick != NOT_GIVEN:
            chosen[role] = pick
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


def _show_report(report) -> None:
    for note in report.notes:  # how the files were read: another delimiter, empty rows
        st.caption(md(note))
    if report.ok:
        summary = report.summary()
        st.success(
            f"Valid: {summary['items']:,} items, {summary['users']:,} users and "
            f"{summary['interactions']:,} interactions. Import it to replace the lab."
        )
        st.json(summary, expanded=False)
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


def _problems(n: int) -> str:
    return f"{n:,} problem" + ("" if n == 1 else "s")


def _load(engine: Engine, report, files: dict[str, bytes] | None, mapping, path=None) -> None:
    from recsys.data.lab import load_dataset

    bar = st.progress(0.0, text="Importing…")
    try:
        info = load_dataset(
            engine,
            report,
            files=files,
            path=path,
            mapping=mapping,
            progress=lambda share, text: bar.progress(min(share, 1.0), text=text),
        )
    except RecsysError as error:
        bar.empty()
        st.error(f"The import failed and the lab is unchanged: {error}.")
        return
    st.session_state.import_round = st.session_state.get("import_round", 0) + 1
    st.session_state.scenario_toast = (
        f"Imported {info['world']}: {info['items']:,} items, {info['users']:,} users, "
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
    if st.button("Download and import MovieLens", key="import_download"):
        from recsys.data.download import download
        from recsys.data.importer import read_path

        try:
            with st.spinner("Downloading…"):
                info = download("movielens-small")
            report = read_path(info["format"], info["path"])
        except RecsysError as error:
            st.error(f"{error}.")
            return
        if not report.ok:
            _show_report(report)
            return
        _load(engine, report, None, None, path=info["path"])


# -- export -------------------------------------------------------------------------------


def export_view(engine: Engine) -> None:
    st.caption(
        "The event log, impressions, learning log, model versions and experiments as files "
        "that DuckDB, pandas or Spark read back; the same as `python -m recsys export`."
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
