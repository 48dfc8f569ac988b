"""What a live experiment shows: each person's arm and the lists logged as impressions.

A list is logged once per distinct list, not once per page rerun: the same list re-drawn (a
rerun, or someone else's event that did not change it) is the same impression, a changed list
a new one.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from recsys.experiments.assignment import Arm, Experiment, Experiments
from recsys.ranking import Ranking


class Exposure:
    """The live experiment (if any) and the last list logged per (experiment, user)."""

    def __init__(self, experiments: Experiments):
        self.experiments = experiments
        self.live: Experiment | None = experiments.live()
        self._shown: dict[tuple, tuple] = {}  # (experiment id, user) -> (list, request id)

    def refresh(self) -> None:
        """A live experiment started or stopped: reread it and forget what was shown."""
        self.live = self.experiments.live()
        self._shown.clear()

    def forget(self, user: str) -> None:
        self._shown = {key: v for key, v in self._shown.items() if key[1] != user}

    def log(
        self, arm: Arm, user: str, ranking: Ranking, context: dict | None, ts: float
    ) -> dict[str, Any]:
        """Log `ranking` as `user`'s impressions of the live experiment's `arm` (unless it is
        the list logged last) and return the exposure to pass back with the events on it:
        experiment, arm, label, algorithm, slate and request id."""
        experiment = self.live
        assert experiment is not None, "no live experiment"
        key = (experiment.experiment_id, user)
        shown = (ranking.item_ids(), json.dumps(context, sort_keys=True))
        last = self._shown.get(key)
        if last is not None and last[0] == shown:
            request = last[1]
        else:
            request = self.experiments.reserve_requests(1)
            self.experiments.log(impressions(experiment, arm, user, ranking, request, ts))
            self._shown[key] = (shown, request)
        return {
            "experiment": experiment.name,
            "arm": arm.name,
            "label": arm.label,
            "algorithm": arm.algorithm,
            "slate": experiment.slate,
            "request_id": request,
        }


def impressions(
    experiment: Experiment, arm: Arm, user: str, ranking: Ranking, request: int, ts: float
) -> pd.DataFrame:
    """One shown list as impression rows (a deterministic ranker: propensity 1)."""
    n = len(ranking.items)
    return pd.DataFrame(
        {
            "experiment_id": experiment.experiment_id,
            "request_id": request,
            "arm": arm.name,
            "user_id": user,
            "item_id": np.array(ranking.item_ids(), dtype=np.int32),
            "position": np.arange(1, n + 1, dtype=np.int16),
            "score": [r.score for r in ranking.items],
            "propensity": 1.0,
            "ts": ts,
            "at_seq": ranking.seq,
            "clicked": False,
            "liked": False,
            "disliked": False,
            "favorited": False,
            "rating": np.full(n, np.nan),
            "true_click": np.full(n, np.nan),
        }
    )
