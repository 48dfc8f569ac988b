"""Data in and out: one reader for delimited files, import, download, export, the session
report, semi-synthetic truth for imported data, scenarios."""
