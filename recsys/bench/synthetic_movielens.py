"""MovieLens-format files of any size, generated from a seed, for measuring imports at scale.

There is no network for datasets, and ml-latest-small is only 100,000 ratings, so the size bench
(`recsys.bench.sizes`) writes its own `ratings.csv` (userId,movieId,rating,timestamp) and
`movies.csv` (movieId,title,genres) with MovieLens' shape: item popularity is Zipf-like (a few
titles everywhere, a long tail), activity per user is heavy-tailed with at least 20 ratings each,
ratings are half stars around 3.5 moved by the item's quality and the user's leniency, and each
user rates over a span of days. The files go to a folder the caller gives (a temporary one):
generated data is never committed.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     counts = write_movielens(folder, n_users=50, n_ratings=2_000, n_items=300, seed=1)
>>> counts == {"users": 50, "items": 300, "ratings": 2_000}
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip
MIN_PER_USER = 20  # as in every MovieLens release
FIRST_TS, LAST_TS = 820_454_400, 1_537_799_250  # 1996 to 2018, ml-latest-small's span


def write_movielens(
    folder: str | Path,
    n_users: int,
    n_ratings: int,
    n_items: int | None = None,
    seed: int = 0,
) -> dict[str, int]:
    """Write `ratings.csv` and `movies.csv` for `n_users` users and exactly `n_ratings` ratings
    (distinct (user, item) pairs) into `folder`; `n_items` defaults to a MovieLens-like
    catalog for that many ratings. Returns the counts written."""
    n_items = n_items or default_items(n_ratings)
    if n_ratings < n_users * MIN_PER_USER or n_ratings > n_users * (n_items // 4):
        raise ValueError("need n_users * 20 <= n_ratings <= n_users * n_items / 4")
    rng = np.random.default_rng([seed, n_users, n_ratings, n_items])
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    movies = _movies(rng, n_items)
    movies.to_csv(folder / "movies.csv", index=False)
    users, items = _pairs(rng, n_users, n_ratings, n_items)
    quality = rng.normal(0.0, 0.5, n_items)
    leniency = rng.normal(0.0, 0.4, n_users)
    raw = 3.5 + quality[items] + leniency[users] + rng.normal(0.0, 0.9, len(users))
    stars = np.clip(np.round(raw * 2.0) / 2.0, 0.5, 5.0)
    start = rng.uniform(FIRST_TS, LAST_TS - 400 * 86_400, n_users)
    span = rng.exponential(60.0, n_users) * 86_400
    ts = (start[users] + rng.uniform(0.0, 1.0, len(users)) * span[users]).astype(np.int64)
    ratings = pd.DataFrame(
        {
            "userId": users + 1,
            "movieId": movies["movieId"].to_numpy()[items],
            "rating": stars,
            "timestamp": ts,
        }
    )  # already in (userId, movieId) order: `_pairs` returns sorted keys, movie ids ascend
    _write_csv(ratings, folder / "ratings.csv")
    return {"users": n_users, "items": n_items, "ratings": len(ratings)}


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """`frame` as a CSV with a header through DuckDB's COPY (ratings as `4.0`, as MovieLens
    writes them): pandas' writer takes minutes for 25 million rows, DuckDB seconds."""
    import duckdb

    with duckdb.connect() as db:
        db.register("frame", frame)
        db.execute(f"COPY frame TO '{path}' (HEADER, DELIMITER ',')")


def default_items(n_ratings: int) -> int:
    """A catalog that grows like MovieLens' with its log (ml-latest-small: 9,742 items for
    100,836 ratings; ml-25m: 62,423 for 25 million)."""
    return int(min(60_000, max(2_000, 30 * n_ratings**0.5)))


def _movies(rng: np.random.Generator, n_items: int) -> pd.DataFrame:
    years = np.clip(np.round(2018 - rng.exponential(18.0, n_items)), 1902, 2018).astype(int)
    picks = rng.random((n_items, len(GENRES))) < 0.12
    picks[np.arange(n_items), rng.integers(len(GENRES), size=n_items)] = True
    names = np.array(GENRES, dtype=object)
    genres = ["|".join(names[row]) for row in picks]
    ids = np.sort(rng.choice(n_items * 3, size=n_items, replace=False)) + 1  # gaps, as in ML
    titles = [f"Film {i} ({y})" for i, y in zip(ids.tolist(), years.tolist(), strict=True)]
    return pd.DataFrame({"movieId": ids, "title": titles, "genres": genres})


def _pairs(
    rng: np.random.Generator, n_users: int, n_ratings: int, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, item) rows: per-user counts from a heavy-tailed draw (at least 20, at most
    a quarter of the catalog) summing to `n_ratings`; items drawn by Zipf-like popularity."""
    spare = n_ratings - n_users * MIN_PER_USER
    activity = rng.lognormal(0.0, 1.1, n_users) - 0.3  # ml-1m: median 96, max 2,314
    extra = rng.multinomial(spare, np.maximum(activity, 0.0) / np.maximum(activity, 0.0).sum())
    cap = n_items // 4 - MIN_PER_USER
    while (extra > cap).any():  # the heaviest users' excess goes to the others
        over = np.maximum(extra - cap, 0)
        extra -= over
        room = cap - extra
        extra += rng.multinomial(int(over.sum()), room / room.sum())
    counts = MIN_PER_USER + extra
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    popularity = np.cumsum(rng.permutation(popularity / popularity.sum()))
    # Each round draws what the users still lacking items lack, with a margin, keeps each
    # user's first distinct new items in draw order (sampling without replacement) and leaves
    # the rest: only the lacking users are drawn again, so 25 million rows take seconds.
    pieces, have = [], np.empty(0, dtype=np.int64)  # accepted keys user * n_items + item
    lacking, missing = np.arange(n_users), counts.copy()
    for round_ in range(60):
        draws = np.ceil(missing * 1.3).astype(np.int64) + 8
        users = np.repeat(lacking, draws)
        if round_ < 6:
            items = np.searchsorted(popularity, rng.random(len(users)) * popularity[-1])
        else:  # the last few of a very heavy user: from the whole catalog, or this never ends
            items = rng.integers(n_items, size=len(users))
        keys = users * n_items + np.minimum(items, n_items - 1)
        if len(have):  # drop what these users already have
            spot = np.minimum(np.searchsorted(have, keys), len(have) - 1)
            keys = keys[have[spot] != keys]
        keys = keys[np.sort(np.unique(keys, return_index=True)[1])]  # first of each, in order
        owner = keys // n_items
        order = np.argsort(owner, kind="stable")
        keys, owner = keys[order], owner[order]
        starts = np.searchsorted(owner, lacking)
        rank = np.arange(len(keys)) - np.repeat(starts, np.diff(np.append(starts, len(keys))))
        want = np.zeros(n_users, dtype=np.int64)
        want[lacking] = missing
        taken = keys[rank < want[owner]]
        pieces.append(taken)
        got = np.bincount(taken // n_items, minlength=n_users)[lacking]
        missing = missing - got
        lacking, missing = lacking[missing > 0], missing[missing > 0]
        if not len(lacking):
            break
        have = np.sort(np.concatenate(pieces))
        have = have[np.isin(have // n_items, lacking)]
    keys = np.sort(np.concatenate(pieces))
    return keys // n_items, keys % n_items
