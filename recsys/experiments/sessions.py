"""Simulated sessions of an experiment in one numpy pass: every visit of every simulated user
sees its arm's list (optionally epsilon-greedy explored), chooses through the choice model,
and becomes impression rows with outcomes and the true click probability.

Kept vectorised on purpose: `python -m recsys bench` holds it to 20,000 impressions a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.choice import ChoiceModel, Utilities
from recsys.experiments.assignment import Experiment
from recsys.world import DAY

SIMULATED_DAYS = 14.0  # the lab-clock span a simulated run's sessions are spread over


def play(
    experiment: Experiment,
    user_ids: list[str],
    assigned: np.ndarray,
    lists: dict[str, tuple[np.ndarray, np.ndarray]],
    utilities: np.ndarray | Utilities,
    sessions: int,
    rng: np.random.Generator,
    choice: ChoiceModel,
    *,
    first_request: int,
    start_ts: float,
    at_seq: int,
) -> pd.DataFrame:
    """Every session of every user in one pass: the list (lead slot explored with chance
    `explore`), a logit pick, reactions; returns the impressions frame (one row per shown item,
    `arm` and `user_id` as categoricals: group them with `observed=True`). Session s is user
    s // sessions's, logged as request `first_request + s`."""
    n_users, k = len(user_ids), experiment.slate
    n_items = utilities.shape[1]
    session_user = np.repeat(np.arange(n_users), sessions)
    arm_names = [a.name for a in experiment.arms]
    items = np.empty((len(session_user), k), dtype=np.int64)
    scores = np.empty((len(session_user), k))
    for i, arm in enumerate(arm_names):
        rows = assigned[session_user] == i
        items[rows] = lists[arm][0][session_user[rows]]
        scores[rows] = lists[arm][1][session_user[rows]]
    propensity = np.ones(items.shape)
    if experiment.explore > 0:
        propensity = _explore(items, scores, propensity, experiment.explore, n_items, rng)
    shown = items >= 0
    util = np.where(shown, utilities[session_user[:, None], np.maximum(items, 0)], -np.inf)
    probabilities = choice.probabilities(util)[:, :k]
    picked = choice.choose(util, rng)
    n = len(session_user)
    clicked = np.zeros((n, k), dtype=bool)
    rows = np.flatnonzero(picked >= 0)
    clicked[rows, picked[rows]] = True
    outcome = {c: np.zeros((n, k), dtype=bool) for c in ("liked", "disliked", "favorited")}
    rating = np.full((n, k), np.nan)
    react = choice.reactions(util[rows, picked[rows]], rng)
    for column, kind in (("liked", "like"), ("disliked", "dislike"), ("favorited", "favorite")):
        outcome[column][rows, picked[rows]] = react[kind]
    rating[rows, picked[rows]] = react["rating"]
    ts = np.round(start_ts + rng.uniform(0.0, SIMULATED_DAYS * DAY, n), 3)
    flat = shown.ravel()
    frame = pd.DataFrame(
        {
            "experiment_id": np.int32(experiment.experiment_id),
            "request_id": np.repeat(first_request + np.arange(n), k),
            # Categories: 5 million impressions' ids as strings would cost seconds to build.
            "arm": pd.Categorical.from_codes(
                np.repeat(assigned[session_user], k), categories=pd.Index(arm_names)
            ),
            "user_id": pd.Categorical.from_codes(
                np.repeat(session_user, k), categories=pd.Index(user_ids)
            ),
            "item_id": items.ravel().astype(np.int32),
            "position": np.tile(np.arange(1, k + 1, dtype=np.int16), n),
            "score": scores.ravel(),
            "propensity": propensity.ravel(),
            "ts": np.repeat(ts, k),
            "at_seq": np.int64(at_seq),
            "clicked": clicked.ravel(),
            "liked": outcome["liked"].ravel(),
            "disliked": outcome["disliked"].ravel(),
            "favorited": outcome["favorited"].ravel(),
            "rating": rating.ravel(),
            "true_click": probabilities.ravel(),
        }
    )
    return frame if flat.all() else frame[flat].reset_index(drop=True)  # a copy only if needed


def _explore(items, scores, propensity, epsilon: float, n_items: int, rng) -> np.ndarray:
    """With chance `epsilon` the lead slot shows an item drawn uniformly from those not lower
    in the list; its propensity is what a logging policy must record for off-policy use."""
    n, k = items.shape
    own = items[:, 0].copy()
    explore = rng.random(n) < epsilon
    pool = n_items - (k - 1)
    rows = np.flatnonzero(explore)
    rest = items[rows, 1:]
    picks = rng.integers(n_items, size=len(rows))
    clash = (rest == picks[:, None]).any(axis=1)
    while clash.any():  # redraw the picks that are already lower in the list
        picks[clash] = rng.integers(n_items, size=int(clash.sum()))
        clash = (rest == picks[:, None]).any(axis=1)
    items[rows, 0], scores[rows, 0] = picks, np.nan
    # P(lead item) = (1 - eps) * [it is the arm's own top] + eps / pool
    propensity[:, 0] = epsilon / pool + (1 - epsilon) * (items[:, 0] == own)
    return propensity


def expected_ctr(
    items: np.ndarray, utilities: np.ndarray | Utilities, choice: ChoiceModel
) -> float:
    shown = items >= 0
    rows = np.arange(len(items))[:, None]
    util = np.where(shown, utilities[rows, np.maximum(items, 0)], -np.inf)
    return float(choice.probabilities(util)[:, :-1].sum(axis=1).mean() / items.shape[1])
