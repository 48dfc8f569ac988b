"""Synthetic worlds: a catalog from a domain pack, personas with a hidden taste, and a history.

A world is a pure function of (pack, seed, sizes): the same arguments give the same items and
events byte for byte. Each item has hidden coordinates in a taste space (its genres plus two
axes such as arthouse-ness and recency) and a hidden quality; each persona and simulated user
has a hidden taste vector over the same space. Their dot product is the true utility, which the
choice model (`recsys.choice`) turns into the history's behaviour. The algorithms never see it:
it is the ground truth that lets the lab measure what no log can (true precision, regret, the
right A/B winner).

>>> world = generate_world("destinations", seed=7, n_users=20, sessions_per_user=5)
>>> world.items["title"].is_unique and len(world.items) >= 300
True
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.choice import ChoiceModel
from recsys.errors import RecsysError

PACKS_DIR = Path(__file__).resolve().parent.parent / "data" / "packs"
PACKS = ("movies", "destinations")
DEFAULT_PACK, DEFAULT_SEED = "movies", 42
EPOCH = "2026-09-01T00:00:00"  # the lab clock's zero; event ts are seconds after it
DAY = 86400.0


def load_pack(name: str) -> dict:
    if name not in PACKS:
        raise RecsysError(f"unknown world {name!r}; choose one of {', '.join(PACKS)}")
    return json.loads((PACKS_DIR / f"{name}.json").read_text(encoding="utf-8"))


@dataclass
class World:
    """A generated world, as the frames the store writes."""

    meta: dict[str, str]
    items: pd.DataFrame
    personas: pd.DataFrame
    users: pd.DataFrame
    events: pd.DataFrame
    holdout: pd.DataFrame  # events set aside before the log starts: never trained on


HOLDOUT_SHARE = 0.1
HOLDOUT_MIN_ITEMS = 10
# A simulated person's taste: their persona's plus normal noise of this spread (the quality
# weight's spread is QUALITY_SPREAD times smaller); recsys.experiments.population draws more.
TASTE_SPREAD, QUALITY_SPREAD = 0.5, 0.3


def generate_world(
    pack: str = DEFAULT_PACK,
    seed: int = DEFAULT_SEED,
    *,
    n_items: int | None = None,
    n_users: int = 400,
    sessions_per_user: int = 60,
    days: float = 60.0,
    slate_size: int = 10,
    choice: ChoiceModel | None = None,
    holdout_share: float = HOLDOUT_SHARE,
) -> World:
    """The world of `pack` for `seed`: items (movies default to 1,600; destinations has a fixed
    count), the pack's personas, `n_users` simulated people plus the pack's demo users, and a
    history of about `sessions_per_user` sessions each over `days` days (ts in seconds after
    EPOCH), each session a slate of `slate_size` items played through `choice`. A
    `holdout_share` of the (user, item) pairs is set aside (`set_aside`).

    Raises RecsysError for an unknown pack or a destinations `n_items` other than its count.
    """
    spec = load_pack(pack)
    rng = np.random.default_rng(seed)
    if pack == "movies":
        items, genres = _movie_catalog(spec, rng, n_items or 1600)
    else:
        items, genres = _destination_catalog(spec, rng, n_items)
    axes = spec["axes"]
    personas = _personas(spec, genres, axes)
    users = _population(spec, personas, rng, n_users)
    features = np.stack(items["features"].to_numpy())
    quality = items["quality"].to_numpy()
    events = _history(
        users, features, quality, rng, sessions_per_user, days, slate_size, choice or ChoiceModel()
    )
    events, holdout = set_aside(events, holdout_share, seed)
    first_seq = events.groupby("user_id", sort=False)["seq"].min()
    users["created_seq"] = users["user_id"].map(first_seq).fillna(0).astype("int64")
    meta = {
        "world": pack,
        "label": spec["label"],
        "seed": str(seed),
        "epoch": EPOCH,
        "dimensions": json.dumps([*genres, *axes, "quality"]),
        "history_through_seq": str(int(events["seq"].max()) if len(events) else 0),
        # What regenerates this world (a scenario saves it); the choice model is the default.
        "sizes": json.dumps(
            {
                "n_items": n_items,
                "n_users": n_users,
                "sessions_per_user": sessions_per_user,
                "days": days,
                "slate_size": slate_size,
                "holdout_share": holdout_share,
            }
        ),
    }
    return World(meta, items, personas, users, events, holdout)


def set_aside(events: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Move a `share` of the (user, item) pairs of people with HOLDOUT_MIN_ITEMS items or more,
    with all their events, out of the history into the fixed holdout every version is measured
    on and nobody trains on. Returns (the kept events renumbered from seq 1, the holdout)."""
    if not share or events.empty:
        return events, events.iloc[:0].drop(columns="seq")
    # Pairs numbered in pd.unique's order from integer codes (strings: 30 s at 25M events).
    users = pd.factorize(events["user_id"].to_numpy())[0].astype(np.int64)
    pair = pd.factorize(users * (1 << 32) + events["item_id"].to_numpy(np.int64))[0]
    chosen = np.random.default_rng([seed, 7]).random(int(pair.max()) + 1) < share
    first = np.unique(pair, return_index=True)[1]  # an event per pair: its user's item count
    held = chosen[pair] & (np.bincount(users[first])[users] >= HOLDOUT_MIN_ITEMS)
    holdout = events[held].drop(columns="seq").reset_index(drop=True)
    kept = events[~held].reset_index(drop=True)
    kept["seq"] = np.arange(1, len(kept) + 1, dtype=np.int64)
    return kept, holdout


def _genre_vector(genres: list[str], all_genres: list[str]) -> np.ndarray:
    vector = np.zeros(len(all_genres))
    vector[[all_genres.index(g) for g in genres]] = 1.0 / np.sqrt(len(genres))
    return vector


def _items_frame(titles, genre_lists, tags, years, regions, axis1, axis2, genres, rng):
    n = len(titles)
    features = [
        np.concatenate([_genre_vector(g, genres), [a1, a2]])
        for g, a1, a2 in zip(genre_lists, axis1, axis2, strict=True)
    ]
    return pd.DataFrame(
        {
            "item_id": np.arange(n, dtype=np.int32),
            "title": titles,
            "genres": genre_lists,
            "tags": tags,
            "year": pd.array(years, dtype="Int32"),
            "region": regions,
            "quality": rng.normal(0.0, 1.0, n),
            "features": features,
        }
    )


def _movie_catalog(spec: dict, rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, list]:
    genre_specs = spec["genres"]
    genres = list(genre_specs)
    share = np.array([genre_specs[g]["share"] for g in genres])
    primary = rng.choice(len(genres), size=n, p=share / share.sum())
    titles, genre_lists, tags, years, arthouse = [], [], [], [], []
    taken: set[str] = set()
    for p in primary.tolist():
        name = genres[p]
        g = genre_specs[name]
        extra = [r for r in g["related"] if rng.random() < 0.3][:2]
        genre_lists.append([name, *extra])
        pool = sorted(set(g["tags"]).union(*(genre_specs[r]["tags"] for r in extra)))
        tags.append(sorted(rng.choice(pool, size=min(3, len(pool)), replace=False).tolist()))
        age = rng.exponential(16.0)
        years.append(
            int(
                np.clip(
                    round(g.get("median_year", 2004) + 8 - age), spec["years"][0], spec["years"][1]
                )
            )
        )
        arthouse.append(g["arthouse"] + rng.normal(0.0, 0.5))
        titles.append(_unique_title(spec, g, rng, taken))
    titles = _with_articles(titles)
    recent = (np.array(years) - 1995.0) / 20.0
    frame = _items_frame(
        titles, genre_lists, tags, years, [None] * n, arthouse, recent, genres, rng
    )
    return frame, genres


def _unique_title(spec: dict, genre: dict, rng: np.random.Generator, taken: set[str]) -> str:
    for _ in range(30):
        nouns = rng.choice(genre["nouns"], size=2, replace=False)
        title = str(rng.choice(spec["templates"])).format(
            adj=rng.choice(genre["adjectives"]), noun=nouns[0], noun2=nouns[1]
        )
        if title not in taken:
            break
    while title in taken:  # a sequel: "Neon Drift II", "Neon Drift: Origins", then numbered
        sequel = str(rng.choice(spec["sequels"]))
        candidate = f"{title} {sequel}" if sequel in ("II", "III") else f"{title}: {sequel}"
        title = candidate if candidate not in taken else f"{title} {len(taken) % 97 + 4}"
    taken.add(title)
    return title


# "A {adj} {noun}" as a person would title it: "An" before a vowel sound, "The" before a
# superlative or an ordinal, no article before a plural or a quantity ("Maximum Payback").
_AN = re.compile(r"^(?:[AEIO]|U(?!ni|se|su))")
_THE = frozenset({"Best", "Last", "Final", "First", "Second", "Seventh", "Twelfth"})
_BARE = frozenset({"Maximum", "Total", "Zero", "Super", "Hyper", "Double"})


def _with_articles(titles: list[str]) -> list[str]:
    """The titles with their leading "A" made to agree with the words after it. Applied after
    every title is drawn, so the random stream (and so the world) is the same as without it;
    a fix that would repeat another title keeps an article that does not."""
    final: list[str] = []
    used = set(titles)
    for title in titles:
        words = title.split(" ")
        if words[0] != "A" or len(words) < 3:
            final.append(title)
            continue
        rest, adjective, noun = " ".join(words[1:]), words[1], words[-1]
        plural = noun.endswith("s") and not noun.endswith(("ss", "us", "as"))
        if adjective in _THE:
            options = [f"The {rest}", rest]
        elif adjective in _BARE or plural:
            options = [rest, f"The {rest}"]
        elif _AN.match(adjective):
            options = [f"An {rest}"]
        else:  # "A Silent Fury" is right as it is
            final.append(title)
            continue
        # Every title drawn is in `used` (and unique), so keeping one's own is always safe.
        sequels = [f"{options[0]} II", f"{options[0]} III"]  # as _unique_title does
        fixed = next((o for o in [*options, f"The {rest}", *sequels] if o not in used), title)
        used.add(fixed)
        final.append(fixed)
    return final


def _destination_catalog(
    spec: dict, rng: np.random.Generator, n: int | None
) -> tuple[pd.DataFrame, list]:
    categories = spec["categories"]
    genres = list(categories)
    titles, genre_lists, tags, regions, offbeat = [], [], [], [], []
    for place, country, kinds in spec["places"]:
        for kind in kinds:
            c = categories[kind]
            others = [k for k in kinds if k != kind]
            extra = [others[rng.integers(len(others))]] if others and rng.random() < 0.5 else []
            genre_lists.append([kind, *extra])
            pool = sorted(set(c["tags"]).union(*(categories[e]["tags"] for e in extra)))
            tags.append(sorted(rng.choice(pool, size=3, replace=False).tolist()))
            titles.append(str(rng.choice(c["titles"])).format(place=place))
            regions.append(country)
            offbeat.append(c["offbeat"] + rng.normal(0.0, 0.5))
    count = len(titles)
    if n is not None and n != count:
        raise RecsysError(f"the destinations world has exactly {count} items")
    luxury = rng.normal(0.0, 1.0, count)
    frame = _items_frame(
        titles, genre_lists, tags, [None] * count, regions, offbeat, luxury, genres, rng
    )
    return frame, genres


def _personas(spec: dict, genres: list[str], axes: list[str]) -> pd.DataFrame:
    rows = []
    for p in spec["personas"]:
        taste = [p["taste"].get(g, 0.0) for g in genres] + [p[axes[0]], p[axes[1]], p["quality"]]
        rows.append(
            {
                "name": p["name"],
                "label": p["label"],
                "description": p["description"],
                "taste": [float(x) for x in taste],
            }
        )
    return pd.DataFrame(rows).sort_values("name", kind="stable").reset_index(drop=True)


def _population(
    spec: dict, personas: pd.DataFrame, rng: np.random.Generator, n_users: int
) -> pd.DataFrame:
    """Simulated people: noisy copies of personas; demo users are their persona exactly."""
    tastes = np.stack(personas["taste"].to_numpy())
    names = personas["name"].tolist()
    picks = rng.integers(len(names), size=n_users)
    noise = rng.normal(0.0, TASTE_SPREAD, (n_users, tastes.shape[1]))
    noise[:, -1] *= QUALITY_SPREAD
    sim = tastes[picks] + noise
    rows = [
        {
            "user_id": f"sim-{i + 1:04d}",
            "kind": "simulated",
            "persona": names[p],
            "taste": sim[i].tolist(),
        }
        for i, p in enumerate(picks.tolist())
    ]
    for user, persona in spec["demo_users"].items():
        rows.append(
            {
                "user_id": user,
                "kind": "demo",
                "persona": persona,
                "taste": tastes[names.index(persona)].tolist(),
            }
        )
    return pd.DataFrame(rows)


def _history(
    users: pd.DataFrame,
    features: np.ndarray,
    quality: np.ndarray,
    rng: np.random.Generator,
    sessions_per_user: int,
    days: float,
    slate_size: int,
    choice: ChoiceModel,
) -> pd.DataFrame:
    """Browsing sessions: a slate drawn by exposure, a logit choice, then reactions."""
    n_items = len(quality)
    tastes = np.stack(users["taste"].to_numpy())
    demo = (users["kind"] == "demo").to_numpy()
    per_user = np.maximum(rng.poisson(sessions_per_user, len(users)), 3)
    per_user[demo] = 8
    session_user = np.repeat(np.arange(len(users)), per_user)
    n_sessions = len(session_user)
    start = np.sort(rng.uniform(0.0, days * DAY, n_sessions))
    session_user = session_user[rng.permutation(n_sessions)]
    # A long-tailed exposure: a few items are everywhere, most are rarely shown.
    exposure = rng.lognormal(0.0, 1.0, n_items) * np.exp(0.3 * quality)
    slates = rng.choice(n_items, size=(n_sessions, slate_size), p=exposure / exposure.sum())
    utility = np.empty(slates.shape)
    for lo in range(0, n_sessions, 4096):  # chunks keep memory flat for big worlds
        hi = min(lo + 4096, n_sessions)
        t = tastes[session_user[lo:hi]]
        f = features[slates[lo:hi]]
        utility[lo:hi] = np.einsum("sk,snk->sn", t[:, :-1], f) + t[:, -1:] * quality[slates[lo:hi]]
    picked = choice.choose(utility, rng)
    clicked = picked >= 0
    rows = np.flatnonzero(clicked)
    item = slates[rows, picked[rows]]
    react = choice.reactions(utility[rows, picked[rows]], rng)
    user_ids = users["user_id"].to_numpy()
    parts = [_events_frame(user_ids[session_user[rows]], item, start[rows] + 5.0, "view")]
    offsets = {"click": 20.0, "like": 400.0, "dislike": 400.0, "favorite": 410.0}
    for kind, offset in offsets.items():
        mask = react[kind]
        parts.append(
            _events_frame(
                user_ids[session_user[rows[mask]]], item[mask], start[rows[mask]] + offset, kind
            )
        )
    rated = ~np.isnan(react["rating"])
    parts.append(
        _events_frame(
            user_ids[session_user[rows[rated]]],
            item[rated],
            start[rows[rated]] + 420.0,
            "rating",
            react["rating"][rated],
        )
    )
    skipped = np.flatnonzero(~clicked & (rng.random(n_sessions) < 0.3))
    parts.append(
        _events_frame(
            user_ids[session_user[skipped]], slates[skipped, 0], start[skipped] + 3.0, "skip"
        )
    )
    events = pd.concat(parts, ignore_index=True)
    events = events.sort_values(["ts", "user_id", "kind"], kind="stable").reset_index(drop=True)
    events.insert(0, "seq", np.arange(1, len(events) + 1, dtype=np.int64))
    return events[["seq", "ts", "user_id", "item_id", "kind", "value", "context", "source"]]


def _events_frame(users, items, ts, kind, values=None) -> pd.DataFrame:
    n = len(items)
    return pd.DataFrame(
        {
            "ts": np.round(ts, 3),
            "user_id": users,
            "item_id": items.astype(np.int32),
            "kind": kind,
            "value": values if values is not None else np.full(n, np.nan),
            "context": pd.Series([None] * n, dtype=object),
            "source": "history",
        }
    )
