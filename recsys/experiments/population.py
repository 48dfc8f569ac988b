"""Simulated people for a run, as many as asked: the world's own, then fresh draws from the
population model the world came from.

Up to the world's own count a run samples its simulated people (as it always did). Past it, a
run takes all of them and draws the rest: a persona picked with the world's weights, then a
taste around it as the world drew its people (`recsys.world.TASTE_SPREAD`); for an imported
lab, a Gaussian per persona fitted to the semi-synthetic tastes of its members. A drawn person
has no history, so the arms serve them the list of a world person of the same persona (their
*look-alike*, drawn at random): a personalised arm knows them as well as it knows their kind
of person, and ranking costs the world's size, not the sample's. A persona with no member in
the world leaves its people newcomers (the arm's list for a new user).

Drawn person i of seed s is the same person whatever the sample's size (`pop-s-i`, drawn in
chunks from `[s, 31, chunk]`), so a run is reproducible from its seed and its people can be
recreated from their ids (off-policy evaluation reads their truth back). They are not users of
the lab: `simulate(..., keep_people=True)` adds them to the users table (kind `drawn`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.errors import RecsysError
from recsys.world import QUALITY_SPREAD, TASTE_SPREAD

MAX_PEOPLE = 1_000_000
MAX_IMPRESSIONS = 20_000_000  # about 3 GB of impression rows on the way to the table
CHUNK = 4096  # drawn people per random stream: person i does not depend on the sample's size
NEWCOMER = "\x00newcomer"  # ranked like any user id no model has seen
_DRAWN_ID = re.compile(r"pop-(\d+)-(\d+)")


@dataclass(frozen=True)
class People:
    """N simulated people of one run.

    `user_ids` (N,), `personas` (N,), `tastes` (N, dims + 1): who they are. `known` lists the
    ids the arms rank (the world's people in the sample, and NEWCOMER when someone has no
    look-alike); `rows` (N,) is the row of `known` each person is served as. `drawn` counts the
    people beyond the world's own. Memory is linear in N: no (people, items) array here."""

    user_ids: list[str]
    personas: list[str]
    tastes: np.ndarray
    known: list[str]
    rows: np.ndarray
    drawn: int

    def __len__(self) -> int:
        return len(self.user_ids)

    def served(self, lists: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Each person's (items, scores), (N, k), from the lists ranked for `known`."""
        return lists[0][self.rows], lists[1][self.rows]


@dataclass(frozen=True)
class Model:
    """The population model: persona names, weights (P,), centres and spreads (P, dims + 1),
    and the world's people with their hidden taste (`user_id`, `persona`, `taste`)."""

    names: list[str]
    weights: np.ndarray
    centres: np.ndarray
    spreads: np.ndarray
    people: pd.DataFrame


def population_model(store) -> Model:
    """The world's population model, read from the store (RecsysError if it has no people)."""
    people = store.experiment_log.simulated_people()
    if people.empty:
        raise RecsysError("this lab has no simulated people to draw from")
    tastes = np.stack(people["taste"].to_numpy())
    personas = store.personas()
    if store.meta().get("world") == "dataset" or personas.empty:
        # Semi-synthetic: a Gaussian per persona over its members' fitted tastes.
        groups = people.groupby("persona", sort=True).indices
        names = list(groups)
        members = [tastes[groups[n]] for n in names]
        weights = np.array([len(m) for m in members], dtype=float)
        centres = np.stack([m.mean(axis=0) for m in members])
        spreads = np.stack([m.std(axis=0) for m in members])
    else:  # generated: the pack's personas, uniformly, as recsys.world._population draws them
        names = personas["name"].tolist()
        centres = np.stack(personas["taste"].to_numpy())
        weights = np.ones(len(names))
        spreads = np.full(centres.shape, TASTE_SPREAD)
        spreads[:, -1] = TASTE_SPREAD * QUALITY_SPREAD
    return Model(names, weights / weights.sum(), centres, spreads, people)


def check_size(users: object, sessions: int, slate: int, low: int = 1) -> int:
    """`users` as an int when it is a whole number from `low` to MAX_PEOPLE whose impressions
    (users x sessions x slate) stay within MAX_IMPRESSIONS; RecsysError otherwise."""
    if isinstance(users, bool) or not isinstance(users, int | np.integer):
        raise RecsysError(
            f"users must be a whole number from {low} to {MAX_PEOPLE:,}, got {users!r}"
        )
    if not low <= users <= MAX_PEOPLE:
        raise RecsysError(f"users must be from {low} to {MAX_PEOPLE:,}, got {users:,}")
    if users * sessions * slate > MAX_IMPRESSIONS:
        raise RecsysError(
            f"{users:,} users x {sessions} sessions x {slate} items is "
            f"{users * sessions * slate:,} impressions; a run holds at most {MAX_IMPRESSIONS:,} "
            "(use fewer sessions or a shorter list)"
        )
    return int(users)


def sample(store, n: int, rng: np.random.Generator, seed: int) -> People:
    """`n` people: a sample of the world's own without replacement (drawn with `rng`) when
    there are enough, else all of them and `n - W` drawn ones of `seed` (`rng` untouched)."""
    model = population_model(store)
    own = model.people
    if n <= len(own):
        picked = own.iloc[np.sort(rng.choice(len(own), size=n, replace=False))]
        ids = picked["user_id"].tolist()
        tastes = np.stack(picked["taste"].to_numpy())
        return People(ids, picked["persona"].tolist(), tastes, ids, np.arange(n), 0)
    return _with_drawn(model, seed, np.arange(n - len(own)))


def people_for(store, user_ids: list[str]) -> People | None:
    """The people behind `user_ids` (the world's own or drawn ones, recreated from their ids),
    in that order; None when an id is neither (e.g. a visitor of a live experiment)."""
    model = population_model(store)
    own = model.people.set_index("user_id")
    drawn: list[tuple[int, int, int]] = []  # (position, seed, index)
    for position, user in enumerate(user_ids):
        match = _DRAWN_ID.fullmatch(user)
        if user not in own.index:
            if match is None:
                return None
            drawn.append((position, int(match[1]), int(match[2]) - 1))
    mine = [u for u in user_ids if u in own.index]
    tastes = np.empty((len(user_ids), model.centres.shape[1]))
    personas: list[str] = [""] * len(user_ids)
    served: list[str] = list(user_ids)
    for position, user in enumerate(user_ids):
        if user in own.index:
            tastes[position] = own.at[user, "taste"]
            personas[position] = own.at[user, "persona"]
    for seed in {s for _, s, _ in drawn}:
        mine_drawn = [(p, i) for p, s, i in drawn if s == seed]
        made = _with_drawn(model, seed, np.array([i for _, i in mine_drawn]), own_first=False)
        for row, (position, _) in enumerate(mine_drawn):
            tastes[position], personas[position] = made.tastes[row], made.personas[row]
            served[position] = made.known[made.rows[row]]
    known = sorted(set(served) | set(mine))
    index = {u: r for r, u in enumerate(known)}
    rows = np.array([index[u] for u in served], dtype=np.int64)
    return People(list(user_ids), personas, tastes, known, rows, len(drawn))


def _with_drawn(model: Model, seed: int, indices: np.ndarray, own_first: bool = True) -> People:
    """The world's people (when `own_first`) followed by drawn people `indices` of `seed`."""
    dims = model.centres.shape[1]
    members = model.people.groupby("persona", sort=True).indices
    picks = np.empty(len(indices), dtype=np.int64)
    noise = np.empty((len(indices), dims))
    lookalike = np.empty(len(indices))
    for chunk in np.unique(indices // CHUNK):
        rng = np.random.default_rng([seed, 31, int(chunk)])
        chunk_picks = rng.choice(len(model.names), size=CHUNK, p=model.weights)
        chunk_noise = rng.standard_normal((CHUNK, dims))
        chunk_lookalike = rng.random(CHUNK)
        here = np.flatnonzero(indices // CHUNK == chunk)
        offset = indices[here] % CHUNK
        picks[here], noise[here] = chunk_picks[offset], chunk_noise[offset]
        lookalike[here] = chunk_lookalike[offset]
    tastes = model.centres[picks] + model.spreads[picks] * noise
    own_ids = model.people["user_id"].tolist()
    # Each persona's members as rows of the world's people; a persona without any: newcomers.
    newcomer = len(own_ids)
    rows = np.full(len(indices), newcomer, dtype=np.int64)
    for p, name in enumerate(model.names):
        group = members.get(name)
        chosen = picks == p
        if group is not None and chosen.any():
            rows[chosen] = group[(lookalike[chosen] * len(group)).astype(np.int64)]
    known = [*own_ids, NEWCOMER]
    ids = [f"pop-{seed}-{i + 1}" for i in indices.tolist()]
    personas = [model.names[p] for p in picks.tolist()]
    if not own_first:
        return People(ids, personas, tastes, known, rows, len(ids))
    own_tastes = np.stack(model.people["taste"].to_numpy())
    return People(
        [*own_ids, *ids],
        [*model.people["persona"].tolist(), *personas],
        np.vstack([own_tastes, tastes]),
        known,
        np.concatenate([np.arange(len(own_ids)), rows]),
        len(ids),
    )


def kept_people(people: People, created_seq: int) -> pd.DataFrame:
    """The drawn people as rows of the users table (kind `drawn`), for `keep_people`."""
    start = len(people) - people.drawn
    return pd.DataFrame(
        {
            "user_id": people.user_ids[start:],
            "kind": "drawn",
            "persona": people.personas[start:],
            "taste": [t.tolist() for t in people.tastes[start:]],
            "created_seq": np.int64(created_seq),
        }
    )
