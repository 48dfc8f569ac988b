"""The DuckDB store: connection, schema and migrations, and the repositories that own the tables."""
