"""Recsys Learning Lab: an event-sourced recommendation engine stored in DuckDB."""

__version__ = "0.1.0"
