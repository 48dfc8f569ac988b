"""Saved scenarios: owns the `scenarios` table (its only writer).

A scenario's setup is stored as JSON text; validating it and the built-in scenarios are
`recsys.data.scenarios`' business. A saved scenario outlives worlds: replacing the world or
resetting the lab never touches this table.
"""

from __future__ import annotations

from recsys.store.connection import Database, now


class ScenarioStore:
    def __init__(self, db: Database):
        self.db = db

    def names(self) -> list[str]:
        """The saved scenarios' names, sorted."""
        return [r[0] for r in self.db.query("SELECT name FROM scenarios ORDER BY name")]

    def rows(self) -> list[tuple[str, str, str]]:
        """(name, description, setup JSON) of every saved scenario, by name."""
        return self.db.query("SELECT name, description, setup FROM scenarios ORDER BY name")

    def setup(self, name: str) -> str | None:
        """The setup JSON saved under `name`, None if there is none."""
        rows = self.db.query("SELECT setup FROM scenarios WHERE name = ?", [name])
        return rows[0][0] if rows else None

    def exists(self, name: str) -> bool:
        return bool(self.db.query("SELECT count(*) FROM scenarios WHERE name = ?", [name])[0][0])

    def save(self, name: str, description: str, setup: str) -> None:
        """Store `setup` (JSON text) under `name`, replacing a scenario of that name."""
        self.db.transaction(
            [
                ("DELETE FROM scenarios WHERE name = ?", [name]),
                ("INSERT INTO scenarios VALUES (?, ?, ?, ?)", [name, description, setup, now()]),
            ]
        )

    def delete(self, name: str) -> None:
        self.db.transaction([("DELETE FROM scenarios WHERE name = ?", [name])])
