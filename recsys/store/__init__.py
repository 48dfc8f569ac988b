"""The DuckDB store: connection, schema and migrations, and the repositories that own the tables.

`from recsys.store import Store` is the entry point; see `recsys/store/database.py`.
"""

__all__ = ["Store"]


def __getattr__(name: str):
    # Imported when first asked for: `recsys.store.connection` alone (what the command line's
    # checks open) needs no pandas.
    if name == "Store":
        from recsys.store.database import Store

        return Store
    raise AttributeError(f"module 'recsys.store' has no attribute {name!r}")
