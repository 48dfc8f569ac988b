"""Personas acting on live recommendations through the choice model.

Each step the persona is shown its current top-k, picks one item (or nothing) by the
multinomial logit of its hidden taste, and reacts; every reaction goes through
`Engine.interact`, so it is committed, learned and logged like a person's click. After each
step we measure how well the list matched the persona's hidden taste: precision@k against the
true top-k among the items it has not touched yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np

from recsys.errors import RecsysError
from recsys.events import DEVICES
from recsys.policies import rewards
from recsys.world import ChoiceModel, true_utilities

SECONDS_PER_STEP = 60.0  # simulated time between two visits of a persona
MAX_STEPS = 10_000


@dataclass
class SimulationStep:
    step: int
    shown: list[int]
    picked: int | None
    kinds: list[str] = field(default_factory=list)
    precision: float = 0.0  # of the list shown, against the persona's true top-k
    picked_utility: float | None = None


def simulate(
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
) -> list[SimulationStep]:
    """Let `persona` use the lab for `steps` visits; returns one record per visit. `taste`
    replaces the persona's hidden taste (a drift scenario shifts it)."""
    personas = engine.personas
    if persona not in set(personas["name"]):
        raise RecsysError(
            f"unknown persona {persona!r}; choose one of {', '.join(personas['name'])}"
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise RecsysError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
    if taste is None:
        taste = np.array(personas.set_index("name").loc[persona, "taste"], dtype=np.float64)
    features, quality = engine.store.ground_truth()
    utility = true_utilities(features, quality, taste)[0]
    choice = choice or ChoiceModel()
    rng = np.random.default_rng([seed, engine.last_seq])
    act = partial(
        engine.interact,
        persona,
        algorithm=algorithm,
        k=k,
        source="simulation",
        user_kind="persona",
        persona=persona,
    )
    records = []
    for step in range(1, steps + 1):
        # The visit's context: the lab clock gives the time of day, the persona a device.
        context = {"device": DEVICES[int(rng.integers(len(DEVICES)))]}
        ranking = engine.recommend(persona, k, algorithm, context)
        shown = ranking.item_ids()
        record = SimulationStep(
            step, shown, None, precision=_precision(engine, persona, shown, utility, k)
        )
        if shown:
            picked = int(choice.choose(utility[shown][None, :], rng)[0])
            now = engine.lab_time + SECONDS_PER_STEP
            if picked >= 0:
                item = shown[picked]
                record.picked, record.picked_utility = item, float(utility[item])
                reactions = choice.reactions(utility[[item]], rng)
                for kind, value in _events_of(reactions):
                    act(item, kind, value, context, ts=now)
                    record.kinds.append(kind)
            elif rng.random() < 0.5:
                act(shown[0], "skip", context=context, ts=now)
                record.kinds.append("skip")
        records.append(record)
        if progress:
            progress(step, steps)
    return records


def taste_drift(
    engine,
    personas: list[str] | None = None,
    before: int = 150,
    after: int = 250,
    *,
    algorithm: str | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """The taste-drift scenario: `personas` (default: the first two) use the lab for `before`
    visits each, then each one's hidden taste becomes that of the persona least like it, and
    they go on for `after` visits. The shift is marked in the log; the drift policy's detector
    watches the reward stream, and what it did (alarms, retrains, promotions) is returned."""
    table = engine.personas.set_index("name")
    names = list(personas or table.index[:2])
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
    for step in range(before + after):
        if step == before:
            shift_seq = engine.last_seq
            engine.registry.add_mark(
                at_seq=shift_seq, ts=engine.lab_time, kind="taste shift", details={"shifts": shifts}
            )
        for persona in names:
            taste = tastes[shifts[persona]] if step >= before else tastes[persona]
            simulate(engine, persona, 1, algorithm=algorithm, seed=seed + step, taste=taste)
            done += 1
            if progress:
                progress(done, total)
    alarms = engine.registry.alarms()
    alarms = alarms[alarms["at_seq"] > start_seq]
    updates = engine.registry.updates()
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
            ["at_seq", "algorithm", "trigger", "version_id", "seconds"]
        ].to_dict("records"),
        "reward_before": _reward_mean(engine, names, start_seq, shift_seq),
        "reward_after": _reward_mean(engine, names, shift_seq, engine.last_seq),
    }


def _reward_mean(engine, users: list[str], after_seq: int, through_seq: int) -> float | None:
    """Mean reward (`policies.reward`) of the users' events in (after_seq, through_seq]."""
    events = engine.store.events(after_seq=after_seq, through_seq=through_seq)
    mine = np.isin(events.user, users)
    got = [r for r in rewards(events.kind[mine], events.value[mine]) if r is not None]
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


def _precision(engine, persona: str, shown: list[int], utility: np.ndarray, k: int) -> float:
    available = utility.copy()
    seen = engine.model().seen(persona)
    if seen:
        available[list(seen)] = -np.inf
    truth = set(np.argsort(-available, kind="stable")[:k].tolist())
    return len(truth.intersection(shown)) / k


def summary(records: list[SimulationStep]) -> dict:
    precision = [r.precision for r in records]
    return {
        "steps": len(records),
        "picks": sum(r.picked is not None for r in records),
        "events": sum(len(r.kinds) for r in records),
        "precision_first": precision[0] if precision else None,
        "precision_last": precision[-1] if precision else None,
        "records": [asdict(r) for r in records],
    }
