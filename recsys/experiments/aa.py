"""Many A/A tests in a row: how often does a test "find" a difference that is not there?

Both arms serve the same frozen model, so every significant result is a false positive. Each
run draws a fresh assignment (another experiment seed) and fresh sessions; the lists are ranked
once. Four rates come out, each of which a committee may ask about:

- `user`: the delta-method test with the user as the unit (should be close to alpha);
- `impression`: the two-proportion z-test that treats impressions as independent: wrong in
  either direction, too high when a person's clicks go together, too low (and short of
  power) when they exclude each other, as here, where one visit yields at most one pick;
- `peeking`: the fixed-horizon p-value looked at after every batch of data, stopping at the
  first p < alpha (much too high: each look is another chance of a false alarm);
- `sequential`: the always-valid interval looked at just as often (stays at or below alpha).

Nothing is written to the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from recsys.algorithms import algorithm_class
from recsys.choice import ChoiceModel, Utilities
from recsys.errors import RecsysError
from recsys.experiments import population, rates, stats
from recsys.experiments.assignment import Arm, Experiment, Experiments
from recsys.experiments.sessions import play
from recsys.experiments.simulation import MAX_SESSIONS, ranked_lists

MAX_RUNS = 2000


def aa_rates(
    engine,
    algorithm: str = "mf",
    *,
    runs: int = 200,
    users: int | None = None,
    sessions: int = 10,
    slate: int = 10,
    looks: int = 10,
    alpha: float = 0.05,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> dict[str, Any]:
    name = algorithm_class(algorithm).name
    own = len(Experiments(engine.store).simulated_people())
    users = own if users is None else users
    for value, label, low, top in (
        (runs, "runs", 1, MAX_RUNS),
        (users, "users", 4, population.MAX_PEOPLE),  # at least two people per arm
        (sessions, "sessions", 1, MAX_SESSIONS),
        (looks, "looks", 1, 100),
        (slate, "slate", 1, 50),
        (seed, "seed", 0, 2**31 - 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
            raise RecsysError(f"{label} must be a whole number from {low} to {top}, got {value!r}")
    if not 0 < alpha < 1:
        raise RecsysError("alpha must be between 0 and 1")
    population.check_size(users, sessions, slate, low=4)
    # Past the world's own people, fresh ones drawn from its population model (seed `seed`).
    people = population.sample(engine.store, users, np.random.default_rng([seed, 23]), seed)
    user_ids = people.user_ids
    features, quality = engine.store.ground_truth()
    utilities = Utilities(features, quality, people.tastes)
    with engine.lock:  # another session's event must not change the model mid-ranking
        lists = people.served(ranked_lists(engine.model(name), people.known, slate))
    choice = ChoiceModel()
    hits = {"user": 0, "impression": 0, "peeking": 0, "sequential": 0}
    p_values = []
    for run in range(runs):
        arms = (Arm("A", name, None, 50.0), Arm("B", name, None, 50.0))
        experiment = Experiment(0, f"aa-{seed}-{run}", "simulated", "running", arms, slate, 0.0,
                                run, 0, 0.0)  # fmt: skip
        assigned = experiment.assign_many(user_ids)
        if min(np.bincount(assigned, minlength=2)) < 2:  # too few people in an arm to compare
            continue
        frame = play(
            experiment,
            user_ids,
            assigned,
            {"A": lists, "B": lists},
            utilities,
            sessions,
            np.random.default_rng([seed, run]),
            choice,
            first_request=0,
            start_ts=0.0,
            at_seq=0,
        )
        result = _one_run(frame, looks, alpha, users)
        p_values.append(result["p_user"])
        for key in hits:
            hits[key] += result[key]
        if progress:
            progress((run + 1) / runs, f"A/A run {run + 1} of {runs}")
    done = len(p_values)
    if not done:
        raise RecsysError("no A/A test had two people in each arm; use more people")
    return {
        "algorithm": name,
        "runs": done,
        "users": users,
        "sessions": sessions,
        "alpha": alpha,
        "looks": looks,
        "false_positive_rate": {k: v / done for k, v in hits.items()},
        "p_values": p_values,
    }


def _one_run(frame: pd.DataFrame, looks: int, alpha: float, users: int) -> dict[str, Any]:
    """One A/A test; the always-valid interval is tuned to the planned sample, `users`."""
    order = np.argsort(frame["ts"].to_numpy(), kind="stable")
    frame = frame.iloc[order]
    per_user = frame.groupby(["arm", "user_id"], observed=True)[["clicked"]].agg(["sum", "count"])
    per_user.columns = ["clicks", "impressions"]
    a, b = per_user.loc["A"], per_user.loc["B"]
    final = rates.compare_rates(a["clicks"], a["impressions"], b["clicks"], b["impressions"])
    naive = stats.compare_proportions(
        int(a["clicks"].sum()), int(a["impressions"].sum()),
        int(b["clicks"].sum()), int(b["impressions"].sum()),
    )  # fmt: skip
    peeked = sequential = False
    cuts = np.linspace(len(frame) / looks, len(frame), looks).astype(int)
    for cut in cuts:
        part = (
            frame.iloc[:cut]
            .groupby(["arm", "user_id"], observed=True)["clicked"]
            .agg(["sum", "count"])
        )
        if {"A", "B"} - set(part.index.get_level_values(0)):
            continue
        pa, pb = part.loc["A"], part.loc["B"]
        if len(pa) < 2 or len(pb) < 2:
            continue
        look = rates.compare_rates(pa["sum"], pa["count"], pb["sum"], pb["count"])
        peeked |= bool(look.p_value < alpha)
        diff_se = np.hypot(look.control.se, look.treatment.se)
        low, high = stats.sequential_interval(
            look.difference, diff_se, len(pa) + len(pb), alpha, tuning_n=users
        )
        sequential |= bool(low > 0 or high < 0)
    return {
        "p_user": final.p_value,
        "user": final.p_value < alpha,
        "impression": naive.p_value < alpha,
        "peeking": peeked,
        "sequential": sequential,
    }
