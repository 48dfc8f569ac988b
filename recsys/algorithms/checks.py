"""The contract checks every built-in passes (tests/test_contract.py), for any algorithm class:
what `python -m recsys check-algorithm` and the Parameters page's Algorithms tab report.

Each check fits the class on the same planted world as the contract suite (two taste groups
over 40 items) and says whether the contract holds, with a one-line detail; an exception
raised by the algorithm fails that check with its one line, and the others still run. The
speed of `learn_one` and `score` is measured and reported (milliseconds per call), never
judged: it depends on the machine.

>>> from recsys.algorithms.registry import REGISTRY
>>> report = check_algorithm(REGISTRY["popularity"])
>>> report.passed, [c.name for c in report.checks][:2]
(True, ['planted answer recovered', 'unknown user and item'])
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from recsys.algorithms.base import Recommender
from recsys.algorithms.catalog import Catalog
from recsys.errors import RecsysError
from recsys.events import Event, EventFrame

N_ITEMS = 40
BLOCK_A, BLOCK_B = np.arange(0, 20), np.arange(20, 40)
CATALOG = Catalog(
    titles=tuple(f"Film {chr(65 + i // 20)}{i % 20:02d}" for i in range(N_ITEMS)),
    genres=tuple(("Alpha",) if i < 20 else ("Beta",) for i in range(N_ITEMS)),
)
SPEED_CALLS = 200  # learn_one and score calls timed for the report


def planted_events(seed: int = 0) -> EventFrame:
    """Two taste groups: 24 users like block A and dislike some of B; 12 users the reverse
    (the contract suite's world, event for event)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(36):
        mine, other = (BLOCK_A, BLOCK_B) if u < 24 else (BLOCK_B, BLOCK_A)
        for item in rng.choice(mine, 10, replace=False):
            rows.append((f"u{u}", int(item), "like", np.nan))
            rows.append((f"u{u}", int(item), "rating", float(rng.choice([4.0, 4.5, 5.0]))))
        for item in rng.choice(other, 3, replace=False):
            rows.append((f"u{u}", int(item), "dislike", np.nan))
    n = len(rows)
    rows = [rows[i] for i in rng.permutation(n)]
    users, items, kinds, values = zip(*rows, strict=True)
    return EventFrame(
        seq=np.arange(1, n + 1),
        ts=np.arange(1, n + 1) * 60.0,
        user=np.array(users, dtype=object),
        item=np.array(items, dtype=np.int64),
        kind=np.array(kinds, dtype=object),
        value=np.array(values, dtype=np.float64),
    )


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class Report:
    """The checks of one algorithm, in order, and its speed (ms per call; None if it failed)."""

    algorithm: str
    source: str
    checks: list[Check] = field(default_factory=list)
    learn_one_ms: float | None = None
    score_ms: float | None = None

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_json(self) -> dict:
        return asdict(self) | {"passed": self.passed}

    def text(self) -> str:
        """The readable report: one line per check, then the speed and the verdict."""
        lines = [f"{self.algorithm} ({self.source})"]
        lines += [f"  {'pass' if c.passed else 'FAIL'}  {c.name}: {c.detail}" for c in self.checks]
        speed = "not measured (learning or scoring failed)"
        if self.learn_one_ms is not None and self.score_ms is not None:
            speed = f"learn_one {self.learn_one_ms:.3f} ms, score {self.score_ms:.3f} ms per call"
        failed = sum(not c.passed for c in self.checks)
        verdict = "all checks pass" if not failed else f"{failed} of {len(self.checks)} fail"
        return "\n".join([*lines, f"  speed: {speed} ({N_ITEMS} items)", verdict])


def check_algorithm(cls: type[Recommender]) -> Report:
    """Run every contract check on `cls` (a registered or adapted algorithm class)."""
    report = Report(cls.name, getattr(cls, "source", "built-in"))
    for name, check in CHECKS:
        try:
            passed, detail = check(cls)
        except (RecsysError, Exception) as error:  # the algorithm's failure fails this check
            passed, detail = False, f"raised {str(error) or type(error).__name__}"
        report.checks.append(Check(name, bool(passed), detail))
    with contextlib.suppress(Exception):  # already failed above: the report says so
        report.learn_one_ms, report.score_ms = _speed(cls)
    return report


def _fitted(cls: type[Recommender], seed: int = 0) -> Recommender:
    model = cls(catalog=CATALOG, seed=seed)
    model.fit(planted_events(), CATALOG)
    return model


HISTORY_END = 36 * 23 * 60.0  # the planted world's last timestamp: 23 events per user


def _event(user: str, item: int, kind: str = "like", seq: int = 10_000) -> Event:
    history_end = HISTORY_END
    return Event(user, item, kind, None, ts=history_end + (seq - 9_999) * 60.0, seq=seq)


def _learned(model: Recommender, user: str) -> np.ndarray:
    """What the contract compares: scores, or an explorer's learned estimates."""
    if not model.explores:
        return model.score(user)
    return np.array([next(iter(model.explain(user, i).parts.values())) for i in range(N_ITEMS)])


def _planted(cls: type[Recommender]) -> tuple[bool, str]:
    model = _fitted(cls)
    items, scores = model.recommend("u0", 5)
    if len(items) != 5 or np.any(np.diff(scores) > 0):
        return False, f"recommend('u0', 5) gave {len(items)} items, or not best first"
    if set(items.tolist()) & set(model.seen("u0")):
        return False, "recommended items the user already has"
    share = float(np.isin(np.argsort(-_learned(model, "u0"))[:5], BLOCK_A).mean())
    if not model.explores:
        share = float(np.isin(items, BLOCK_A).mean())
    if model.personalized and not model.explores:
        other = float(np.isin(model.recommend("u30", 5)[0], BLOCK_B).mean())
        ok = share >= 0.8 and other >= 0.8
        return ok, f"{share:.0%} of a group-A fan's top 5 from A, {other:.0%} of a B fan's from B"
    return share >= 0.8, f"{share:.0%} of a group-A fan's top 5 from A (80% needed)"


def _unknown(cls: type[Recommender]) -> tuple[bool, str]:
    model = _fitted(cls)
    scores = model.score("stranger")
    if scores.shape != (N_ITEMS,) or not np.isfinite(scores).all():
        return False, "a stranger's scores are not one finite number per item"
    items, _ = model.recommend("stranger", 7)
    if len(set(items.tolist())) != 7 or not model.explain("stranger", int(items[0])).reason:
        return False, "a stranger does not get 7 distinct explained items"
    cold = model.score("u0", np.array([N_ITEMS - 1]))
    if not np.isfinite(cold).all() or not model.explain("u0", N_ITEMS - 1).reason:
        return False, "an item scores NaN or has no reason"
    return True, "a stranger gets a full ranking and a reason; every item a finite score"


def _config(cls: type[Recommender]) -> tuple[bool, str]:
    config = cls.config_class()
    if cls.config_class.from_dict(config.to_dict()) != config:
        return False, "to_dict then from_dict gives another config"
    try:
        cls.config_class.from_dict({"no_such_knob": 1})
    except RecsysError:
        pass
    else:
        return False, "an unknown parameter was accepted"
    bounds = cls.config_class.bounds()
    numeric = [b for b in bounds if b["type"] in ("int", "float")]
    if numeric:
        try:
            cls.config_class.from_dict({numeric[0]["name"]: numeric[0]["high"] * 10 + 1})
        except RecsysError:
            pass
        else:
            return False, f"{numeric[0]['name']} above its bound was accepted"
    if not all(b["help"] for b in bounds):
        return False, "a parameter has no help text"
    return True, f"{len(bounds)} parameter{'s' if len(bounds) != 1 else ''}, bounds enforced"


def _seeded(cls: type[Recommender]) -> tuple[bool, str]:
    a, b = _fitted(cls, seed=3), _fitted(cls, seed=3)
    for user in ("u0", "u30", "stranger"):
        if not np.array_equal(a.score(user), b.score(user)):
            return False, f"two fits with seed 3 score {user} differently"
    return True, "two fits with one seed score every user identically"


def _state(cls: type[Recommender]) -> tuple[bool, str]:
    model = _fitted(cls)
    model.learn_one(_event("newcomer", 3))
    state = model.state()
    copy = cls(model.config, catalog=CATALOG, seed=model.seed)
    copy.load_state(state)
    for user in ("u0", "u30", "newcomer", "stranger"):
        if not np.array_equal(model.score(user), copy.score(user)):
            return False, f"after a save and load, {user}'s scores differ"
    for m in (model, copy):
        m.learn_one(_event("newcomer", 5, seq=10_001))
        m.learn_one(_event("u0", 25, "dislike", seq=10_002))
    if not all(np.array_equal(model.score(u), copy.score(u)) for u in ("u0", "newcomer")):
        return False, "a loaded copy learns differently from the original"
    return True, f"{len(state)} arrays; a loaded copy scores and learns identically"


def _like(cls: type[Recommender]) -> tuple[bool, str]:
    model = _fitted(cls)
    for offset, item in enumerate([*BLOCK_A[10:15], *BLOCK_B[10:15]]):
        model.learn_one(_event("mixed", int(item), seq=10_000 + offset))
    before = _learned(model, "mixed")
    model.learn_one(_event("mixed", 0, seq=10_020))
    model.learn_one(_event("mixed", 1, seq=10_021))
    after = _learned(model, "mixed")
    if not model.personalized or model.explores:
        ok = after[0] > before[0] and after[1] > before[1]
        return ok, f"the liked items' estimates moved by {after[0] - before[0]:+.3g}"
    neighbours, others = np.setdiff1d(BLOCK_A, [0, 1, *BLOCK_A[10:15]]), BLOCK_B[:10]
    gap = (after[neighbours].mean() - after[others].mean()) - (
        before[neighbours].mean() - before[others].mean()
    )
    return gap > 0.01 * before.std(), f"the liked items' block rose by {gap:+.3g} over the other"


def _dislike(cls: type[Recommender]) -> tuple[bool, str]:
    model = _fitted(cls)
    before = _learned(model, "u0")
    model.learn_one(_event("u0", 25, "dislike"))
    after = _learned(model, "u0")
    item, block = after[25] - before[25], after[BLOCK_B].mean() - before[BLOCK_B].mean()
    return item < 0 or block < 0, f"the item moved {item:+.3g}, its block {block:+.3g}"


def _speed(cls: type[Recommender]) -> tuple[float, float]:
    model = _fitted(cls)
    started = time.perf_counter()
    for i in range(SPEED_CALLS):
        model.learn_one(_event(f"s{i % 7}", i % N_ITEMS, seq=20_000 + i))
    learn = (time.perf_counter() - started) * 1000 / SPEED_CALLS
    started = time.perf_counter()
    for i in range(SPEED_CALLS):
        model.score(f"u{i % 36}")
    return learn, (time.perf_counter() - started) * 1000 / SPEED_CALLS


CHECKS: tuple[tuple[str, Callable[[type[Recommender]], tuple[bool, str]]], ...] = (
    ("planted answer recovered", _planted),
    ("unknown user and item", _unknown),
    ("config round trip", _config),
    ("same seed, same ranking", _seeded),
    ("state round trip", _state),
    ("a like raises the liked item's neighbours", _like),
    ("a dislike lowers the item or its neighbours", _dislike),
)
