"""Data: scenarios, importing your own dataset, exporting the log."""

import streamlit as st

from recsys.data import scenario_checks
from recsys.ui.data import export_view, import_view
from recsys.ui.navigation import ensure_app
from recsys.ui.scenarios import scenarios_view
from recsys.ui.state import get_engine
from recsys.ui.widgets import md

ensure_app()
engine = get_engine()
st.title("Data")
meta = engine.meta
source = (
    f"imported {meta.get('dataset_format', '')} data"
    if meta.get("world") == "dataset"
    else f"a generated world, seed {meta.get('seed')}"
)
scenario = f" · scenario **{meta['scenario']}**" if meta.get("scenario") else ""
if checked := scenario_checks.stored(engine):
    held = sum(r["passed"] for r in checked["results"])
    scenario += f" ({held} of its {len(checked['results'])} claims held when loaded)"
st.caption(
    f"The lab now holds **{md(meta.get('label', engine.world))}** ({source}): "
    f"{engine.catalog.n:,} items, {len(engine.users()):,} users, {engine.last_seq:,} events"
    f"{scenario}."
)
views = {
    "Scenarios": lambda: scenarios_view(engine),
    "Import data": lambda: import_view(engine),
    "Export": lambda: export_view(engine),
}
# Tabs that track which one is open: only the open one is computed.
for tab, view in zip(
    st.tabs(list(views), key="data_tab", on_change="rerun"), views.values(), strict=True
):
    if tab.open:
        with tab:
            view()
