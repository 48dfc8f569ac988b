"""Model versions: the registry, promotion and rollback, comparison, policies and canary."""

import streamlit as st

from recsys.ui.canary import canary_view
from recsys.ui.drift import drift_scenario
from recsys.ui.navigation import ensure_app
from recsys.ui.state import current_algorithm, get_engine
from recsys.ui.versions import (
    compare_view,
    metric_chart,
    policy_form,
    status_line,
    updates_view,
    version_actions,
    versions_table,
)

ensure_app()
engine = get_engine()
algorithm = current_algorithm()
st.title("Model versions")
st.caption(
    f"Every full retrain of **{algorithm}** (the algorithm chosen in the sidebar) is a version, "
    "numbered per algorithm (v1, v2, ...) and measured with its own parameters on a fixed "
    "holdout; so is a model trained outside the lab and imported (factors trained on Spark: "
    "`python -m recsys versions import-factors`, its trigger says so). `production` serves "
    "everyone except the canary's share, which the `candidate` serves (Canary tab)."
)
status_line(engine, algorithm)


def versions_tab() -> None:
    frame = versions_table(engine, algorithm)
    version_actions(engine, algorithm, frame)
    metric_chart(frame)


views = {
    "Versions": versions_tab,
    "Canary": lambda: canary_view(engine, algorithm),
    "Compare": lambda: compare_view(engine),
    "Policies": lambda: policy_form(engine),
    "Updates and alias moves": lambda: updates_view(engine, algorithm),
    "Drift scenario": lambda: drift_scenario(engine, algorithm),
}
# Tabs that track which one is open: only the open one is computed.
for tab, view in zip(
    st.tabs(list(views), key="versions_tab", on_change="rerun"), views.values(), strict=True
):
    if tab.open:
        with tab:
            view()
