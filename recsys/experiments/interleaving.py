"""Team-draft interleaving: compare two rankers on the same people with one mixed list each.

Team-draft interleaving (Radlinski, Kurup & Joachims, "How does clickthrough data reflect
retrieval quality?", CIKM 2008) merges the lists of rankers A and B like two captains picking
teams: the team with fewer picks so far picks next (a coin flip on ties), taking its own
highest-ranked item that is not yet in the list. Each shown item remembers its team; a click
credits that team, and the ranker whose team got more clicks wins the session. Because every
person sees both rankers at once, interleaving needs far fewer sessions than an A/B test to tell
two rankers apart.

Team draft does not make identical rankers tie: each item still goes to a random team, so the
clicks split between A and B at random. The test stays fair (half the decisive sessions in
expectation), which is what `summarise`'s sign test checks.

>>> rng = np.random.default_rng(0)
>>> shown, teams = team_draft([1, 2, 3], [3, 4, 5], k=4, rng=rng)
>>> sorted(shown) == sorted(set(shown)) and len(shown) == 4
True
>>> credit([0, 1, 0], clicked_positions=[0, 2])
1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from recsys.choice import ChoiceModel, Utilities
from recsys.errors import RecsysError

TEAM_A, TEAM_B = 0, 1


def team_draft(
    a: Sequence[int], b: Sequence[int], k: int, rng: np.random.Generator
) -> tuple[list[int], list[int]]:
    """Interleave rankings `a` and `b` (best first) into at most `k` items, without duplicates.

    Returns the list and a parallel list of teams (0 = A, 1 = B). When one ranker runs out of
    fresh items the other keeps picking, so the list stops short of `k` only once both are
    exhausted (the paper stops as soon as either is; filling up keeps slates full).
    """
    if not isinstance(k, int | np.integer) or k < 0:
        raise RecsysError(f"An interleaved list needs a whole number k >= 0, not {k!r}.")
    width = max(len(a), len(b), 1)
    shown, teams = _team_draft_rows(_padded(a, width), _padded(b, width), int(k), rng)
    keep = shown[0] >= 0
    return shown[0, keep].tolist(), teams[0, keep].tolist()


def _padded(ranking: Sequence[int], width: int) -> np.ndarray:
    values = np.asarray(ranking, dtype=np.int64).reshape(-1)
    if (values < 0).any():
        raise RecsysError("Rankings hold item indices, which are whole numbers >= 0.")
    return np.concatenate([values, np.full(width - len(values), -1)])[None, :]


def _team_draft_rows(
    a: np.ndarray, b: np.ndarray, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Team draft for many sessions at once: row i interleaves a[i] and b[i].

    The loop runs over the k positions, never over sessions. Entries of -1 in `a` and `b` are
    padding and never picked; -1 in the result marks a position left empty.
    """
    n = len(a)
    rows = np.arange(n)
    rankings = (a, b)
    taken = [a < 0, b < 0]
    shown = np.full((n, k), -1, dtype=np.int64)
    teams = np.full((n, k), -1, dtype=np.int64)
    picks = np.zeros((n, 2), dtype=np.int64)
    for position in range(k):
        fresh = np.stack([(~taken[TEAM_A]).any(axis=1), (~taken[TEAM_B]).any(axis=1)], axis=1)
        active = fresh.any(axis=1)
        if not active.any():
            break
        coin = (rng.random(n) < 0.5).astype(np.int64)
        team = np.where(picks[:, 0] == picks[:, 1], coin, np.argmin(picks, axis=1))
        team = np.where(fresh[rows, team], team, 1 - team)
        best = [np.argmax(~taken[t], axis=1) for t in (TEAM_A, TEAM_B)]
        item = np.where(team == TEAM_A, a[rows, best[TEAM_A]], b[rows, best[TEAM_B]])
        item = np.where(active, item, -1)
        shown[:, position] = item
        teams[:, position] = np.where(active, team, -1)
        picks[rows[active], team[active]] += 1
        for t in (TEAM_A, TEAM_B):
            taken[t] |= rankings[t] == item[:, None]
    return shown, teams


def credit(teams: Sequence[int], clicked_positions: Sequence[int]) -> int:
    """+1 if A's items got more clicks, -1 if B's did, 0 on a tie (including no clicks).

    A negative position means no click, as `ChoiceModel.choose` reports it.
    """
    clicks = [0, 0]
    for position in clicked_positions:
        if position < 0:
            continue
        if position >= len(teams):
            raise RecsysError(f"Click at position {position} of a list of {len(teams)} items.")
        clicks[teams[position]] += 1
    return int(np.sign(clicks[TEAM_A] - clicks[TEAM_B]))


@dataclass(frozen=True)
class InterleavingResult:
    """Sessions won by each ranker, and how sure we are that B is preferred.

    `preference` is the share of decisive (non-tied) sessions won by B, with a 95% Wilson
    interval [`low`, `high`]; `p_value` is the two-sided exact sign test of B's wins against A's.
    With no decisive session there is no evidence either way: preference 0.5, interval [0, 1]
    and p-value 1.
    """

    sessions: int
    wins_a: int
    wins_b: int
    ties: int
    preference: float
    low: float
    high: float
    p_value: float
    # From `simulate`: the people whose sessions A (or B) won on balance. The preference, its
    # interval and the p-value are then per person, the unit that is independent.
    users_a: int | None = None
    users_b: int | None = None


def summarise(outcomes: Sequence[int]) -> InterleavingResult:
    """Count session outcomes (+1 A won, -1 B won, 0 tie) and test whether B beats A."""
    values = np.asarray(outcomes, dtype=np.int64).reshape(-1)
    if not np.isin(values, (-1, 0, 1)).all():
        raise RecsysError("Interleaving outcomes are +1 (A won), -1 (B won) or 0 (tie).")
    wins_a, wins_b = int((values == 1).sum()), int((values == -1).sum())
    decisive = wins_a + wins_b
    if decisive == 0:
        preference, low, high, p_value = 0.5, 0.0, 1.0, 1.0
    else:
        test = stats.binomtest(wins_b, decisive, p=0.5)
        interval = test.proportion_ci(confidence_level=0.95, method="wilson")
        preference, low, high = wins_b / decisive, float(interval.low), float(interval.high)
        p_value = float(test.pvalue)
    return InterleavingResult(
        sessions=len(values),
        wins_a=wins_a,
        wins_b=wins_b,
        ties=len(values) - decisive,
        preference=preference,
        low=low,
        high=high,
        p_value=p_value,
    )


def interleaved_sessions(
    slates_a: np.ndarray,
    slates_b: np.ndarray,
    utilities: np.ndarray | Utilities,
    choice: ChoiceModel,
    sessions_per_user: int,
    seed: int,
) -> InterleavingResult:
    """Run interleaved sessions against the simulated people and summarise who won.

    `slates_a` and `slates_b` hold each ranker's top-k item indices per user (n_users rows);
    `utilities` is the (n_users, n_items) true utility. Each session draws a fresh team-draft
    list, the choice model picks at most one item from it (position bias included), and the
    pick's team wins the session; no click is a tie. Sessions are counted, but the preference
    and the sign test are over people (see `InterleavingResult`).
    """
    slates_a, slates_b = np.asarray(slates_a), np.asarray(slates_b)
    if not isinstance(utilities, Utilities):  # a block of people at a time stays so
        utilities = np.asarray(utilities, dtype=float)
    if slates_a.ndim != 2 or slates_b.ndim != 2 or len(utilities.shape) != 2:
        raise RecsysError("Slates are (users, k) arrays and utilities a (users, items) array.")
    if not len(slates_a) == len(slates_b) == len(utilities):
        raise RecsysError("Both rankers' slates and the utilities need one row per user.")
    if not isinstance(sessions_per_user, int) or sessions_per_user < 1:
        raise RecsysError(
            f"sessions_per_user must be a whole number >= 1, not {sessions_per_user}."
        )
    n_items = utilities.shape[1]
    for slates in (slates_a, slates_b):
        if slates.size and (slates.min() < 0 or slates.max() >= n_items):
            raise RecsysError(f"Slates hold item indices from 0 to {n_items - 1}.")
    rng = np.random.default_rng(seed)
    k = max(slates_a.shape[1], slates_b.shape[1])
    users = np.repeat(np.arange(len(utilities)), sessions_per_user)
    shown, teams = _team_draft_rows(slates_a[users], slates_b[users], k, rng)
    slate_utility = np.where(shown >= 0, utilities[users[:, None], shown], -np.inf)
    picked = choice.choose(slate_utility, rng)
    clicked = picked >= 0
    team = teams[np.arange(len(users)), np.where(clicked, picked, 0)]
    outcomes = np.where(clicked, np.where(team == TEAM_A, 1, -1), 0)
    # One person's sessions are not independent of each other (the same taste decides them),
    # so the test counts people: each one prefers the ranker that won more of their sessions.
    sessions = summarise(outcomes)
    people = summarise(np.sign(np.bincount(users, weights=outcomes, minlength=len(utilities))))
    return replace(
        sessions,
        preference=people.preference,
        low=people.low,
        high=people.high,
        p_value=people.p_value,
        users_a=people.wins_a,
        users_b=people.wins_b,
    )
