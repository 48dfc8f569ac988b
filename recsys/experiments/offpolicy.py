"""Off-policy evaluation: what would a new policy's lead item earn, judged from old logs?

The logs record, per impression in the lead slot, the user, the item shown, whether it was
clicked and the propensity: the probability that the logging policy showed that item to that
user. A target policy is either deterministic, `target[user]` = the item it would show, or
stochastic, `target[user, item]` = π(item | user). Four estimators of its click rate:

- `ips`: inverse propensity scoring, the mean of w·r with w = π(item|user) / propensity.
  Unbiased whenever the logging policy could show everything the target shows; noisy when the
  weights are large.
- `snips`: self-normalised IPS, Σ w·r / Σ w. Slightly biased, usually far less noisy; its
  standard error comes from the delta method.
- `direct`: the direct method, the mean over logged users of the reward model's prediction for
  the target's item. Low noise, but only as right as the model.
- `doubly_robust`: the direct method plus IPS on the model's residuals. Unbiased if either the
  propensities or the model are right, and less noisy than IPS when the model is any good.

Each comes with a 95% normal interval from the standard error of its per-impression terms.
`simulate_logs` and `true_value` supply logs and the truth from the world's choice model, so the
lab can show each estimator landing (or not) on the value no log can measure directly.
`evaluate_experiment` applies the four to an experiment's logged impressions.

>>> users, items = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
>>> rewards, propensities = np.array([1, 0, 0, 1]), np.full(4, 0.5)
>>> ips(users, items, rewards, propensities, target=np.array([0, 1])).value
1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from recsys.choice import ChoiceModel, Utilities
from recsys.errors import RecsysError
from recsys.experiments import population
from recsys.experiments.assignment import Arm, Experiment, Experiments, arm_name, parse_arm, resolve
from recsys.experiments.simulation import arm_model, ranked_lists

Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile
LOGGING = ("uniform", "epsilon_greedy")


@dataclass(frozen=True)
class OffPolicyEstimate:
    """One estimator's answer: the target's click rate with a 95% interval and standard error."""

    method: str
    value: float
    low: float
    high: float
    se: float


def _estimate(method: str, terms: np.ndarray, value: float | None = None) -> OffPolicyEstimate:
    """The mean of per-impression terms (or a given `value`) with a normal 95% interval."""
    value = float(terms.mean()) if value is None else float(value)
    se = float(terms.std(ddof=1) / np.sqrt(len(terms))) if len(terms) > 1 else 0.0
    return OffPolicyEstimate(method, value, value - Z_95 * se, value + Z_95 * se, se)


def _checked_logs(users, items, rewards, propensities) -> tuple[np.ndarray, ...]:
    users, items = np.asarray(users), np.asarray(items)
    rewards, propensities = np.asarray(rewards, float), np.asarray(propensities, float)
    if not len(users) == len(items) == len(rewards) == len(propensities):
        raise RecsysError("Logged users, items, rewards and propensities must have equal lengths.")
    if len(users) == 0:
        raise RecsysError("Off-policy evaluation needs at least one logged impression.")
    for name, values in (("users", users), ("items", items)):
        if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer) or values.min() < 0:
            raise RecsysError(f"Logged {name} must be indices: whole numbers >= 0.")
    if not ((rewards >= 0) & (rewards <= 1)).all():
        raise RecsysError("Logged rewards must be clicks: numbers from 0 to 1.")
    if not ((propensities > 0) & (propensities <= 1)).all():
        raise RecsysError("Propensities must be probabilities above 0 and at most 1.")
    return users, items, rewards, propensities


def _checked_target(target, users: np.ndarray) -> np.ndarray:
    """The target as an array, after checking it covers the logged users and is a policy."""
    target = np.asarray(target)
    if target.ndim not in (1, 2) or len(target) == 0:
        raise RecsysError("A target policy is an item per user or a (users, items) array of π.")
    if users.max() >= len(target):
        raise RecsysError(f"The target policy covers {len(target)} users; the logs have more.")
    if target.ndim == 1 and (not np.issubdtype(target.dtype, np.integer) or target.min() < 0):
        raise RecsysError("A deterministic target holds one item index (>= 0) per user.")
    if target.ndim == 2 and ((target < 0).any() or not np.allclose(target.sum(axis=1), 1.0)):
        raise RecsysError("A stochastic target needs probabilities that sum to 1 per user.")
    return target


def _target_probability(target, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """π(item | user) for each logged (user, item) pair, deterministic or stochastic target."""
    target = _checked_target(target, users)
    if target.ndim == 1:
        return (target[users] == items).astype(float)
    if items.max() >= target.shape[1]:
        raise RecsysError(f"The target policy covers {target.shape[1]} items; the logs have more.")
    return target[users, items].astype(float)


def _target_prediction(target, users: np.ndarray, reward_model) -> np.ndarray:
    """The reward model's expected click for each logged user under the target policy."""
    target, reward_model = _checked_target(target, users), np.asarray(reward_model, float)
    if reward_model.ndim != 2 or users.max() >= len(reward_model):
        raise RecsysError("The reward model is a (users, items) array covering the logged users.")
    if target.ndim == 2:
        if target.shape != reward_model.shape:
            raise RecsysError("A stochastic target and the reward model need the same shape.")
        return (target[users] * reward_model[users]).sum(axis=1)
    if target[users].max() >= reward_model.shape[1]:
        raise RecsysError(
            f"The reward model covers {reward_model.shape[1]} items; not the target's."
        )
    return reward_model[users, target[users]]


def _weights(users, items, rewards, propensities, target) -> tuple[np.ndarray, ...]:
    users, items, rewards, propensities = _checked_logs(users, items, rewards, propensities)
    weights = _target_probability(target, users, items) / propensities
    return users, items, rewards, weights


def ips(
    users: np.ndarray,
    items: np.ndarray,
    rewards: np.ndarray,
    propensities: np.ndarray,
    target: np.ndarray,
) -> OffPolicyEstimate:
    """Inverse propensity scoring: mean of π(item|user) / propensity × reward."""
    _, _, rewards, weights = _weights(users, items, rewards, propensities, target)
    return _estimate("ips", weights * rewards)


def snips(
    users: np.ndarray,
    items: np.ndarray,
    rewards: np.ndarray,
    propensities: np.ndarray,
    target: np.ndarray,
) -> OffPolicyEstimate:
    """Self-normalised IPS: Σ w·r / Σ w, with the delta method's standard error.

    The delta method linearises the ratio around its value V: the per-impression terms are
    w·(r - V) / mean(w), whose mean is 0 and whose spread is the estimate's. When no logged
    impression shows what the target would, Σ w = 0 and the logs say nothing about the target.
    """
    _, _, rewards, weights = _weights(users, items, rewards, propensities, target)
    if weights.sum() <= 0:
        raise RecsysError(
            "No logged impression shows an item the target policy would show; "
            "log with more exploration to evaluate it."
        )
    value = (weights * rewards).sum() / weights.sum()
    terms = weights * (rewards - value) / weights.mean()
    return _estimate("snips", terms, value)


def direct(users: np.ndarray, target: np.ndarray, reward_model: np.ndarray) -> OffPolicyEstimate:
    """The direct method: the reward model's mean prediction for the target's item.

    Its interval covers only the sampling of users, not the model's error, so a biased model
    gives a confidently wrong answer; that is what `doubly_robust` corrects.
    """
    users = np.asarray(users)
    if users.ndim != 1 or len(users) == 0 or not np.issubdtype(users.dtype, np.integer):
        raise RecsysError("The direct method needs at least one logged user index.")
    if users.min() < 0:
        raise RecsysError("Logged users must be indices: whole numbers >= 0.")
    return _estimate("direct", _target_prediction(target, users, reward_model))


def doubly_robust(
    users: np.ndarray,
    items: np.ndarray,
    rewards: np.ndarray,
    propensities: np.ndarray,
    target: np.ndarray,
    reward_model: np.ndarray,
) -> OffPolicyEstimate:
    """Doubly robust: the direct method plus IPS on the reward model's residuals."""
    users, items, rewards, weights = _weights(users, items, rewards, propensities, target)
    reward_model = np.asarray(reward_model, float)
    if items.max() >= reward_model.shape[1]:
        raise RecsysError(f"The reward model covers {reward_model.shape[1]} items; logs have more.")
    predicted = _target_prediction(target, users, reward_model)
    residual = rewards - reward_model[users, items]
    return _estimate("doubly_robust", predicted + weights * residual)


def all_estimates(
    users: np.ndarray,
    items: np.ndarray,
    rewards: np.ndarray,
    propensities: np.ndarray,
    target: np.ndarray,
    reward_model: np.ndarray,
) -> list[OffPolicyEstimate]:
    """All four estimates of the target's click rate: IPS, SNIPS, direct, doubly robust."""
    return [
        ips(users, items, rewards, propensities, target),
        snips(users, items, rewards, propensities, target),
        direct(users, target, reward_model),
        doubly_robust(users, items, rewards, propensities, target, reward_model),
    ]


def fit_reward_model(
    users: np.ndarray,
    items: np.ndarray,
    rewards: np.ndarray,
    n_users: int,
    n_items: int,
    shrink: float = 20.0,
) -> np.ndarray:
    """Predicted click probability per (user, item): each item's click rate, shrunk to the mean.

    rate(item) = (clicks + shrink × global rate) / (impressions + shrink), the same for every
    user. Ignoring the user is deliberate: the model is simple and honest about popularity but
    biased for any policy that personalises, which is exactly the case where the direct method
    goes wrong and the doubly robust correction earns its keep.
    """
    users, items = np.asarray(users), np.asarray(items)
    rewards = np.asarray(rewards, float)
    if not len(users) == len(items) == len(rewards) or len(users) == 0:
        raise RecsysError("A reward model needs equally many logged users, items and rewards.")
    if shrink < 0:
        raise RecsysError(f"shrink must be >= 0, not {shrink}.")
    if items.min() < 0 or items.max() >= n_items or users.min() < 0 or users.max() >= n_users:
        raise RecsysError(f"Logged indices must lie within {n_users} users and {n_items} items.")
    shown = np.bincount(items, minlength=n_items).astype(float)
    clicks = np.bincount(items, weights=rewards, minlength=n_items)
    overall = rewards.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(shown + shrink > 0, (clicks + shrink * overall) / (shown + shrink), overall)
    return np.tile(rate, (n_users, 1))


def click_probabilities(utilities: np.ndarray, choice: ChoiceModel) -> np.ndarray:
    """P(click) of every (user, item) when the item is shown alone in the lead slot."""
    utilities = np.asarray(utilities, float)
    return choice.probabilities(utilities[..., None])[..., 0]


def true_value(target: np.ndarray, utilities: np.ndarray | Utilities, choice: ChoiceModel) -> float:
    """The target's simulated click rate: mean over all users of P(click on its lead item).
    A target of one item per user reads only those utilities (`utilities` may then be a
    `recsys.choice.Utilities`, never made dense)."""
    n_users, n_items = utilities.shape
    target = _checked_target(target, np.arange(n_users))
    fits = len(target) == n_users and (
        target.max() < n_items if target.ndim == 1 else target.shape == (n_users, n_items)
    )
    if not fits:
        raise RecsysError("The target policy must cover exactly the users and items simulated.")
    if target.ndim == 1:
        return float(click_probabilities(utilities[np.arange(n_users), target], choice).mean())
    return float((target * click_probabilities(utilities, choice)).sum(axis=1).mean())


def simulate_logs(
    utilities: np.ndarray,
    choice: ChoiceModel,
    n: int,
    rng: np.random.Generator,
    logging: str = "uniform",
    base_items: np.ndarray | None = None,
    epsilon: float = 1.0,
) -> dict[str, np.ndarray]:
    """`n` logged lead-slot impressions: users, items, rewards and propensities.

    Users are drawn uniformly. The item is uniform ("uniform", propensity 1 / n_items) or
    epsilon-greedy around `base_items[user]` ("epsilon_greedy": the base item with probability
    1 - epsilon, otherwise a uniform one, so propensity (1 - ε)·[item = base] + ε / n_items).
    The click is a coin with the one-item click probability that `true_value` averages.
    """
    if logging not in LOGGING:
        raise RecsysError(f"unknown logging policy {logging!r}; choose one of {', '.join(LOGGING)}")
    if not isinstance(n, int) or n < 1:
        raise RecsysError(f"Simulated logs need n >= 1 impressions, not {n!r}.")
    clicks = click_probabilities(utilities, choice)
    n_users, n_items = clicks.shape
    users = rng.integers(n_users, size=n)
    items = rng.integers(n_items, size=n)
    propensities = np.full(n, 1.0 / n_items)
    if logging == "epsilon_greedy":
        if not 0.0 <= epsilon <= 1.0:
            raise RecsysError(f"epsilon must be between 0 and 1, not {epsilon}.")
        if base_items is None or len(base_items) != n_users:
            raise RecsysError("Epsilon-greedy logging needs one base item per user.")
        if np.min(base_items) < 0 or np.max(base_items) >= n_items:
            raise RecsysError(f"Base items must be item indices from 0 to {n_items - 1}.")
        base = np.asarray(base_items)[users]
        items = np.where(rng.random(n) < epsilon, items, base)
        propensities = (1.0 - epsilon) * (items == base) + epsilon / n_items
    rewards = (rng.random(n) < clicks[users, items]).astype(np.int64)
    return {"users": users, "items": items, "rewards": rewards, "propensities": propensities}


# Off-policy evaluation of a new policy from an experiment's logged impressions.
#
# The estimators above judge the lead item: the logs are the experiment's position-1
# impressions with their propensities. They need a logging policy that explores (an
# experiment created with `explore` above 0; 1 is uniformly random) and a one-item list
# (`slate` 1): with more items on screen, a click on the lead item also depends on its
# neighbours, which the logs cannot separate from the item itself. The simulated truth is the
# target's expected click rate on the same people, from their hidden taste.


def evaluate_experiment(engine, experiment: Experiment, target: str) -> dict[str, Any]:
    """IPS, SNIPS, direct method and doubly robust estimates of `target`'s lead-slot click
    rate (an algorithm, a version or an algorithm with parameters is not allowed here: the
    target must already exist), next to the simulated truth and the naive logged rate.

    Returns `experiment`, `target` (its label), `impressions`, `users`, `logged_ctr`,
    `effective_sample_size`, `truth` (None unless every logged user is a simulated person) and
    `estimates`: one dict per method with `value`, `low`, `high` (95%), `se` and `covers_truth`.
    Raises `RecsysError` for an experiment without a one-item exploring list or without logs,
    and for a target with new parameters."""
    if experiment.slate != 1 or experiment.explore <= 0:
        raise RecsysError(
            f"experiment {experiment.name!r} cannot be used for off-policy evaluation: it "
            "needs a one-item list that explores (create it with slate 1 and explore above "
            "0, e.g. experiment simulate --slate 1 --explore 1)"
        )
    spec = parse_arm(target)
    if spec["config"]:
        raise RecsysError("the target is an algorithm or a stored version, not new parameters")
    algorithm, version = resolve(spec, Experiments(engine.store).version_catalog())
    arm = Arm(arm_name(spec), algorithm, version, number=spec["version"])
    logs = Experiments(engine.store).impressions(experiment.experiment_id, position=1)
    if logs.empty:
        raise RecsysError(f"experiment {experiment.name!r} has no logged impressions yet")
    user_ids = sorted(logs["user_id"].unique())
    index = {u: i for i, u in enumerate(user_ids)}
    users = logs["user_id"].map(index).to_numpy()
    items = logs["item_id"].to_numpy()
    rewards = logs["clicked"].to_numpy(dtype=float)
    propensities = logs["propensity"].to_numpy()
    # Drawn people (past the world's own) are recreated from their ids, served as their
    # look-alikes; people who are neither (visitors of a live experiment) have no truth.
    people = population.people_for(engine.store, user_ids)
    known, rows = (user_ids, np.arange(len(user_ids))) if people is None else (
        people.known, people.rows)  # fmt: skip
    with engine.lock:  # another session's event must not change the model mid-ranking
        target_items = ranked_lists(arm_model(engine, arm), known, 1)[0][rows, 0]
    reward_model = fit_reward_model(users, items, rewards, len(user_ids), engine.catalog.n)
    found = all_estimates(users, items, rewards, propensities, target_items, reward_model)
    truth = None
    if people is not None:
        features, quality = engine.store.ground_truth()
        utilities = Utilities(features, quality, people.tastes)
        truth = true_value(target_items, utilities, ChoiceModel())
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
            for e in found
        ],
    }
