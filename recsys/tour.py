"""The guided defense tour: the lab's story in eight steps, each performed reproducibly.

A presenter opens `?tour=defense` (or the Tour page) and walks through: a fresh visitor, one
like and its diff, the model's view of the visitor, Autopilot converging against the ground
truth, the learning history, a retrain and its version, an A/B test against popularity with
its verdict, and a taste drift with the drift retrain. Every step runs its actions once, when
first reached, in order, from the lab reset to its seeded world by the first step, with seeds
taken from the lab: the same lab and algorithm give the same tour, rehearsal after rehearsal.

The algorithm under test is any in the registry (the presenter's own plugin too); popularity
is the control it is tested against. This module holds no Streamlit: `recsys.ui.tour` draws
the steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recsys import simulation
from recsys.errors import RecsysError
from recsys.experiments.simulation import simulate

VISITOR = "tour-visitor"  # the fresh visitor of steps 1 to 3
AUTOPILOT_VISITS = 40
AB_USERS, AB_SESSIONS = 120, 8
DRIFT_BEFORE, DRIFT_AFTER = 60, 100


@dataclass
class Tour:
    """One run of the tour on a lab: the algorithm under test and each finished step's
    result (step key -> dict), in order."""

    algorithm: str = "mf"
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def persona(self, engine) -> str:
        """The persona the tour follows: the lab's first (its tastes drive Autopilot)."""
        return str(engine.personas["name"].iloc[0])

    def seed(self, engine) -> int:
        return int(engine.meta.get("seed", 0) or 0)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    notes: str  # what the presenter says
    run: Callable[[Any, Tour], dict[str, Any]]


def _fresh(engine, tour: Tour) -> dict[str, Any]:
    started = time.perf_counter()
    engine.reset_lab()  # every rehearsal starts from the seeded world
    return {
        "ranking": engine.recommend(VISITOR, 10, tour.algorithm),
        "reset_seconds": time.perf_counter() - started,
    }


def _like(engine, tour: Tour) -> dict[str, Any]:
    """Like the first item of the visitor's list in the followed persona's favourite genre
    (the top item when none is): a choice the audience can predict and the model can learn."""
    ranking = engine.recommend(VISITOR, 10, tour.algorithm)
    genre = _favourite_genre(engine, tour.persona(engine))
    pick = next((r for r in ranking.items if genre in r.genres), ranking.items[0])
    step = engine.interact(VISITOR, pick.item, "like", algorithm=tour.algorithm, shown=ranking)
    return {"step": step, "genre": genre}


def _favourite_genre(engine, persona: str) -> str:
    """The genre whose items the persona's hidden taste rates highest on average."""
    import numpy as np

    from recsys.choice import true_utilities

    features, quality = engine.store.ground_truth()
    taste = np.asarray(engine.personas.set_index("name").loc[persona, "taste"], np.float64)
    per_genre = engine.catalog.genre_affinity(true_utilities(features, quality, taste)[0])
    return str(per_genre.idxmax())


def _model_view(engine, tour: Tour) -> dict[str, Any]:
    top = engine.recommend(VISITOR, 10, tour.algorithm).items[0]
    return {
        "affinity": engine.genre_affinity(VISITOR, tour.algorithm),
        "numbers": engine.model(tour.algorithm).describe(VISITOR),
        "top": top,
        "liked": tour.results["like"]["genre"],
    }


def _autopilot(engine, tour: Tour) -> dict[str, Any]:
    persona = tour.persona(engine)
    started = time.perf_counter()
    records = simulation.autopilot(
        engine, persona, AUTOPILOT_VISITS, algorithm=tour.algorithm, seed=tour.seed(engine)
    )
    return simulation.record(records, persona, tour.algorithm, 10, time.perf_counter() - started)


def _history(engine, tour: Tour) -> dict[str, Any]:
    seeded = int(engine.meta["history_through_seq"])
    return {
        "since": engine.store.events(after_seq=seeded).kind.tolist(),
        "log": engine.store.learning_log(limit=12),
        "seeded": seeded,
        "events": engine.last_seq,
    }


def _retrain(engine, tour: Tour) -> dict[str, Any]:
    result = engine.lifecycle.train(tour.algorithm, "tour", promote="gate")
    return {"result": result, "versions": engine.version_store.versions(tour.algorithm)}


def _ab(engine, tour: Tour) -> dict[str, Any]:
    from recsys.experiments.analysis import verdict

    if tour.algorithm == "popularity":
        raise RecsysError("the tour tests an algorithm against popularity: pick another one")
    report = simulate(
        engine,
        f"popularity,{tour.algorithm}",
        users=min(AB_USERS, _people(engine)),
        sessions=AB_SESSIONS,
        seed=tour.seed(engine),
    )
    return {"report": report, "verdict": verdict(report)}


def _people(engine) -> int:
    from recsys.experiments.assignment import Experiments

    return len(Experiments(engine.store).simulated_people())


# The taste-drift scenario's detector: sensitive, with no routine retrain to hide its own.
DRIFT_POLICY = {"drift_detector": "page_hinkley", "ph_threshold": 5.0, "retrain_ratings": 0}


def _drift(engine, tour: Tour) -> dict[str, Any]:
    """The taste-drift scenario under its own policy, restored afterwards: a rehearsal's
    earlier steps must run under the lab's policy, as the first rehearsal's did."""
    policy = engine.lifecycle.policy
    kept = {name: getattr(policy, name) for name in DRIFT_POLICY}
    engine.lifecycle.set_policy(DRIFT_POLICY)
    try:
        return simulation.taste_drift(
            engine,
            engine.personas["name"].tolist()[:2],
            DRIFT_BEFORE,
            DRIFT_AFTER,
            algorithm=tour.algorithm,
            seed=tour.seed(engine),
            bulk=True,
        )
    finally:
        engine.lifecycle.set_policy(kept)


DEFENSE: tuple[Step, ...] = (
    Step(
        "fresh",
        "A fresh visitor",
        "Nobody has told the lab anything about this visitor yet, so the list is what is "
        "popular with everyone. Every score says its scale. The lab was just reset to its "
        "seeded world: this rehearsal starts where the last one did.",
        _fresh,
    ),
    Step(
        "like",
        "One like, and what it changed",
        "One like, in the genre the persona we follow loves. The model learns it at once; "
        "the diff shows which items entered, which left and why, in one sentence first.",
        _like,
    ),
    Step(
        "model",
        "The model's view of the visitor",
        "What the model now holds: a taste per genre, the direction the like moved it. "
        "Nothing is hard-coded: this is read off the model's own vectors.",
        _model_view,
    ),
    Step(
        "autopilot",
        "Autopilot converges against the ground truth",
        "A persona with a hidden taste uses the live recommendations. The chart measures "
        "each list against the truth the model never sees: between popularity (the floor) "
        "and the persona's best unseen items (the ceiling).",
        _autopilot,
    ),
    Step(
        "history",
        "The learning history",
        "Every event is in an append-only log, and every update it caused is in the "
        "learning log: what any list was, at any seq, can be rebuilt from it.",
        _history,
    ),
    Step(
        "retrain",
        "A retrain, and a version",
        "A full retrain on the whole log makes a new version, measured on a fixed holdout. "
        "The gate decides whether it serves; the old one stays for a rollback.",
        _retrain,
    ),
    Step(
        "ab",
        "An A/B test against popularity",
        "Simulated people, each with a hidden taste, are split between popularity and our "
        "algorithm. The verdict uses the click-through rate with a proper test, and the "
        "ground truth says which arm really serves them better.",
        _ab,
    ),
    Step(
        "drift",
        "A taste drift, and the drift retrain",
        "Two personas change taste halfway. The drift detector on the reward stream fires "
        "after the shift, never before, and a drift retrain follows.",
        _drift,
    ),
)


def outcome(key: str, result: dict[str, Any]) -> str:
    """What a finished step showed, in one sentence (the page's headline and the handout's)."""
    if key == "fresh":
        top = result["ranking"].items[0]
        return (
            f"The visitor's list is what is popular, led by “{top.title}” ({top.score:.2f}); "
            f"the lab was reset in {result['reset_seconds']:.2f} s."
        )
    if key == "like":
        step = result["step"]
        return f"Liked “{step.title}” ({result['genre']}). {step.diff.summary()}"
    if key == "model":
        affinity = result["affinity"]
        if affinity.empty:
            return "This algorithm holds nothing personal: it is the same for everyone."
        liked, best = result["liked"], affinity.idxmax()
        here = (
            f"{liked} is at {affinity[liked]:+.3f}" if liked in affinity else f"{liked} is absent"
        )
        return (
            f"After one like, {here} in the visitor's taste (centred on zero; the strongest "
            f"genre is {best}, {affinity[best]:+.3f})."
        )
    if key == "autopilot":
        s, n = result["summary"], simulation.WINDOW
        gap, first = s[f"gap_closed_last{n}"], s[f"gap_closed_first{n}"]
        if gap is None:
            return "Popularity's list was already the best possible: there was no gap to close."
        return (
            f"Over its last {n} visits the list closed {gap:.0%} of the gap between popularity "
            f"and the best possible (first {n}: {first:.0%}); true click-through "
            f"{s[f'true_ctr_last{n}']:.0%}."
        )
    if key == "history":
        kinds = result["since"]
        counts = ", ".join(f"{kinds.count(k):,} {k}" for k in sorted(set(kinds)))
        return f"{len(kinds):,} events since the seeded world ({counts}), each in the log."
    if key == "retrain":
        r = result["result"]
        fate = "it serves" if r.get("promoted") else "the gate kept it as the candidate"
        return f"{r['algorithm']} {r['label']} trained in {r['seconds']:.2f} s: {fate}."
    if key == "ab":
        return result["verdict"]
    if key == "drift":
        first, shift = result["first_alarm_after_shift"], result["shift_seq"]
        alarm = (
            f"the detector fired {first - shift} events after it"
            if first
            else "the detector did not fire"
        )
        retrains = len(result["retrains"])
        return (
            f"Tastes shifted at seq {shift:,}; {alarm}, with {result['alarms_before_shift']} "
            f"alarm(s) before it, and {retrains} drift retrain(s) followed."
        )
    raise RecsysError(f"unknown tour step {key!r}")


def advance(engine, tour: Tour, index: int, steps: tuple[Step, ...] = DEFENSE) -> dict:
    """Step `index`'s result, running it (and any step before it not run yet) first.
    Raises RecsysError (the lab is as the last finished step left it) if a step fails."""
    if not 0 <= index < len(steps):
        raise RecsysError(f"the tour has steps 1 to {len(steps)}, not {index + 1}")
    for step in steps[: index + 1]:
        if step.key not in tour.results:
            tour.results[step.key] = step.run(engine, tour)
    return tour.results[steps[index].key]


def rehearse(engine, tour: Tour) -> dict:
    """Start again: forget the results and run the first step (which resets the lab)."""
    tour.results.clear()
    return advance(engine, tour, 0)
