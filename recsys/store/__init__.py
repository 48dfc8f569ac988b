"""The DuckDB store: connection, schema and migrations, and the repositories that own the tables.

`from recsys.store import Store` is the entry point; see `recsys/store/database.py`.
"""

from recsys.store.database import Store

__all__ = ["Store"]
