"""The states of model versions stored apart from their version row: which seed versions are
deferred (their state fitted when first used, stored by `VersionStore.fill_state`), and a
background retrain's state written before its version row (without the write lock). Part of
`recsys.store.versions.VersionStore`; it writes no table itself (`states` owns theirs)."""

from __future__ import annotations

import numpy as np

from recsys.store import states


class VersionStates:
    """Mixin of `VersionStore` (needs `self.db`)."""

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
