"""Personas acting on live recommendations through the choice model, measured against the truth.

Each step the persona is shown its current top-k, picks one item (or nothing) by the
multinomial logit of its hidden taste, and reacts; every reaction goes through
`Engine.interact`, so it is committed, learned and logged like a person's click. The persona
reads the list from the top, as its position bias says it does, so every item shown above its
pick was seen and passed over: each is logged as a `skip` ("skip above", the reading of clicks
as relative judgements of Joachims et al., SIGIR 2005). Without it a learner hears only about
the items it already ranks first, and a taste it has not guessed yet never shows.

Before the persona acts, the list is scored against its hidden taste, and so are two lists for
the same state (the same items already touched, which no list may show again):

- the **oracle**: the persona's best k unseen items, best first (the ceiling);
- **popularity**: what the `popularity` algorithm would show this user now (the floor a
  recommender that learns nothing personal reaches).

Each list gets two numbers. Its **utility** is the mean hidden utility of its items, on the
world's hidden utility scale (the one the choice model reads; in the generated worlds a
persona's best items score about 3 to 8, the catalog's average about 0). Its **CTR** is the
probability of a click on some item of the list in one visit, under the world's choice model
with position bias and the no-click option: 1 - P(no click). CTR saturates (every decent list
gets most visits clicked), so the learner's progress is read on utility: the share of the gap
between popularity and the oracle it closes.

The measurement draws no random numbers: the same seed gives the same picks whether or not
anybody reads the measures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np

from recsys.choice import ChoiceModel, true_utilities
from recsys.errors import RecsysError
from recsys.events import DEVICES, validate_user
from recsys.lifecycle.policies import PASSED_OVER, rewards

SECONDS_PER_STEP = 60.0  # simulated time between two visits of a persona
MAX_STEPS = 10_000
WINDOW = 5  # visits averaged at the start and at the end of a run (summary, chart)
BASELINE = "popularity"  # the floor: what a recommender that learns nothing personal shows


@dataclass
class SimulationStep:
    """One visit. Utilities are means over a list's items on the world's hidden utility scale;
    CTRs are probabilities of a click on some item of the list in this visit (0 to 1). The
    oracle and popularity lists are for the same state as the list shown (before this visit's
    events), none of them showing an item the user already touched."""

    step: int
    shown: list[int]
    picked: int | None
    kinds: list[str] = field(default_factory=list)
    true_utility: float | None = None  # of the list shown (None if nothing could be shown)
    true_ctr: float = 0.0  # of the list shown, in its order
    oracle_utility: float | None = None  # the persona's best k unseen items
    oracle_ctr: float = 0.0  # the same, best first
    popularity_utility: float | None = None  # the list `popularity` would show now
    popularity_ctr: float = 0.0
    precision: float = 0.0  # share of the k shown that are among the oracle's k
    picked_utility: float | None = None


def autopilot(
    engine,
    persona: str,
    steps: int,
    *,
    k: int = 10,
    algorithm: str | None = None,
    seed: int = 0,
    choice: ChoiceModel | None = None,
    progress: Callable[[int, int], None] | None = None,
    taste: np.ndarray | None = None,
    user: str | None = None,
    truth: tuple[np.ndarray, np.ndarray] | None = None,
    bulk: bool = False,
) -> list[SimulationStep]:
    """Let `persona` use the lab for `steps` visits; returns one record per visit, measured
    against its hidden taste (see the module docstring). `taste` replaces the persona's hidden
    taste (a drift scenario shifts it). `user` is the id that acts (default: the persona's
    name); another id, e.g. a fresh one with no history, acts with the persona's taste, and its
    events are written as a persona user of that persona. `truth`: the world's
    `store.ground_truth()` (features, quality), if the caller already read it. `bulk`: each
    event through `Engine.play` and each list through `Engine.top` (the same events, learning
    and policies, without the lists with reasons a person would read after every event); a
    scenario load does it inside one transaction (`Engine.all_or_nothing`)."""
    personas = engine.personas
    if persona not in set(personas["name"]):
        raise RecsysError(
            f"unknown persona {persona!r}; choose one of {', '.join(personas['name'])}"
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise RecsysError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
    user = persona if user is None else validate_user(user)
    if taste is None:
        taste = np.array(personas.set_index("name").loc[persona, "taste"], dtype=np.float64)
    features, quality = truth or engine.store.ground_truth()
    utility = true_utilities(features, quality, taste)[0]
    choice = choice or ChoiceModel()
    rng = np.random.default_rng([seed, engine.last_seq])
    origin = {"source": "simulation", "user_kind": "persona", "persona": persona}
    if bulk:
        act, show = partial(engine.play, user, algorithm=algorithm, **origin), engine.top
    else:
        act = partial(engine.interact, user, algorithm=algorithm, k=k, **origin)

        def show(*request) -> list[int]:
            return engine.recommend(*request).item_ids()

    # Retrains happen inside the visit that triggers them (not on the app's background
    # worker): the same seed gives the same run.
    with engine.retrainer.suspended():
        records = []
        for step in range(1, steps + 1):
            # The visit's context: the lab clock gives the time of day, the persona a device.
            context = {"device": DEVICES[int(rng.integers(len(DEVICES)))]}
            shown = show(user, k, algorithm, context)
            record = SimulationStep(step, shown, None)
            _measure(record, engine, user, utility, k, context, choice)
            if shown:
                now = engine.lab_time + SECONDS_PER_STEP
                _react(record, partial(act, ts=now), context, utility, choice, rng)
            records.append(record)
            if progress:
                progress(step, steps)
    return records


def _react(
    record: SimulationStep,
    act: Callable,
    context: dict,
    utility: np.ndarray,
    choice: ChoiceModel,
    rng: np.random.Generator,
) -> None:
    """The persona's reaction to the list shown, through the choice model: the items above the
    one it picks are skipped, the picked one gets the model's reactions; with no pick, half the
    time the top item is skipped. `act(item, kind, value, context)` records an event."""
    shown = record.shown
    picked = int(choice.choose(utility[shown][None, :], rng)[0])
    if picked >= 0:
        item = shown[picked]
        record.picked, record.picked_utility = item, float(utility[item])
        reactions = choice.reactions(utility[[item]], rng)
        for above in shown[:picked]:
            act(above, "skip", context=context | {PASSED_OVER: True})
            record.kinds.append("skip")
        for kind, value in _events_of(reactions):
            act(item, kind, value, context)
            record.kinds.append(kind)
    elif rng.random() < 0.5:
        act(shown[0], "skip", context=context)
        record.kinds.append("skip")


def list_value(items: list[int], utility: np.ndarray, choice: ChoiceModel) -> tuple[float, float]:
    """(utility, CTR) of a list shown in this order: the mean hidden utility of its items, and
    the probability of a click on one of them (1 - P(no click) under `choice`). An empty list
    has no utility (NaN) and a CTR of 0."""
    if not items:
        return float("nan"), 0.0
    no_click = choice.probabilities(utility[np.asarray(items)][None, :])[0, -1]
    return float(utility[items].mean()), float(1.0 - no_click)


def _measure(
    record: SimulationStep,
    engine,
    user: str,
    utility: np.ndarray,
    k: int,
    context: dict,
    choice: ChoiceModel,
) -> None:
    """Score the shown list, the oracle's and popularity's for the user's current state. The
    baseline is the production `popularity` model, read directly: not personalised, so its list
    is the same for everybody apart from each user's seen items, and reading it writes nothing
    (catching it up with the log is what its next use would do anyway)."""
    baseline = engine.model(BASELINE)
    seen = baseline.seen(user)  # every model learns every event: the same seen items
    popular = baseline.recommend(user, k, context)[0].tolist()
    available = utility.copy()
    if seen:
        available[list(seen)] = -np.inf
    best = np.argsort(-available, kind="stable")[:k]
    oracle = best[np.isfinite(available[best])].tolist()
    for name, items in (("true", record.shown), ("oracle", oracle), ("popularity", popular)):
        mean, ctr = list_value(items, utility, choice)
        setattr(record, f"{name}_utility", None if np.isnan(mean) else mean)
        setattr(record, f"{name}_ctr", ctr)
    record.precision = len(set(oracle).intersection(record.shown)) / k


def taste_drift(
    engine,
    personas: list[str] | None = None,
    before: int = 150,
    after: int = 250,
    *,
    algorithm: str | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    bulk: bool = False,
) -> dict:
    """The taste-drift scenario: `personas` (default: the first two) use the lab for `before`
    visits each, then each one's hidden taste becomes that of the persona least like it, and
    they go on for `after` visits. The shift is marked in the log; the drift policy's detector
    watches the reward stream, and what it did (alarms, retrains, promotions) is returned.
    `bulk`: the visits as `autopilot(..., bulk=True)` plays them."""
    table = engine.personas.set_index("name")
    names = list(personas or table.index[:2])
    twice = sorted({p for p in names if names.count(p) > 1})
    if twice:
        raise RecsysError(f"persona {twice[0]!r} is named twice: name each persona once")
    unknown = [p for p in names if p not in table.index]
    if unknown or not names:
        raise RecsysError(
            f"unknown persona {unknown[0] if unknown else ''!r}; "
            f"choose from {', '.join(table.index)}"
        )
    for count, label in ((before, "before"), (after, "after")):
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_STEPS:
            raise RecsysError(f"{label} must be a whole number from 1 to {MAX_STEPS}")
    tastes = {n: np.asarray(t, dtype=np.float64) for n, t in table["taste"].items()}
    shifts = {p: _least_alike(p, tastes) for p in names}
    start_seq = engine.last_seq
    total, done = (before + after) * len(names), 0
    shift_seq = None
    truth = engine.store.ground_truth()  # read once, not on each of the hundreds of visits
    for step in range(before + after):
        if step == before:
            shift_seq = engine.last_seq
            engine.version_store.add_mark(
                at_seq=shift_seq, ts=engine.lab_time, kind="taste shift", details={"shifts": shifts}
            )
        for persona in names:
            taste = tastes[shifts[persona]] if step >= before else tastes[persona]
            autopilot(
                engine,
                persona,
                1,
                algorithm=algorithm,
                seed=seed + step,
                taste=taste,
                truth=truth,
                bulk=bulk,
            )
            done += 1
            if progress:
                progress(done, total)
    alarms = engine.version_store.alarms()
    alarms = alarms[alarms["at_seq"] > start_seq]
    updates = engine.version_store.updates()
    updates = updates[(updates["at_seq"] > start_seq) & (updates["update_type"] != "mini-batch")]
    after_shift = alarms[alarms["at_seq"] > shift_seq]["at_seq"]
    return {
        "personas": names,
        "shifts": shifts,
        "start_seq": start_seq,
        "shift_seq": shift_seq,
        "end_seq": engine.last_seq,
        "alarms": alarms[["at_seq", "algorithm", "detector", "statistic"]].to_dict("records"),
        "first_alarm_after_shift": int(after_shift.min()) if len(after_shift) else None,
        "alarms_before_shift": int((alarms["at_seq"] <= shift_seq).sum()),
        "retrains": updates.sort_values("at_seq")[
            ["at_seq", "algorithm", "trigger", "version", "seconds"]
        ].to_dict("records"),
        "reward_before": reward_mean(engine, names, start_seq, shift_seq),
        "reward_after": reward_mean(engine, names, shift_seq, engine.last_seq),
    }


def reward_mean(engine, users: list[str], after_seq: int, through_seq: int) -> float | None:
    """Mean reward (`policies.reward`) of the users' events in (after_seq, through_seq], or
    None when none of them carries a reward."""
    events = engine.store.events(after_seq=after_seq, through_seq=through_seq)
    mine = np.isin(events.user, users)
    contexts = events.contexts()
    theirs = [contexts[i] for i in np.flatnonzero(mine)]
    got = [r for r in rewards(events.kind[mine], events.value[mine], theirs) if r is not None]
    return float(np.mean(got)) if got else None


def _least_alike(persona: str, tastes: dict[str, np.ndarray]) -> str:
    def cosine(a: np.ndarray, b: np.ndarray) -> float:
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0))

    others = [n for n in tastes if n != persona]
    return min(others, key=lambda n: cosine(tastes[persona][:-1], tastes[n][:-1]))


def _events_of(reactions: dict[str, np.ndarray]) -> list[tuple[str, float | None]]:
    events: list[tuple[str, float | None]] = [("view", None)]
    for kind in ("click", "like", "dislike", "favorite"):
        if reactions[kind][0]:
            events.append((kind, None))
    if not np.isnan(reactions["rating"][0]):
        events.append(("rating", float(reactions["rating"][0])))
    return events


def gap_closed(true: float | None, oracle: float | None, popularity: float | None) -> float | None:
    """(true - popularity) / (oracle - popularity): 0 at popularity's list, 1 at the oracle's
    (negative below the floor); None when a number is missing or there is no gap."""
    if true is None or oracle is None or popularity is None or abs(oracle - popularity) < 1e-9:
        return None
    return (true - popularity) / (oracle - popularity)


def summary(records: list[SimulationStep], window: int = WINDOW) -> dict:
    """The run in a few numbers, the learner's against its floor and ceiling first: utilities
    (world's hidden scale) and CTRs (probability of a click per visit) averaged over the last
    and the first `window` visits, and the share of the popularity-to-oracle utility gap
    closed there (`gap_closed_last5`: 1 is the oracle, 0 is popularity)."""
    result: dict = {}
    for label, part in ((f"last{window}", records[-window:]), (f"first{window}", records[:window])):
        means = {
            f"{name}_{label}": _mean(part, name)
            for name in ("true_utility", "oracle_utility", "popularity_utility")
        }
        result |= means
        result[f"gap_closed_{label}"] = gap_closed(*means.values())
    for label, part in ((f"last{window}", records[-window:]), (f"first{window}", records[:window])):
        result |= {
            f"{name}_{label}": _mean(part, name)
            for name in ("true_ctr", "oracle_ctr", "popularity_ctr")
        }
    return result | {
        "steps": len(records),
        "picks": sum(r.picked is not None for r in records),
        "events": sum(len(r.kinds) for r in records),
        "records": [asdict(r) for r in records],
    }


def _mean(records: list[SimulationStep], name: str) -> float | None:
    values = [getattr(r, name) for r in records if getattr(r, name) is not None]
    return float(np.mean(values)) if values else None


CURVES = ("true_utility", "oracle_utility", "popularity_utility", "true_ctr")


def record(
    records: list[SimulationStep], persona: str, algorithm: str, k: int, seconds: float
) -> dict:
    """An Autopilot run as the pages keep and chart it: the summary, each curve of `CURVES`
    per visit, precision, picks and events (plain lists and numbers)."""
    return {
        "persona": persona,
        "algorithm": algorithm,
        "k": k,
        "seconds": seconds,
        "summary": {n: v for n, v in summary(records).items() if n != "records"},
        **{name: [getattr(r, name) for r in records] for name in CURVES},
        "precision": [r.precision for r in records],
        "picks": sum(r.picked is not None for r in records),
        "events": sum(len(r.kinds) for r in records),
    }
