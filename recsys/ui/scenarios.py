"""The Data page's scenarios tab: the catalogue with each built-in's claims, saving the current
setup, loading one (also from a `?scenario=` link)."""

from __future__ import annotations

import streamlit as st

from recsys.data import scenario_checks, scenarios
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.ui import sharing
from recsys.ui.navigation import page_path
from recsys.ui.widgets import confirm_replace, md

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
    confirm = confirm_replace(engine, "scenario_confirm")  # as Import asks: one for every Load
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
            if button.button(
                "Load",
                key=f"scenario_load_{row['name']}",
                type="primary",
                disabled=not confirm,
                help=None if confirm else "Tick 'Replace the current lab' above first.",
            ):
                load_scenario(engine, scenarios.get(engine.store, row["name"]))
            if (
                not row["builtin"]
                and button.button("Delete", key=f"scenario_delete_{row['name']}")
                and sharing.allowed("delete a scenario")
            ):
                scenarios.delete(engine.store, row["name"])
                st.rerun()
    _save_form(engine)
    uploaded = st.file_uploader("Load a scenario file (.json)", type=["json"], key="scenario_file")
    if uploaded is not None and st.button(
        "Load this file", key="scenario_file_load", disabled=not confirm
    ):
        try:
            setup = scenarios.parse(uploaded.getvalue().decode("utf-8", "replace"), uploaded.name)
        except RecsysError as error:
            st.error(f"{md(error)}. Nothing was changed; fix the file and upload it again.")
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
        state.scenario_saved = (False, f"Not saved: {md(error)}.")
    else:
        name = setup["name"]
        state.scenario_saved = (
            True,
            f"Saved scenario {md(name)}; its link is ?scenario\\={md(name)}.",
        )


def load_scenario(engine: Engine, setup: dict) -> bool:
    """Load with a progress bar; on success remember where the scenario opens (applied on
    the next run, before the sidebar's widgets exist) and rerun."""
    if not sharing.allowed("load a scenario"):
        return False
    bar = st.progress(0.0, text=f"Loading scenario {setup['name']}…")
    try:
        done = scenarios.load(engine, setup, lambda share, text: bar.progress(share, text=text))
    except RecsysError as error:
        bar.empty()
        st.error(f"The scenario was not loaded: {md(error)}. The lab is unchanged.")
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
        state.scenario_toast = f"Scenario {md(opened['name'])} loaded.{checked}"
    st.switch_page(page_path(opened.get("page", "simulator")))
