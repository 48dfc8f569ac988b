"""The measures the built-in scenarios' claims name: each reads one number from the loaded lab.

A measure takes the engine and a claim's `args`, reads the lab through the engine
(recommendations, the model registry's alarms, updates and marks, the experiments' reports, the
event log) and returns the number with a short note saying what it saw; the claim's check
(`recsys.data.scenario_checks`) compares it with the threshold. Nothing here writes to the lab:
the cold-start measures let a fresh visitor act on copies of the models, not on the lab.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from recsys.errors import RecsysError
from recsys.events import Event
from recsys.simulation import reward_mean

MEASURES: dict[str, Callable[..., Measured]] = {}  # a claim's `measure` -> the function


@dataclass(frozen=True)
class Measured:
    value: float | None  # None: nothing to measure (the note says why)
    note: str = ""


def measure(function: Callable[..., Measured]) -> Callable[..., Measured]:
    MEASURES[function.__name__] = function
    return function


# -- lists --------------------------------------------------------------------------------


def _genres(engine, items: list[int]) -> Counter:
    return Counter(g for item in items for g in engine.catalog.genres[item])


def _top(engine, user: str, algorithm: str, k: int = 10) -> list[int]:
    if user not in engine.users():
        raise RecsysError(f"the lab has no user {user!r}")
    return engine.recommend(user, k, algorithm).item_ids()


@measure
def genre_share(engine, user: str, algorithm: str, k: int = 10) -> Measured:
    """How many of the user's top k share the genre most of them have."""
    counts = _genres(engine, _top(engine, user, algorithm, k))
    if not counts:
        return Measured(0.0, "the list is empty")
    note = ", ".join(f"{genre} {n}" for genre, n in counts.most_common(3))
    return Measured(float(counts.most_common(1)[0][1]), note)


@measure
def genre_count(engine, user: str, algorithm: str, genre: str, k: int = 10) -> Measured:
    """How many of the user's top k are of `genre`."""
    counts = _genres(engine, _top(engine, user, algorithm, k))
    top = ", ".join(f"{g} {n}" for g, n in counts.most_common(2))
    return Measured(float(counts.get(genre, 0)), f"most: {top}" if top else "the list is empty")


@measure
def genre_spread(engine, user: str, algorithm: str, against: str, k: int = 10) -> Measured:
    """How many more genres `against`'s top k for the user spans than `algorithm`'s."""
    spans = {
        name: len(_genres(engine, _top(engine, user, name, k))) for name in (algorithm, against)
    }
    note = ", ".join(f"{name} {n} genres" for name, n in spans.items())
    return Measured(float(spans[against] - spans[algorithm]), note)


def simulated_people(engine) -> list[str]:
    return sorted(u for u, kind in engine.users().items() if kind == "simulated")


def _lists(engine, algorithm: str, k: int = 10) -> list[list[int]]:
    people = simulated_people(engine)
    if not people:
        raise RecsysError("the lab has no simulated people")
    return [engine.recommend(user, k, algorithm).item_ids() for user in people]


@measure
def coverage_ratio(engine, algorithm: str, against: str, k: int = 10) -> Measured:
    """The share of the catalogue in `algorithm`'s top k for the world's simulated people,
    over the same share for `against`."""
    shares = {
        name: len({i for items in _lists(engine, name, k) for i in items}) / engine.catalog.n
        for name in (algorithm, against)
    }
    note = ", ".join(f"{name} {share:.1%} of the catalogue" for name, share in shares.items())
    if shares[against] == 0:
        return Measured(None, note)
    return Measured(shares[algorithm] / shares[against], note)


def novelty(engine, algorithm: str, k: int = 10) -> float:
    """Mean novelty in bits of the items in the simulated people's top k: -log2 of an item's
    share of the events in the log (smoothed by one), as the Evaluation page measures it."""
    counts = np.bincount(engine.store.events().item, minlength=engine.catalog.n)
    share = (counts + 1.0) / (counts.sum() + engine.catalog.n)
    lists = [items for items in _lists(engine, algorithm, k) if items]
    return float(np.mean([np.mean(-np.log2(share[items])) for items in lists]))


@measure
def novelty_gap(engine, algorithm: str, against: str, k: int = 10) -> Measured:
    """How many bits more novel `against`'s lists are than `algorithm`'s."""
    bits = {name: novelty(engine, name, k) for name in (algorithm, against)}
    note = ", ".join(f"{name} {b:.2f} bits" for name, b in bits.items())
    return Measured(bits[against] - bits[algorithm], note)


# -- a fresh visitor ------------------------------------------------------------------------


def fresh_user(engine) -> str:
    """A user id the lab has not seen: `scenario-check-N` for the first free N."""
    known, n = engine.users(), 0
    while f"scenario-check-{n}" in known:
        n += 1
    return f"scenario-check-{n}"


def _copies(engine, algorithm: str) -> dict[str, Any]:
    """The algorithm's production model and the models it reads, copied together: learning on
    the copies leaves the lab as it is."""
    names = [algorithm]
    for name in names:
        names.extend(n for n in engine.model(name).depends_on() if n not in names)
    return copy.deepcopy({name: engine.model(name) for name in names})


def _learn(models: dict[str, Any], algorithm: str, event: Event) -> None:
    for name, model in models.items():  # the models it reads first, as the engine does
        if name != algorithm:
            model.learn_one(event)
    models[algorithm].learn_one(event)


@measure
def fresh_overlap(engine, algorithm: str, baseline: str, k: int = 10) -> Measured:
    """How many of a fresh visitor's top k under `algorithm` are in `baseline`'s top k."""
    user = fresh_user(engine)
    lists = {
        name: engine.model(name).recommend(user, k)[0].tolist() for name in (algorithm, baseline)
    }
    shared = len(set(lists[algorithm]) & set(lists[baseline]))
    titles = ", ".join(engine.item_title(i) for i in lists[algorithm][:3])
    return Measured(float(shared), f"{algorithm} first shows {titles}")


def turn(engine, algorithm: str, genre: str, likes: int = 3, k: int = 10) -> int:
    """A fresh visitor likes `likes` films of `genre`, each the first of that genre in its
    current ranking under `algorithm` (on copies of the models); how many of its top k are
    then of `genre`."""
    models = _copies(engine, algorithm)
    model, user, genres = models[algorithm], fresh_user(engine), engine.catalog.genres
    for n in range(1, likes + 1):
        ranked = model.recommend(user, engine.catalog.n)[0].tolist()
        item = next((i for i in ranked if genre in genres[i]), None)
        if item is None:
            break
        event = Event(user, item, "like", None, engine.lab_time + 60.0 * n, engine.last_seq + n)
        _learn(models, algorithm, event)
    return sum(genre in genres[i] for i in model.recommend(user, k)[0].tolist())


@measure
def likes_turn(engine, algorithm: str, likes: int = 3, k: int = 10) -> Measured:
    """The median over the catalogue's genres of `turn`: how much of the list one genre takes
    after a fresh visitor likes `likes` films of it."""
    catalogue = sorted({g for genres in engine.catalog.genres for g in genres})
    if not catalogue:
        raise RecsysError("the catalogue has no genres")
    counts = {genre: turn(engine, algorithm, genre, likes, k) for genre in catalogue}
    reach = sum(n >= k / 2 for n in counts.values())
    weakest = min(counts, key=lambda g: (counts[g], g))
    note = f"{reach} of {len(counts)} genres take half the list; {weakest} {counts[weakest]}"
    return Measured(float(np.median(list(counts.values()))), note)


# -- experiments --------------------------------------------------------------------------


def _report(engine, name: str) -> dict[str, Any]:
    from recsys.experiments.analysis import report
    from recsys.experiments.assignment import Experiments

    found = [e for e in Experiments(engine.store).list() if e.name == name]
    if not found:
        raise RecsysError(f"the lab has no experiment {name!r}")
    return report(engine.store, found[0])


def _ctr_row(result: dict[str, Any], arm: str) -> dict[str, Any]:
    for row in result["comparisons"]:
        if row["metric"] == "ctr" and row["arm"] == arm:
            return row
    raise RecsysError(f"the experiment has no treatment arm {arm!r}")


@measure
def true_ctr_gap(engine, experiment: str, arm: str) -> Measured:
    """`arm`'s true click-through minus the control's, in percentage points (the simulated
    people's hidden taste, not what was measured)."""
    result = _report(engine, experiment)
    truth = {row["arm"]: row["true_ctr"] for row in result["arms"]}
    control = result["experiment"]["control"]
    if truth.get(arm) is None or truth.get(control) is None:
        return Measured(None, "the experiment has no ground truth (not simulated)")
    note = f"true CTR {arm} {truth[arm]:.2%}, {control} {truth[control]:.2%}"
    return Measured(100.0 * (truth[arm] - truth[control]), note)


@measure
def ab_p_value(engine, experiment: str, arm: str) -> Measured:
    """The p-value of `arm` against the control on click-through rate."""
    row = _ctr_row(_report(engine, experiment), arm)
    note = f"CTR {arm} {row['treatment']:.2%} against {row['control']:.2%}"
    return Measured(row["p_value"], note)


@measure
def ab_right_call(engine, experiment: str) -> Measured:
    """1 if the arm the test calls significantly better on click-through is the truly better
    one, else 0 (no call at all is not the right call)."""
    result = _report(engine, experiment)
    control = result["experiment"]["control"]
    rows = [r for r in result["comparisons"] if r["metric"] == "ctr" and r["significant"]]
    better = [r for r in rows if r["treatment"] > r["control"]]
    called = max(better, key=lambda r: r["treatment"])["arm"] if better else None
    called = called or (control if rows else None)
    truth = result["oracle_winner"]
    if truth is None:
        return Measured(None, "the experiment has no ground truth (not simulated)")
    return Measured(float(called == truth), f"the test calls {called or 'no arm'}, truly {truth}")


# -- taste drift --------------------------------------------------------------------------


def _shift(engine) -> tuple[int, list[str]]:
    """The seq of the (first) taste shift and the personas it shifted."""
    marks = engine.version_store.marks("taste shift")
    if marks.empty:
        raise RecsysError("the lab has no taste shift")
    first = marks.iloc[0]
    return int(first["at_seq"]), list(json.loads(first["details"]).get("shifts", {}))


def _alarms_after(engine, seq: int) -> list[int]:
    alarms = engine.version_store.alarms()
    return sorted(int(s) for s in alarms.loc[alarms["at_seq"] > seq, "at_seq"])


@measure
def drift_alarms(engine, when: str) -> Measured:
    """Drift alarms before (at or before) or after the taste shift."""
    shift, _ = _shift(engine)
    alarms = engine.version_store.alarms()
    if when == "before":
        start = int(engine.meta.get("history_through_seq", 0))
        before = alarms[(alarms["at_seq"] > start) & (alarms["at_seq"] <= shift)]
        return Measured(float(len(before)), f"the shift is at event {shift:,}")
    after = _alarms_after(engine, shift)
    if not after:
        return Measured(0.0, f"none in the {engine.last_seq - shift:,} events after the shift")
    return Measured(float(len(after)), f"the first {after[0] - shift:,} events after the shift")


def _drift_retrains(engine, algorithm: str) -> tuple[int | None, list[int]]:
    """The first alarm after the shift and the seqs of the drift retrains from it on."""
    shift, _ = _shift(engine)
    after = _alarms_after(engine, shift)
    if not after:
        return None, []
    updates = engine.version_store.updates(algorithm)
    drift = updates[(updates["trigger"] == "drift") & (updates["at_seq"] >= after[0])]
    return after[0], sorted(int(s) for s in drift["at_seq"])


@measure
def drift_retrains(engine, algorithm: str) -> Measured:
    """Retrains of `algorithm` the drift policy made from the first alarm after the shift on."""
    alarm, retrains = _drift_retrains(engine, algorithm)
    if alarm is None:
        return Measured(0.0, "no alarm after the shift")
    where = f"the first at event {retrains[0]:,}" if retrains else "none"
    return Measured(float(len(retrains)), f"{where}; the alarm at {alarm:,}")


@measure
def drift_recovery(engine, algorithm: str = "mf") -> Measured:
    """The shifted personas' mean reward after the first drift retrain minus their mean reward
    between the shift and the alarm."""
    shift, personas = _shift(engine)
    alarm, retrains = _drift_retrains(engine, algorithm)
    if alarm is None or not retrains:
        return Measured(None, "no alarm and drift retrain after the shift")
    start = int(engine.meta.get("history_through_seq", 0))
    windows = {
        "before the shift": (start, shift),
        "until the alarm": (shift, alarm),
        "after the retrain": (retrains[0], engine.last_seq),
    }
    means = {label: reward_mean(engine, personas, *window) for label, window in windows.items()}
    drop, after = means["until the alarm"], means["after the retrain"]
    if drop is None or after is None:
        return Measured(None, "no rewarded events between the shift and the alarm, or after")
    note = ", ".join(
        f"{mean:.2f} {label} ({high - low:,} events)"
        for (label, (low, high)), mean in zip(windows.items(), means.values(), strict=True)
        if mean is not None
    )
    return Measured(after - drop, f"mean reward {note}")
