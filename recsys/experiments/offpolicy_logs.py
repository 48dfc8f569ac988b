"""Off-policy evaluation of a new policy from an experiment's logged impressions.

The estimators (`recsys.offpolicy`) judge the lead item: the logs are the experiment's
position-1 impressions with their propensities. They need a logging policy that explores (an
experiment created with `explore` above 0; 1 is uniformly random) and a one-item list
(`slate` 1): with more items on screen, a click on the lead item also depends on its
neighbours, which the logs cannot separate from the item itself. The simulated truth is the
target's expected click rate on the same people, from their hidden taste.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsys.errors import RecsysError
from recsys.experiments import offpolicy
from recsys.experiments.assignment import Arm, Experiment, Experiments, arm_name, parse_arm, resolve
from recsys.experiments.simulation import arm_model, ranked_lists
from recsys.world import ChoiceModel, true_utilities


def evaluate(engine, experiment: Experiment, target: str) -> dict[str, Any]:
    """IPS, SNIPS, direct method and doubly robust estimates of `target`'s lead-slot click
    rate (an algorithm, a version or an algorithm with parameters is not allowed here: the
    target must already exist), next to the simulated truth and the naive logged rate."""
    if experiment.slate != 1 or experiment.explore <= 0:
        raise RecsysError(
            f"experiment {experiment.name!r} cannot be used for off-policy evaluation: it "
            "needs a one-item list that explores (create it with slate 1 and explore above "
            "0, e.g. experiment simulate --slate 1 --explore 1)"
        )
    spec = parse_arm(target)
    if spec["config"]:
        raise RecsysError("the target is an algorithm or a stored version, not new parameters")
    algorithm, version = resolve(spec, Experiments(engine.store).version_algorithms())
    arm = Arm(arm_name(spec), algorithm, version)
    logs = Experiments(engine.store).impressions(experiment.experiment_id, position=1)
    if logs.empty:
        raise RecsysError(f"experiment {experiment.name!r} has no logged impressions yet")
    user_ids = sorted(logs["user_id"].unique())
    index = {u: i for i, u in enumerate(user_ids)}
    users = logs["user_id"].map(index).to_numpy()
    items = logs["item_id"].to_numpy()
    rewards = logs["clicked"].to_numpy(dtype=float)
    propensities = logs["propensity"].to_numpy()
    with engine._lock:  # another session's event must not change the model mid-ranking
        target_items = ranked_lists(arm_model(engine, arm), user_ids, 1)[0][:, 0]
    reward_model = offpolicy.fit_reward_model(
        users, items, rewards, len(user_ids), engine.catalog.n
    )
    estimates = offpolicy.evaluate(users, items, rewards, propensities, target_items, reward_model)
    truth = None
    people = Experiments(engine.store).simulated_people().set_index("user_id")
    if set(user_ids) <= set(people.index):
        features, quality = engine.store.ground_truth()
        tastes = np.stack(people.loc[user_ids, "taste"].to_numpy())
        utilities = true_utilities(features, quality, tastes)
        truth = offpolicy.true_value(target_items, utilities, ChoiceModel())
    # Effective sample size of the importance weights, (Σw)² / Σw²: when few logged items match
    # the target, a handful of huge weights carry IPS and its interval is not to be trusted.
    weights = (items == target_items[users]) / propensities
    ess = float(weights.sum() ** 2 / (weights**2).sum()) if weights.any() else 0.0
    return {
        "experiment": experiment.name,
        "target": arm.label,
        "effective_sample_size": ess,
        "impressions": len(logs),
        "users": len(user_ids),
        "logged_ctr": float(rewards.mean()),
        "truth": truth,
        "estimates": [
            {
                "method": e.method,
                "value": e.value,
                "low": e.low,
                "high": e.high,
                "se": e.se,
                "covers_truth": None if truth is None else bool(e.low <= truth <= e.high),
            }
            for e in estimates
        ],
    }
