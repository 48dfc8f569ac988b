"""World: the catalog, the personas and the event log behind the lab."""

import streamlit as st

from recsys.ui.navigation import ensure_app
from recsys.ui.state import get_engine

ensure_app()
engine = get_engine()
st.title("World")
if engine.world == "dataset":
    st.caption(
        f"{engine.meta.get('label')}, imported ({engine.meta.get('dataset_format')}). Its "
        "ground truth is semi-synthetic: a matrix factorisation fitted on the whole dataset gives "
        "each item hidden features and quality and each user a hidden taste; the personas are "
        "clusters of those tastes. No algorithm sees it; the simulator, autopilot and simulated "
        "A/B tests use it."
    )
else:
    st.caption(
        f"The {engine.meta.get('label', engine.world)} world, generated from seed "
        f"{engine.meta.get('seed')}. Quality and tastes are hidden from every algorithm; "
        "the simulator uses them as ground truth."
    )
left, middle, right = st.columns(3)
left.metric("Items", f"{engine.catalog.n:,}")
middle.metric("Users", f"{len(engine.users()):,}")
right.metric("Events", f"{engine.last_seq:,}")

st.subheader("Personas")
st.dataframe(engine.personas[["name", "label", "description"]], hide_index=True, width="stretch")
st.subheader("Catalog")
# Items by the dataset's own ids (the ids the command line and exports use), not the lab's rows.
columns = ["title", "genres", "tags", "year"] + ([] if engine.world == "dataset" else ["region"])
st.dataframe(
    engine.items[columns].assign(**{"item id": engine.ids.keys})[["item id", *columns]],
    hide_index=True,
    width="stretch",
)
