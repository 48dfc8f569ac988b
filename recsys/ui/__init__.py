"""The only part of recsys that imports Streamlit: shared state, widgets and charts."""
