"""The world: owns the `items`, `personas`, `holdout` and `meta` tables (their only writer).

Items and personas carry hidden ground truth (an item's quality and taste-space features, a
persona's taste) that only the simulator reads. `holdout` is the fixed set aside when the world
was generated. `meta` holds the world's settings and the `next ... id` counters that keep ids
unique across resets and worlds (`reserve_ids`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.events import EventFrame
from recsys.store.connection import Database, Statement


class WorldStore:
    """Reads the world's tables; `set_meta` writes one setting."""

    def __init__(self, db: Database):
        self.db = db

    def meta(self) -> dict[str, str]:
        return dict(self.db.query("SELECT key, value FROM meta ORDER BY key"))

    def set_meta(self, key: str, value: str) -> None:
        self.db.transaction(meta_statements({key: value}))

    def is_empty(self) -> bool:
        return self.count_items() == 0

    def count_items(self) -> int:
        return int(self.db.query("SELECT count(*) FROM items")[0][0])

    def items(self) -> pd.DataFrame:
        return self.db.frame(
            "SELECT item_id, title, genres, tags, year, region, external_id FROM items "
            "ORDER BY item_id"
        )

    def ground_truth(self) -> tuple[np.ndarray, np.ndarray]:
        """Hidden item features (items x dims) and quality (items,), in item order (only the
        simulator reads these)."""
        rows = self.db.query("SELECT features, quality FROM items ORDER BY item_id")
        return (
            np.array([r[0] for r in rows], dtype=np.float64),
            np.array([r[1] for r in rows], dtype=np.float64),
        )

    def personas(self) -> pd.DataFrame:
        return self.db.frame("SELECT name, label, description, taste FROM personas ORDER BY name")

    def holdout(self) -> EventFrame:
        """The fixed holdout set aside when the world was generated (seq is 0: never logged)."""
        frame = self.db.frame(
            "SELECT ts, user_id, item_id, kind, value, context FROM holdout ORDER BY ts, user_id"
        )
        n = len(frame)
        return EventFrame(
            seq=np.zeros(n, dtype=np.int64),
            ts=frame["ts"].to_numpy(dtype=np.float64),
            user=frame["user_id"].to_numpy(dtype=object),
            item=frame["item_id"].to_numpy(dtype=np.int64),
            kind=frame["kind"].to_numpy(dtype=object),
            value=pd.array(frame["value"], dtype="Float64").to_numpy(
                dtype=np.float64, na_value=np.nan
            ),
            context=frame["context"].to_numpy(dtype=object),
        )


def reserve_ids(
    db: Database, key: str, table: str, column: str, count: int = 1
) -> tuple[int, list[Statement]]:
    """`count` ids for `table.column` that were never used, even by rows since deleted (a reset,
    a forgotten user, a deleted version): a reused id would make `served_by`, the alias history
    or an old event point at the wrong row. The next free id is kept in `meta` under `key`.

    Returns the first id and the statements recording the reservation, to run in the caller's
    transaction; the caller holds `db.write_lock` from this call until that transaction ends."""
    stored = db.query("SELECT value FROM meta WHERE key = ?", [key])
    unused = db.query(f"SELECT coalesce(max({column}), 0) + 1 FROM {table}")[0][0]
    first = max(int(stored[0][0]) if stored else 1, unused)
    return first, meta_statements({key: str(first + count)})


def meta_statements(values: dict[str, str]) -> list[Statement]:
    """Set each `meta` key to its value (replacing the old one)."""
    statements: list[Statement] = []
    for key, value in values.items():
        statements += [
            ("DELETE FROM meta WHERE key = ?", [key]),
            ("INSERT INTO meta VALUES (?, ?)", [key, value]),
        ]
    return statements


def clear_statements() -> list[Statement]:
    """Empty the world's tables; `meta` keeps its `next ... id` counters, so ids are never
    reused across worlds either."""
    return [
        ("DELETE FROM meta WHERE key NOT LIKE 'next % id'", None),
        ("DELETE FROM items", None),
        ("DELETE FROM personas", None),
        ("DELETE FROM holdout", None),
    ]


def load_statements() -> list[Statement]:
    """Insert the frames registered as `new_meta`, `new_items`, `new_personas`, `new_holdout`."""
    return [
        ("INSERT INTO meta BY NAME SELECT * FROM new_meta", None),
        ("INSERT INTO items BY NAME SELECT * FROM new_items", None),
        ("INSERT INTO personas BY NAME SELECT * FROM new_personas", None),
        ("INSERT INTO holdout BY NAME SELECT * FROM new_holdout", None),
    ]
