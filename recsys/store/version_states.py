"""The states of model versions stored apart from their version row: a deferred seed version's
state filled in when it is first fitted, and a background retrain's state written before its
version row (without the write lock). Part of `recsys.store.versions.VersionStore`; the tables
are `states`' and `versions`'."""

from __future__ import annotations

import numpy as np

from recsys.store import states


class VersionStates:
    """Mixin of `VersionStore` (needs `self.db`)."""

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

    def deferred(self) -> list[int]:
        """The versions whose state is not fitted yet (seed versions of a new lab that nobody
        has used), oldest first."""
        return [
            r[0]
            for r in self.db.query(
                "SELECT version_id FROM model_versions WHERE state_id IS NULL AND params IS NULL "
                "ORDER BY version_id"
            )
        ]

    def store_state(self, params: dict[str, np.ndarray]) -> int:
        """Store a version's parameters ahead of `save_version(..., stored=)`, without holding
        the write lock while DuckDB writes them (`states.store_state`)."""
        return states.store_state(self.db, params)

    def drop_state(self, state_id: int) -> None:
        """Drop a state `store_state` stored for a version that will not be saved."""
        self.db.transaction(states.drop_statements(state_id))
