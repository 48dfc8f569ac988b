"""Saved model states as arrays: owns `state_arrays` and `state_words` (their only writer).

A state (a dict of numpy arrays, `Recommender.state()`) is stored as one `state_arrays` row per
array (name, dtype, shape, where its bytes start) and its bytes as 8-byte words in the numeric
`state_words` column, written from a registered frame in the caller's transaction. Reading one
state scans only its own words (DuckDB skips the others by their `state_id` zone maps); a BLOB
column, by contrast, is read whole for any row of it, the neighbours' megabytes included. Only
plain dtypes are stored (no object arrays: they would need pickle). Words come back in the order
they were inserted (DuckDB keeps insertion order in scans).

Versions and checkpoints name their state by `state_id`; a state nobody names any more is
dropped by `orphan_statements`. Writing a state's 150,000 words (mf on the default world) takes
DuckDB about 25 ms: `store_state` does it outside the store's write lock, so that a click's
commit does not wait for a background retrain's state.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from recsys.store.connection import Database, Statement
from recsys.store.world import reserve_ids

Frames = dict[str, pd.DataFrame]
# The states something names: every other one is an orphan.
_NAMED = (
    "SELECT state_id FROM model_versions WHERE state_id IS NOT NULL "
    "UNION ALL SELECT state_id FROM checkpoints WHERE state_id IS NOT NULL"
)


def reserve_states(db: Database, count: int = 1) -> tuple[int, list[Statement]]:
    """`count` fresh state ids (the caller holds `db.write_lock` until its transaction ends)."""
    return reserve_ids(db, "next state id", "state_arrays", "state_id", count)


def save_statements(state_id: int, arrays: dict[str, np.ndarray]) -> tuple[list[Statement], Frames]:
    """The statements storing `arrays` as state `state_id`, and the frame they read (register
    it in the same transaction). ValueError for an object array."""
    rows, chunks, first = [], [], 0
    for name, array in arrays.items():
        shape, array = list(np.shape(array)), np.ascontiguousarray(array)  # 0-d: 1-d here
        if array.dtype.hasobject:
            raise ValueError(f"{name}: object arrays cannot be stored without pickle")
        raw = array.reshape(-1).view(np.uint8)
        padded = np.zeros(-(-raw.size // 8) * 8, np.uint8)
        padded[: raw.size] = raw
        words = padded.view(np.int64)
        rows.append([state_id, name, array.dtype.str, json.dumps(shape), first])
        rows[-1].append(len(words))
        chunks.append(words)
        first += len(words)
    frame = f"state_words_{state_id}"
    words = np.concatenate(chunks) if chunks else np.empty(0, np.int64)
    statements: list[Statement] = [
        ("INSERT INTO state_arrays VALUES (?, ?, ?, ?, ?, ?)", row) for row in rows
    ]
    statements.append((f"INSERT INTO state_words SELECT ?, word FROM {frame}", [state_id]))
    return statements, {frame: pd.DataFrame({"word": words}, copy=False)}


def store_state(db: Database, arrays: dict[str, np.ndarray]) -> int:
    """Store `arrays` as a new state in a transaction of its own and return its id. Only the
    id's reservation holds `db.write_lock`: the rows go in beside other writers. Until a version
    names it (check `intact` under the lock first) it is an orphan that `orphan_statements` may
    drop. ValueError for an object array."""
    with db.write_lock:
        state_id, reserve = reserve_states(db)
        db.transaction(reserve)
    statements, frames = save_statements(state_id, arrays)
    db.transaction(statements, frames, exclusive=False)
    return state_id


def intact(db: Database, state_id: int, arrays: dict[str, np.ndarray]) -> bool:
    """Whether state `state_id` still holds `arrays`' layout (an orphan cleanup since
    `store_state` would have dropped its rows, all of them in one transaction)."""
    rows = db.query("SELECT count(*) FROM state_arrays WHERE state_id = ?", [state_id])
    return rows[0][0] == len(arrays)


def drop_statements(state_id: int) -> list[Statement]:
    """Drop one state (one nobody will name: a discarded retrain's)."""
    return [
        ("DELETE FROM state_words WHERE state_id = ?", [state_id]),
        ("DELETE FROM state_arrays WHERE state_id = ?", [state_id]),
    ]


def read_state(db: Database, state_id: int) -> dict[str, np.ndarray]:
    """The arrays of state `state_id`, as saved (bit for bit)."""
    layout = db.query(
        "SELECT name, dtype, shape, first_word FROM state_arrays WHERE state_id = ? "
        "ORDER BY first_word",
        [state_id],
    )
    words = db.columns("SELECT word FROM state_words WHERE state_id = ?", [state_id])["word"]
    data = np.asarray(words, dtype=np.int64).view(np.uint8)
    arrays = {}
    for name, dtype, shape, first in layout:
        dtype, shape = np.dtype(dtype), tuple(json.loads(shape))
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        chunk = data[first * 8 : first * 8 + size]
        arrays[name] = chunk.view(dtype).reshape(shape) if size else np.empty(shape, dtype)
    return arrays


def orphan_statements() -> list[Statement]:
    """Drop the states no version or checkpoint names any more (after deleting either)."""
    return [
        (f"DELETE FROM state_words WHERE state_id NOT IN ({_NAMED})", None),
        (f"DELETE FROM state_arrays WHERE state_id NOT IN ({_NAMED})", None),
    ]


def drop_orphans(db: Database) -> None:
    """Drop the states nobody names, if there are any: on open, what a crash between
    `store_state` and the version that would have named it left (a background retrain's)."""
    found = db.query(f"SELECT count(*) FROM state_arrays WHERE state_id NOT IN ({_NAMED})")
    if found[0][0]:
        db.transaction(orphan_statements())


def clear_statements() -> list[Statement]:
    return [("DELETE FROM state_words", None), ("DELETE FROM state_arrays", None)]
