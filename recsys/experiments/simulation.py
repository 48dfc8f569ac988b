"""Creating experiments and running them on simulated people whose true taste is known.

A simulated run freezes each arm as it stands (the production model, or a stored version),
ranks every sampled person's list once per arm, then plays `sessions` visits per person through
the world's choice model in one vectorised pass, and logs every impression with a DataFrame
insert. Because the people's hidden taste is known, each arm's true click-through rate (the
choice model's pick probability, averaged over what it showed) and regret against the ideal
list come out next to the measured ones, and the run says whether the test picked the right
winner. The simulated outcomes go to the impressions table only, not to the event log: a
simulation is a what-if and must not change what the lab's models learn.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from recsys.algorithms import ModelSpec, build_model
from recsys.choice import ChoiceModel, Utilities
from recsys.errors import RecsysError
from recsys.experiments import interleaving, population, truth
from recsys.experiments.analysis import report
from recsys.experiments.assignment import (
    Arm,
    Experiment,
    Experiments,
    arm_name,
    parse_arm,
    parse_split,
    resolve,
    split_arms,
)
from recsys.experiments.sessions import SIMULATED_DAYS, expected_ctr, play
from recsys.world import DAY

MAX_SESSIONS = 500


def create(
    engine,
    name: str,
    arms: str | list[str],
    split: str | list[float] | None = None,
    *,
    mode: str = "simulated",
    slate: int = 10,
    explore: float = 0.0,
    seed: int = 0,
    details: dict | None = None,
) -> Experiment:
    """Validate everything, then train the arms that need new parameters and write the
    experiment, all in one transaction (`Engine.all_or_nothing`: a crash leaves no version
    of an arm without its experiment). Bad input raises RecsysError before anything is
    written."""
    specs, shares = _parsed(arms, split)
    options = {"mode": mode, "slate": slate, "explore": explore, "seed": seed}
    experiments = Experiments(engine.store)
    with engine.lock:  # bad input fails here, before a transaction whose failure reloads models
        _validated(experiments, name, specs, shares, options)
    with engine.all_or_nothing():
        # again: another session may have taken the name meanwhile
        versions = _validated(experiments, name, specs, shares, options)
        made = []
        for spec, share in zip(specs, shares, strict=True):
            algorithm, version = resolve(spec, versions)
            if spec["config"]:
                version = _train_version(engine, algorithm, spec["config"], name)
            number = engine.version_store.number_of(version)
            made.append(Arm(arm_name(spec), algorithm, version, float(share), number))
        experiment = experiments.insert(
            name,
            mode,
            made,
            slate=slate,
            explore=float(explore),
            seed=seed,
            created_seq=engine.last_seq,
            created_ts=engine.lab_time,
            details=details,
        )
        if mode == "live":
            engine.experiment_changed()
        return experiment


def _parsed(arms: str | list[str], split: str | list[float] | None) -> tuple[list, list]:
    """The arms' specs and their shares (RecsysError for bad ones)."""
    specs = [parse_arm(s) for s in (split_arms(arms) if isinstance(arms, str) else arms)]
    return specs, split if isinstance(split, list) else parse_split(split, len(specs))


def _validated(
    experiments: Experiments, name: str, specs, shares, options
) -> dict[tuple[str, int], int]:
    """The stored versions by (algorithm, number), once the experiment is checked
    (RecsysError)."""
    versions = experiments.version_catalog()
    experiments.validate(name, specs, shares, versions=versions, **options)
    return versions


def _train_version(engine, algorithm: str, config: dict, experiment: str) -> int:
    """An arm with other parameters: fit once on the whole log and store it as a version
    (trigger "experiment"), so the arm is a fixed, reproducible model like any other."""
    current = engine.model(algorithm)
    spec = ModelSpec(algorithm, current.config.to_dict() | config, current.seed, engine.weights)
    model = build_model(spec, engine.catalog, components=engine.models)
    events = engine.store.events()
    started = time.perf_counter()
    model.fit(events, engine.catalog)
    return engine.version_store.save_version(
        algorithm,
        model.config.to_dict(),
        model.seed,
        engine.last_seq,
        len(events),
        model.state(),
        "experiment",
        time.perf_counter() - started,
        engine.version_store.alias(algorithm, "production"),
    )


def simulate(
    engine,
    arms: str | list[str],
    *,
    name: str | None = None,
    split: str | list[float] | None = None,
    users: int | None = None,
    sessions: int = 20,
    seed: int = 0,
    slate: int = 10,
    explore: float = 0.0,
    progress: Callable[[float, str], None] | None = None,
    keep_people: bool = False,
) -> dict[str, Any]:
    """Create a simulated experiment and run it: `users` simulated people (the world's own
    by default; past their count, fresh people drawn from the world's population model:
    `recsys.experiments.population`) each visit `sessions` times. Drawn people are not users
    of the lab unless `keep_people`. Returns the report (`ab_analysis.report`) with the ground
    truth and the measured throughput. All or nothing, across a crash too
    (`Engine.all_or_nothing`): an experiment is stored with all of its impressions and
    results, or not at all. RecsysError for bad input, before anything is written."""
    if isinstance(sessions, bool) or not isinstance(sessions, int):
        raise RecsysError(f"sessions must be a whole number, got {sessions!r}")
    if not 1 <= sessions <= MAX_SESSIONS:
        raise RecsysError(f"sessions must be from 1 to {MAX_SESSIONS}, got {sessions}")
    own = len(Experiments(engine.store).simulated_people())
    users = own if users is None else users
    if not own:
        raise RecsysError("this lab has no simulated people to draw from")
    # a bad slate is reported by the experiment's validation below, after this
    width = slate if isinstance(slate, int) and not isinstance(slate, bool) and slate > 0 else 1
    users = population.check_size(users, sessions, width)
    # An unnamed repeat gets a fresh name but the same assignment salt, so the same seed gives
    # the same run in the same lab.
    salt = _base_name(arms if isinstance(arms, str) else ",".join(arms), seed)
    name = name or _free_name(engine, salt)
    specs, shares = _parsed(arms, split)
    options = {"mode": "simulated", "slate": slate, "explore": explore, "seed": seed}
    with engine.lock:  # bad input fails here, before the transaction
        _validated(Experiments(engine.store), name, specs, shares, options)
    with engine.all_or_nothing():
        started = time.perf_counter()
        experiment = create(
            engine, name, arms, split, slate=slate, explore=explore, seed=seed,
            mode="simulated", details={"salt": salt},
        )  # fmt: skip
        rng = np.random.default_rng([experiment.seed, 11])
        people = population.sample(engine.store, users, rng, experiment.seed)
        experiment = _run(engine, experiment, people, rng, sessions, started, progress)
        if keep_people and people.drawn:
            engine.store.add_people(population.kept_people(people, engine.last_seq))
    if progress:
        progress(1.0, "analysing")
    return report(engine.store, experiment)


def _run(engine, experiment, people, rng, sessions, started, progress) -> Experiment:
    """Play a created simulated experiment, store its results and stop it."""
    experiments = Experiments(engine.store)
    run = run_sessions(engine, experiment, people, sessions, progress, rng=rng)
    seconds = time.perf_counter() - started
    details = experiment.details | {
        "users": len(people),
        "drawn_people": people.drawn,
        "sessions": sessions,
        "truth": run["truth"],
        "interleaving": run["interleaving"],
        "impressions": run["impressions"],
        "seconds": round(seconds, 3),
        "impressions_per_second": round(run["impressions"] / seconds, 1),
        "oracle_winner": run["oracle_winner"],
    }
    experiments.set_details(experiment.experiment_id, details)
    return experiments.stop(experiment.experiment_id, experiment.created_ts + SIMULATED_DAYS * DAY)


def _base_name(arms: str, seed: int) -> str:
    readable = re.sub(r"[^\w .:-]+", " ", " vs ".join(split_arms(arms)))
    return re.sub(r" +", " ", f"sim {readable} seed {seed}").strip()[:50]


def _free_name(engine, base: str) -> str:
    taken = {e.name for e in Experiments(engine.store).list()}
    name, n = base, 2
    while name in taken:
        name, n = f"{base} run {n}", n + 1
    return name


def arm_model(engine, arm: Arm):
    """The model an arm serves, frozen for a simulated run."""
    if arm.version is None:
        return engine.model(arm.algorithm)
    return engine.host.from_version(engine.version_store.version(arm.version, params=True))


def ranked_lists(model, users: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's top-k items and scores as (n_users, k) arrays (-1 pads a short list)."""
    items = np.full((len(users), k), -1, dtype=np.int64)
    scores = np.full((len(users), k), np.nan)
    for row, user in enumerate(users):
        top, score = model.recommend(user, k, None)
        items[row, : len(top)] = top
        scores[row, : len(top)] = score
    return items, scores


def run_sessions(
    engine,
    experiment: Experiment,
    people: population.People,
    sessions: int,
    progress: Callable[[float, str], None] | None = None,
    choice: ChoiceModel | None = None,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """Rank, play and log one simulated experiment; returns the ground truth per arm. Each arm
    ranks `people.known` once; memory is linear in people and impressions."""
    rng = rng or np.random.default_rng([experiment.seed, 11])
    user_ids, n_users = people.user_ids, len(people)
    features, quality = engine.store.ground_truth()
    utilities = Utilities(features, quality, people.tastes)  # pairs or blocks, never whole
    choice = choice or ChoiceModel()
    k = experiment.slate
    lists = {}
    for i, arm in enumerate(experiment.arms):
        if progress:
            progress(0.6 * i / len(experiment.arms), f"ranking for arm {arm.name}")
        with engine.lock:  # another session's event must not change a model mid-ranking
            lists[arm.name] = people.served(ranked_lists(arm_model(engine, arm), people.known, k))
    assigned = experiment.assign_many(user_ids)
    if progress:
        progress(0.6, "playing sessions")
    frame = play(
        experiment,
        user_ids,
        assigned,
        lists,
        utilities,
        sessions,
        rng,
        choice,
        first_request=Experiments(engine.store).reserve_requests(n_users * sessions),
        start_ts=engine.lab_time,
        at_seq=engine.last_seq,
    )
    if progress:
        progress(0.8, "logging impressions")
    Experiments(engine.store).log(frame)
    with engine.lock:
        seen = engine.model().seen
        known_seen = [seen(u) for u in people.known]
    ideal = truth.ideal_utility(utilities, people.rows, known_seen, k)
    truths = {}
    for i, arm in enumerate(experiment.arms):
        mine = assigned == i
        items = lists[arm.name][0]
        if experiment.explore > 0:  # the policy as served, exploration included
            served = play(
                experiment, user_ids, np.full(n_users, i), lists, utilities, sessions,
                np.random.default_rng([experiment.seed, 97, i]), choice, first_request=0,
                start_ts=0.0, at_seq=0,
            )  # fmt: skip
            rows = served["request_id"].to_numpy() // sessions  # request i: person i // sessions
            population_ctr, regret = truth.served_truth(served, rows, utilities, ideal)
        else:
            population_ctr = expected_ctr(items, utilities, choice)
            regret = truth.arm_regret(items, utilities, ideal)
        truths[arm.name] = {
            # What the arm gave the people it served (expected, not sampled), and what it
            # would give the whole sample: the oracle winner is judged on the latter.
            "true_ctr": float(frame.loc[frame["arm"] == arm.name, "true_click"].mean())
            if mine.any()
            else None,
            "population_ctr": float(population_ctr),
            "regret": float(regret),
        }
    best = max(truths, key=lambda a: truths[a]["population_ctr"])
    values = [t["population_ctr"] for t in truths.values()]
    uniform = experiment.explore >= 1.0 and experiment.slate == 1  # every arm shows noise
    if max(values) - min(values) < 1e-12 or uniform:  # identical arms: no winner exists
        best = None
    result = None
    if len(experiment.arms) >= 2:
        a, b = experiment.arms[0].name, experiment.arms[1].name
        result = interleaving.interleaved_sessions(
            lists[a][0], lists[b][0], utilities, choice, sessions, experiment.seed
        )
    return {
        "truth": truths,
        "oracle_winner": best,
        "impressions": len(frame),
        "interleaving": None
        if result is None
        else {"a": a, "b": b}
        | {f: _plain(getattr(result, f)) for f in result.__dataclass_fields__},
    }


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
