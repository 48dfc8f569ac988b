"""One Engine per process, the shared sidebar, and per-visitor state."""

from __future__ import annotations

import re
import sys
import uuid
from pathlib import Path

import streamlit as st

from recsys.algorithms import DEFAULT_ALGORITHM, REGISTRY
from recsys.engine import Engine, database_path
from recsys.errors import RecsysError
from recsys.events import DEVICES, validate_user
from recsys.lifecycle.background import settle
from recsys.ui import retrains, sharing
from recsys.ui.charts import FORMAT_KEY, download_format
from recsys.ui.plugins import load_plugins
from recsys.ui.steps import recall
from recsys.ui.widgets import md


def db_argument(argv: list[str] | None = None) -> str | None:
    """`--db PATH` after `streamlit run app.py --`, else None (then $RECSYS_DB or the default)."""
    argv = sys.argv[1:] if argv is None else argv
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--db="):
            return arg.split("=", 1)[1]
    return None


def _file_still_there(engine: Engine) -> bool:
    if engine.store.path == ":memory:" or Path(engine.store.path).exists():
        return True
    # Close before the cache builds the replacement: DuckDB would otherwise hand the new
    # connection the old, deleted file's instance.
    engine.close()
    return False


@st.cache_resource(
    show_spinner="Opening the lab (the first start builds the world)…",
    validate=_file_still_there,
    on_release=lambda engine: engine.close(),
)
def engine_for(path: str) -> Engine:
    engine = Engine.open(path)
    # In the app no click waits for a retrain: policies start them on a background worker.
    engine.retrainer.enabled = True
    settle()  # it serves every session until the app stops
    return engine


def get_engine() -> Engine:
    """The process's engine; a clear message and a stop if the database cannot be used.

    If the database file was deleted under a running app, the cached engine fails validation
    and a new lab is seeded in its place; the page says so instead of losing events silently."""
    load_plugins()  # before the engine opens: a plugin is hosted like a built-in
    path = database_path(db_argument())
    if path != ":memory:" and not Path(path).exists() and st.session_state.get("had_db"):
        st.warning(
            f"The lab database {path} was deleted while the app was running; a fresh lab was "
            "created from the default world. Earlier interactions are gone."
        )
    try:
        engine = engine_for(path)
    except RecsysError as error:
        st.error(f"The lab cannot start: {md(error)}")
        st.stop()
    st.session_state.had_db = True
    return engine


def current_user() -> str:
    return st.session_state["user"]


def current_algorithm() -> str:
    return st.session_state["algorithm"]


def current_context() -> dict[str, str]:
    """The visit's context; the time of day and day type come from the lab clock."""
    return {"device": st.session_state.get("device", DEVICES[0])}


VISITOR = re.compile(r"visitor-[0-9a-f]{6}")  # the id a first visit draws


def init_session(engine: Engine) -> None:
    """Per-visitor defaults, overridden once by deep links (?user=alice&algorithm=mf)."""
    state = st.session_state
    if "visitor" not in state:
        state.visitor = f"visitor-{uuid.uuid4().hex[:6]}"
    if "user" not in state:
        state.user = state.visitor
        state.algorithm = DEFAULT_ALGORITHM
        params = st.query_params
        if "user" in params:
            try:
                state.user = validate_user(params["user"])
            except RecsysError as error:
                state.link_error = f"Ignored the link's user: {md(error)}"
        if VISITOR.fullmatch(state.user):  # a reload: the same visitor, not a new one
            state.visitor = state.user
        if (step := recall(engine, state.user)) is not None:  # and the step it last saw
            state.last_step = step
        state.presenter = params.get("presenter") == "1"
        if "scenario" in params:  # loaded by open_scenario, once the pages are known
            state.scenario_link = params["scenario"]
        if params.get("tour") == "defense":  # opened by open_scenario too
            state.scenario_open = {"page": "tour", "quiet": True}
        if "algorithm" in params:
            if params["algorithm"] in REGISTRY:
                state.algorithm = params["algorithm"]
            else:
                state.link_error = (
                    f"Ignored the link's algorithm {md(repr(params['algorithm']))}: "
                    f"choose one of {', '.join(REGISTRY)}."
                )


def open_scenario(engine: Engine) -> None:
    """A `?scenario=NAME` link loads that scenario (unless the lab already holds it, so a
    reload keeps what was done since), then opens its page; a scenario just loaded from the
    Data page opens the same way."""
    state = st.session_state
    if not {"scenario_link", "scenario_open", "scenario_pending"} & set(state.keys()):
        return  # every rerun passes here: the importer's modules stay unloaded
    from recsys.data import scenarios
    from recsys.ui.scenarios import apply_scenario_open, load_scenario

    name = state.pop("scenario_link", None)
    if name is not None:
        if "scenario" in st.query_params:
            del st.query_params["scenario"]
        try:
            setup = scenarios.get(engine.store, name)
        except RecsysError as error:
            state.link_error = f"Ignored the link's scenario: {md(error)}."
        else:
            if engine.meta.get("scenario") == name:
                state.scenario_toast = (
                    f"Scenario {md(name)} is already loaded; load it again from Data → Scenarios "
                    "to start over."
                )
                state.scenario_open = setup["open"] | {"name": name, "quiet": True}
            elif _at_stake(engine) and not state.pop("scenario_confirmed", False):
                state.scenario_pending = name  # asked below, as Import and Load ask
            else:
                with st.container():
                    load_scenario(engine, setup)
    _ask_to_replace(engine)
    apply_scenario_open()


def _at_stake(engine: Engine) -> bool:
    """Whether replacing the lab loses anything: an imported dataset, or events since seeding
    (a person's, a scenario's runs). A freshly seeded world is replaced without asking."""
    seeded = int(engine.meta.get("history_through_seq", -1))
    return engine.world == "dataset" or engine.last_seq != seeded


def _ask_to_replace(engine: Engine) -> None:
    """A link's scenario waiting for the person to confirm that it replaces the lab."""
    from recsys.ui.widgets import what_a_replacement_loses

    state = st.session_state
    name = state.get("scenario_pending")
    if name is None:
        return
    with st.container(border=True, key="scenario_pending_box"):
        st.warning(
            f"The link asks to load scenario {md(name)}. It replaces the current lab: "
            f"{md(what_a_replacement_loses(engine))} (saved scenarios stay).",
            icon=":material/warning:",
        )
        load, keep, _ = st.columns([2, 2, 3])
        if load.button("Load it and replace the lab", key="scenario_pending_load", type="primary"):
            state.scenario_link, state.scenario_confirmed = state.pop("scenario_pending"), True
            st.rerun()
        if keep.button("Keep the current lab", key="scenario_pending_keep"):
            del state.scenario_pending
            st.rerun()


def sidebar(engine: Engine) -> None:
    state = st.session_state
    with st.sidebar:
        retrains.status(engine)  # first: in sight while a retrain runs
        st.markdown(
            f"**World:** {md(engine.meta.get('label', engine.world))} · seed "
            f"{engine.meta.get('seed', '?')}"
        )
        st.caption(f"{engine.catalog.n:,} items · {len(engine.personas)} personas")
        users = engine.users()
        demo = sorted(u for u, kind in users.items() if kind == "demo")
        personas = engine.personas["name"].tolist()
        imported = sorted((u for u, kind in users.items() if kind == "imported"), key=_natural)
        choices = [state.visitor, *demo, *personas, *imported]
        if state.user not in choices:
            choices.insert(1, state.user)
        # No format_func: AppTest cannot set a selectbox whose labels differ from its values.
        st.selectbox(
            "Who are you?",
            choices,
            key="user",
            help="A fresh visitor has no history; demo users, personas and the users of an "
            "imported dataset do (type to search).",
        )
        st.caption(_who(state.user, state.visitor, demo, personas, users.get(state.user), engine))
        st.selectbox(
            "Algorithm",
            list(REGISTRY),
            key="algorithm",
            help=" · ".join(f"{n}: {c.summary}" for n, c in REGISTRY.items()),
        )
        st.caption(REGISTRY[state.algorithm].summary)
        st.selectbox(
            "Device",
            DEVICES,
            key="device",
            help="Sent with every interaction as context (LinUCB learns from it).",
        )
        sharing.sidebar_box()
        st.toggle(
            "Presenter mode",
            key="presenter",
            help="Larger cards and text; technical panels start collapsed.",
        )
        download_format()
        user, algorithm = state.user, state.algorithm
        st.download_button(
            "Session report",
            # Built only when clicked (on its own thread; the engine's lock keeps it safe).
            data=lambda: _report(engine, user, algorithm),
            file_name="recsys-session-report.html",
            mime="text/html",
            key="report_download",
            on_click="ignore",
            icon=":material/download:",
            help="One HTML file that opens offline: the setup, your interactions with their "
            "before/after, the learning history, versions and A/B results.",
        )
        link = {"user": state.user, "algorithm": state.algorithm}
        if state.presenter:
            link["presenter"] = "1"
        elif "presenter" in st.query_params:
            del st.query_params["presenter"]
        if state[FORMAT_KEY] == "SVG":  # a reload keeps it, as it keeps presenter mode
            link["charts"] = "svg"
        elif "charts" in st.query_params:
            del st.query_params["charts"]
        st.query_params.update(link)


def _report(engine: Engine, user: str, algorithm: str) -> str:
    from recsys.data.report import session_report  # plotly's JS: loaded only when asked for

    return session_report(engine, user, algorithm)


def _natural(user: str) -> tuple[int, str]:
    return len(user), user  # MovieLens ids are numbers: 2 before 10


def _who(user: str, visitor: str, demo: list[str], personas: list[str], kind, engine) -> str:
    if kind == "imported":
        return "A user of the imported dataset, with their real history."
    if user == visitor:
        done = engine.store.count_events(user)
        if done:
            return f"You, this visit: {done:,} interaction{'' if done == 1 else 's'} so far."
        return "A fresh visitor: no history yet."
    if user in demo:
        return "A demo user with a short history."
    if user in personas:
        return "A persona: its hidden taste drives Autopilot."
    return "A user from the link."
