"""Lineage and checkpoints: owns the `lineage` and `checkpoints` tables (their only writer).

- `lineage`: from which seq on a served model (an algorithm's production or candidate arm)
  started from which base (a version, or a checkpoint written by a mini-batch update). With the
  event log it answers "what did the model hold right after event N": load the base, replay
  the events after the seq it is trained through, through N.
- `checkpoints`: saved states that only save replay time (on close, after mini-batches),
  and copies of deleted versions that a lineage still needs.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from recsys.errors import RecsysError
from recsys.store import states
from recsys.store.connection import Database, Statement, decode_arrays, now
from recsys.store.world import reserve_ids


class LineageStore:
    def __init__(self, db: Database):
        self.db = db

    def start_checkpoint_lineage(
        self,
        algorithm: str,
        arm: str,
        effective_seq: int,
        checkpoint_id: int,
        version_id: int,
        reason: str,
    ) -> int:
        """Start a lineage of `arm` at `effective_seq` from a checkpoint (of `version_id`'s
        line) and tie the checkpoint to it; returns the new lineage id."""
        with self.db.write_lock:
            lineage_id, statements = lineage_statements(
                self.db, algorithm, arm, effective_seq, version_id, reason, checkpoint_id
            )
            self.db.transaction(
                [
                    *statements,
                    (
                        "UPDATE checkpoints SET lineage_id = ? WHERE checkpoint_id = ?",
                        [lineage_id, checkpoint_id],
                    ),
                ]
            )
            return lineage_id

    def lineage_at(self, algorithm: str, arm: str, seq: int) -> dict[str, Any] | None:
        """The lineage that served `algorithm`'s `arm` when event `seq` was applied: a dict of
        lineage_id, version_id, checkpoint_id, effective_seq; None before the first one."""
        rows = self.db.query(
            "SELECT lineage_id, version_id, checkpoint_id, effective_seq FROM lineage "
            "WHERE algorithm = ? AND arm = ? AND effective_seq <= ? "
            "ORDER BY effective_seq DESC, lineage_id DESC LIMIT 1",
            [algorithm, arm, seq],
        )
        if not rows:
            return None
        lineage_id, version_id, checkpoint_id, effective = rows[0]
        return {
            "lineage_id": lineage_id,
            "version_id": version_id,
            "checkpoint_id": checkpoint_id,
            "effective_seq": effective,
        }

    def first_lineage_seq(self, algorithm: str) -> int | None:
        return self.db.query(
            "SELECT min(effective_seq) FROM lineage WHERE algorithm = ?", [algorithm]
        )[0][0]

    def save_checkpoint(
        self,
        algorithm: str,
        arm: str,
        lineage_id: int | None,
        through_seq: int,
        config: dict,
        seed: int,
        params: dict[str, np.ndarray],
        reason: str,
    ) -> int:
        """Store a model's parameters as they were after event `through_seq`; returns its id."""
        with self.db.write_lock:
            checkpoint_id, reserve = reserve_ids(
                self.db, "next checkpoint id", "checkpoints", "checkpoint_id"
            )
            state_id, reserve_state = states.reserve_states(self.db)
            saved, frames = states.save_statements(state_id, params)
            row = [checkpoint_id, algorithm, arm, lineage_id, through_seq]
            row += [json.dumps(config, sort_keys=True), seed, reason, now(), state_id]
            insert = (
                "INSERT INTO checkpoints (checkpoint_id, algorithm, arm, lineage_id, through_seq, "
                "config, seed, reason, created_at, state_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )
            self.db.transaction([*reserve, *reserve_state, *saved, (insert, row)], frames)
            return checkpoint_id

    def base_state(self, lineage: dict[str, Any], seq: int, params: bool = True) -> dict[str, Any]:
        """The newest saved state of a lineage at or before `seq`: a checkpoint of it, else its
        base (version or checkpoint). Returns config, seed, through_seq and params (with
        `params=False` where to read them, for `state_params`); RecsysError if the state is
        gone."""
        rows = self.db.query(
            "SELECT c.config, c.seed, c.through_seq, c.checkpoint_id FROM checkpoints c "
            "JOIN lineage l USING (lineage_id) WHERE c.lineage_id = ? AND c.through_seq <= ? "
            "AND c.algorithm = l.algorithm AND c.arm = l.arm "
            "ORDER BY c.through_seq DESC, c.checkpoint_id DESC LIMIT 1",
            [lineage["lineage_id"], seq],
        )
        if not rows and lineage["checkpoint_id"] is not None:
            rows = self.db.query(
                "SELECT config, seed, through_seq, checkpoint_id FROM checkpoints "
                "WHERE checkpoint_id = ?",
                [lineage["checkpoint_id"]],
            )
        table = "checkpoints"
        if not rows:
            table = "model_versions"
            rows = self.db.query(
                "SELECT config, seed, trained_through_seq, version_id FROM model_versions "
                "WHERE version_id = ?",
                [lineage["version_id"]],
            )
        if not rows:
            raise RecsysError(
                f"the model state for lineage {lineage['lineage_id']} is gone "
                "(its version was deleted); rebuild with `retrain`"
            )
        config, seed, through, row_id = rows[0]
        base = {"config": json.loads(config), "seed": seed, "through_seq": through}
        base["saved_in"] = (table, row_id)
        return base | ({"params": self.state_params(base)} if params else {})

    def state_params(self, base: dict[str, Any]) -> dict[str, np.ndarray]:
        """The parameters of a saved state `base_state` found: its arrays, or the `.npz` bytes
        of a state saved before states were stored as arrays; {} for a deferred state (a seed
        version not fitted yet, `VersionStore.fill_state`, or a checkpoint copied from one):
        the caller fits it from the log through its `through_seq`."""
        table, row_id = base["saved_in"]
        key = "checkpoint_id" if table == "checkpoints" else "version_id"
        state_id = self.db.query(f"SELECT state_id FROM {table} WHERE {key} = ?", [row_id])[0][0]
        if state_id is not None:
            return states.read_state(self.db, state_id)
        blob = self.db.query(f"SELECT params FROM {table} WHERE {key} = ?", [row_id])[0][0]
        return {} if blob is None else decode_arrays(blob)


# -- statements for other repositories' transactions (the caller holds db.write_lock) --------


def lineage_statements(
    db: Database,
    algorithm: str,
    arm: str,
    effective_seq: int,
    version_id: int,
    reason: str,
    checkpoint_id: int | None = None,
) -> tuple[int, list[Statement]]:
    """A new lineage of `arm` from `effective_seq` on: its id and the statements storing it."""
    lineage_id, statements = reserve_ids(db, "next lineage id", "lineage", "lineage_id")
    row = [lineage_id, algorithm, arm, effective_seq, version_id, checkpoint_id, reason]
    return lineage_id, [*statements, ("INSERT INTO lineage VALUES (?, ?, ?, ?, ?, ?, ?)", row)]


def seed_lineage_statements(db: Database, seeds: list[tuple[str, int, int]], reason: str):
    """Production lineages of new seed versions, `seeds` as (algorithm, version_id,
    effective_seq): the statements storing them (the caller holds `db.write_lock`)."""
    first, statements = reserve_ids(db, "next lineage id", "lineage", "lineage_id", len(seeds))
    for offset, (algorithm, version_id, effective) in enumerate(seeds):
        row = [first + offset, algorithm, "production", effective, version_id, None, reason]
        statements.append(("INSERT INTO lineage VALUES (?, ?, ?, ?, ?, ?, ?)", row))
    return statements


def keep_version_statements(db: Database, version_id: int) -> list[Statement]:
    """Before `version_id` is deleted: copy it to a checkpoint for each lineage it based, and
    rebase those lineages on the copy (time travel through the period it served still works)."""
    served = db.query(
        "SELECT lineage_id, arm FROM lineage WHERE version_id = ? AND checkpoint_id IS NULL",
        [version_id],
    )
    first, statements = reserve_ids(
        db, "next checkpoint id", "checkpoints", "checkpoint_id", len(served)
    )
    for offset, (lineage_id, arm) in enumerate(served):
        checkpoint_id = first + offset
        reason = f"kept from deleted v{version_id}"
        statements += [
            (
                "INSERT INTO checkpoints SELECT ?, algorithm, ?, ?, trained_through_seq, "
                "config, seed, params, ?, ?, state_id FROM model_versions WHERE version_id = ?",
                [checkpoint_id, arm, lineage_id, reason, now(), version_id],
            ),
            (
                "UPDATE lineage SET checkpoint_id = ? WHERE lineage_id = ?",
                [checkpoint_id, lineage_id],
            ),
        ]
    return statements


def clear_statements() -> list[Statement]:
    return [("DELETE FROM lineage", None), ("DELETE FROM checkpoints", None)]


def truncate_statements(seq: int) -> list[Statement]:
    """After a reset to `seq` (run after the versions' own statements): drop what started or
    was saved later, lineages of dropped versions, and checkpoints of dropped lineages."""
    return [
        ("DELETE FROM checkpoints WHERE through_seq > ?", [seq]),
        ("DELETE FROM lineage WHERE effective_seq > ?", [seq]),
        (
            "DELETE FROM lineage WHERE checkpoint_id IS NULL AND version_id NOT IN "
            "(SELECT version_id FROM model_versions)",
            None,
        ),
        (_ORPHAN_CHECKPOINTS, None),
        *states.orphan_statements(),
    ]


def forget_statements(first: int) -> list[Statement]:
    """When events from `first` on are forgotten: drop lineages and checkpoints from there on."""
    return [
        ("DELETE FROM checkpoints WHERE through_seq >= ?", [first]),
        ("DELETE FROM lineage WHERE effective_seq >= ?", [first]),
        (_ORPHAN_CHECKPOINTS, None),
        *states.orphan_statements(),
    ]


# A checkpoint whose lineage was dropped will never be read again.
_ORPHAN_CHECKPOINTS = (
    "DELETE FROM checkpoints WHERE lineage_id IS NOT NULL "
    "AND lineage_id NOT IN (SELECT lineage_id FROM lineage)"
)
