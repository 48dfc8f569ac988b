"""Model versions: owns `model_versions` (its only writer): one row per full retrain:
parameters (a state of `states`), config, `trained_through_seq`, holdout metrics, trigger and
parent, keyed by a `version_id` unique across algorithms.

`VersionStore` is what the lifecycle uses: it also carries each algorithm's version numbers
(`numbers`: `v3` is what people see), the aliases and their history (`aliases`), the states of
versions (`VersionStates`), the lineage and checkpoints (`LineageStore`) and the update log,
drift alarms and marks (`HistoryStore`), whose tables those modules own.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from recsys.errors import RecsysError
from recsys.store import aliases, lineage, numbers, states
from recsys.store.aliases import Aliases, seed_alias_statements
from recsys.store.connection import Owner, Statement, now
from recsys.store.history import PER_EVENT_KINDS, TIMELINE_KINDS, HistoryStore, timeline
from recsys.store.lineage import LineageStore
from recsys.store.numbers import VersionNumbers
from recsys.store.states import Frames
from recsys.store.version_states import VersionStates
from recsys.store.world import reserve_ids

__all__ = [
    "PER_EVENT_KINDS",
    "TIMELINE_KINDS",
    "VersionStore",
    "seed_alias_statements",
    "timeline",
]


class VersionStore(Aliases, VersionNumbers, VersionStates, LineageStore, HistoryStore):
    """Versions, aliases and their history, lineage, checkpoints and the update log of one
    store: `VersionStore(store)`."""

    def __init__(self, store: Owner):
        super().__init__(store.db)

    # -- versions -------------------------------------------------------------------------

    def save_version(
        self,
        algorithm: str,
        config: dict,
        seed: int,
        trained_through_seq: int,
        n_events: int,
        params: dict[str, np.ndarray],
        trigger: str,
        fit_seconds: float | None,
        parent: int | None = None,
        metrics: dict[str, float | None] | None = None,
        version_id: int | None = None,
        log: dict | None = None,
        stored: int | None = None,
    ) -> int:
        """Store one version; returns its id: `version_id` if one was reserved for it
        (`reserve_version_id`), else one never used before. `log`: the fields of its update-log
        row (`update_statement`, without version_id and metrics), written in the same
        transaction. `stored`: the id `store_state` gave `params` (stored again if it is gone)."""
        row = (algorithm, config, seed, trained_through_seq, n_events, params, trigger)
        with self.db.write_lock:
            if stored is not None and not states.intact(self.db, stored, params):
                stored = None
            version_id, statements, frames = self.new_versions(
                [(*row, fit_seconds, parent, metrics)], version_id, stored
            )
            if log is not None:
                statements.append(
                    self.update_statement(**log, version_id=version_id, metrics=metrics)
                )
            self.db.transaction(statements, frames)
            return version_id

    def fill_state(
        self, version_id: int, params: dict[str, np.ndarray], fit_seconds: float
    ) -> bool:
        """Store the state of deferred version `version_id` (fitted from the log through its
        `trained_through_seq`) and its fit time. Returns False, writing nothing, if the
        version is gone or already has a state (another thread filled it first)."""
        with self.db.write_lock:
            rows = self.db.query(
                "SELECT state_id, params IS NULL FROM model_versions WHERE version_id = ?",
                [version_id],
            )
            if not rows or rows[0][0] is not None or not rows[0][1]:
                return False
            state_id, statements = states.reserve_states(self.db)
            saved, frames = states.save_statements(state_id, params)
            update = (
                "UPDATE model_versions SET state_id = ?, fit_seconds = ? WHERE version_id = ?",
                [state_id, fit_seconds, version_id],
            )
            self.db.transaction([*statements, *saved, update], frames)
            return True

    def reserve_version_id(self) -> int:
        """An id no version has or will have, for a version that is still being trained (a
        background retrain names it when it starts). An id reserved and never saved (a failed
        retrain, a crash) stays unused."""
        with self.db.write_lock:
            first, statements = reserve_ids(
                self.db, "next version id", "model_versions", "version_id", 1
            )
            self.db.transaction(statements)
            return first

    def new_versions(
        self, rows: list[tuple], first: int | None = None, stored: int | None = None
    ) -> tuple[int, list[Statement], Frames]:
        """The statements that store `rows` (save_version's arguments, in order) as versions
        with fresh ids (from `first` on if those were reserved), for the caller's transaction
        (under `store.write_lock`), and the frames to register in it; returns the first id
        with them. `stored`: the state of the one row, stored already (`store_state`). A row
        whose params are None is a *deferred* seed version: its state is fitted from the log
        when first read and then stored by `fill_state`."""
        statements: list[Statement] = []
        if first is None:
            first, statements = reserve_ids(
                self.db, "next version id", "model_versions", "version_id", len(rows)
            )
        if stored is None:
            first_state, reserve = states.reserve_states(self.db, len(rows))
            statements += reserve
        elif len(rows) != 1:
            raise ValueError("a stored state names one version")
        else:
            first_state = stored
        frames: Frames = {}
        for offset, row in enumerate(rows):
            algorithm, config, seed, through, n_events, params, trigger, seconds = row[:8]
            parent, metrics = row[8:]
            if stored is not None:
                state_id = stored
            elif params is None:
                state_id = None  # deferred: fitted from the log when first read
            else:
                state_id = first_state + offset
                saved, frame = states.save_statements(state_id, params)
                statements += saved
                frames |= frame
            statements.append(
                (
                    "INSERT INTO model_versions BY NAME SELECT ? AS version_id, "
                    "? AS algorithm, ? AS config, ? AS seed, ? AS trained_through_seq, "
                    "? AS n_events, ? AS state_id, ? AS trigger, ? AS fit_seconds, "
                    "? AS created_at, ? AS parent_version, ? AS metrics",
                    [
                        first + offset,
                        algorithm,
                        json.dumps(config, sort_keys=True),
                        seed,
                        through,
                        n_events,
                        state_id,
                        trigger,
                        seconds,
                        now(),
                        parent,
                        json.dumps(metrics or {}, sort_keys=True),
                    ],
                )
            )
            statements.append(numbers.number_statement(first + offset, algorithm))
        return first, statements, frames

    def version(self, version_id: int, params: bool = False) -> dict[str, Any]:
        """One version as a dict (`version_id` its key, `number` its algorithm's number);
        an unknown key is a RecsysError."""
        rows = self.db.query(
            "SELECT version_id, algorithm, config, seed, trained_through_seq, n_events, trigger, "
            "fit_seconds, created_at, parent_version, metrics"
            + (", state_id" if params else "")
            + " FROM model_versions WHERE version_id = ?",
            [int(version_id)],
        )
        if not rows:
            raise RecsysError(
                f"unknown version (key {version_id}): no stored version has it; versions are "
                "named per algorithm, such as mf v3"
            )
        row = rows[0]
        version = {
            "version_id": row[0],
            "algorithm": row[1],
            "config": json.loads(row[2]),
            "seed": row[3],
            "trained_through_seq": row[4],
            "n_events": row[5],
            "trigger": row[6],
            "fit_seconds": row[7],
            "created_at": row[8],
            "parent_version": row[9],
            "metrics": json.loads(row[10] or "{}"),
            "number": self.number_of(row[0]),
        }
        if params:
            saved_in = ("model_versions", row[0])
            version["params"] = self.state_params({"saved_in": saved_in})
        return version

    def versions(self, algorithm: str | None = None) -> pd.DataFrame:
        """Every version (newest first) with its aliases and metrics as columns: `version` is
        its algorithm's number (what people see as `v3`), `parent` its parent's, `version_id`
        the key."""
        where, args = ("WHERE v.algorithm = ?", [algorithm]) if algorithm else ("", [])
        frame = self.db.frame(
            "SELECT n.number AS version, v.algorithm, "
            "coalesce(string_agg(a.alias, ', ' ORDER BY a.alias), '') AS aliases, v.trigger, "
            "p.number AS parent, v.trained_through_seq, v.n_events, v.fit_seconds, v.created_at, "
            "v.version_id, v.parent_version, v.config, v.metrics FROM model_versions v "
            "LEFT JOIN version_numbers n ON n.version_id = v.version_id "
            "LEFT JOIN version_numbers p ON p.version_id = v.parent_version "
            f"LEFT JOIN aliases a ON a.version_id = v.version_id "
            f"{where} GROUP BY ALL ORDER BY v.version_id DESC",
            args,
        )
        metrics = pd.DataFrame([json.loads(m or "{}") for m in frame.pop("metrics")])
        return pd.concat([frame, metrics], axis=1)

    def version_catalog(self) -> dict[tuple[str, int], int]:
        """(algorithm, number) -> version key, for every stored version."""
        rows = self.db.query(
            "SELECT n.algorithm, n.number, n.version_id FROM version_numbers n "
            "JOIN model_versions m USING (version_id)"
        )
        return {(algorithm, number): key for algorithm, number, key in rows}

    def set_metrics(self, version_id: int, metrics: dict[str, float | None]) -> None:
        self.db.transaction(
            [
                (
                    "UPDATE model_versions SET metrics = ? WHERE version_id = ?",
                    [json.dumps(metrics, sort_keys=True), version_id],
                )
            ]
        )

    def unmeasured(self, algorithm: str | None = None) -> list[int]:
        """Ids of the versions without holdout metrics yet, oldest first."""
        where, args = ("AND algorithm = ?", [algorithm]) if algorithm else ("", [])
        return [
            r[0]
            for r in self.db.query(
                "SELECT version_id FROM model_versions "
                f"WHERE coalesce(metrics, '{{}}') = '{{}}' {where} ORDER BY version_id",
                args,
            )
        ]

    def latest_version_id(self, algorithm: str) -> int | None:
        return self.db.query(
            "SELECT max(version_id) FROM model_versions WHERE algorithm = ?", [algorithm]
        )[0][0]

    def delete_version(self, version_id: int) -> None:
        """Remove a version from the registry. Lineages it served keep a checkpoint copy of
        its parameters, so time travel through the period it served still works."""
        with self.db.write_lock:
            self.db.transaction(
                [
                    *lineage.keep_version_statements(self.db, version_id),
                    *aliases.unpoint_statements(version_id),
                    ("DELETE FROM model_versions WHERE version_id = ?", [version_id]),
                    *states.orphan_statements(),
                ]
            )


# -- statements for the store's transactions ---------------------------------------------------


def clear_statements() -> list[Statement]:
    return [
        ("DELETE FROM model_versions", None),
        *aliases.clear_statements(),
        *numbers.clear_statements(),
    ]


def truncate_statements(seq: int) -> list[Statement]:
    """Back to the seeded world at `seq`: only the versions it was seeded with stay, with the
    alias moves to them up to `seq` (run before the lineage's and history's statements)."""
    return [
        (
            "DELETE FROM model_versions WHERE trained_through_seq > ? "
            "OR trigger NOT IN ('seed', 'first-load')",
            [seq],
        ),
        *aliases.truncate_statements(seq),
        *numbers.free_statements(),
    ]


def forget_statements(first: int) -> list[Statement]:
    """When events from `first` on are forgotten: versions trained on them learned from what is
    now forgotten, and alias moves from then on are dropped."""
    return [
        ("DELETE FROM model_versions WHERE trained_through_seq >= ?", [first]),
        *aliases.forget_statements(first),
        *numbers.free_statements(),
    ]
