"""Small, deterministic datasets written in each import format, with something to learn.

Every user loves one of four genres (4 to 5 stars there, 1 to 2.5 elsewhere) and meets 15 to 25
items, about 60 % of them from that genre; events are written in time order, ten minutes apart.
Tests edit the written bytes to plant a problem where they want it.

The MovieLens catalog has known oddities to check: movie ids 1, 4, 7, ... (so "10" must sort
after "7"), a title with a comma, one without a year, one with "(no genres listed)", and on the
first movie the tags "Funny" x3 (three spellings), "classic" x2, "dark" x2, "long", "quirky",
"zany" (the top five: funny, classic, dark, long, quirky). The 100k catalog has "Café Society
(1995)" in latin-1, a title without a year dated 01-Jan-1994, and an item flagged only
"unknown".
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

GENRES = ("Action", "Comedy", "Drama", "Horror")
START = 1_600_000_000  # 2020-09-13
STEP = 600
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
FIRST_MOVIE_TAGS = [
    "Funny", "funny", "FUNNY", "classic", "classic", "dark", "dark", "zany", "quirky", "long",
]  # fmt: skip


def genre_of(item: int) -> int:
    return item % len(GENRES)


def plan(n_items: int, n_users: int, seed: int) -> list[tuple[int, int, float, int]]:
    """(user, item, stars, ts) in time order; users and items are 0-based indexes."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        loved = user % len(GENRES)
        mine = [i for i in range(n_items) if genre_of(i) == loved]
        other = [i for i in range(n_items) if genre_of(i) != loved]
        n = int(rng.integers(15, 26))
        k = min(len(mine), round(n * 0.6))
        picked = [*rng.choice(mine, k, replace=False), *rng.choice(other, n - k, replace=False)]
        for item in picked:
            good = genre_of(int(item)) == loved
            stars = rng.choice([4.0, 4.5, 5.0] if good else [1.0, 1.5, 2.0, 2.5])
            rows.append((user, int(item), float(stars)))
    order = rng.permutation(len(rows))
    return [(*rows[j], START + STEP * t) for t, j in enumerate(order)]


def write_lab(folder: str | Path, n_items: int = 60, n_users: int = 40, seed: int = 0) -> Path:
    """items.csv (item_id,title,genres,tags,year,director) and interactions.csv
    (user_id,item_id,kind,value,timestamp) mixing views, clicks, likes, dislikes and ratings."""
    folder = _folder(folder)
    rng = np.random.default_rng(seed + 1)
    items = [["item_id", "title", "genres", "tags", "year", "director"]]
    for i in range(n_items):
        genre = GENRES[genre_of(i)]
        title = "Love, Actually Not" if i == 2 else f"{genre} Story {i + 1}"
        year = "" if i % 13 == 12 else str(1970 + (i * 7) % 50)
        era = "classic" if year and int(year) < 1990 else "modern"
        items.append([str(i + 1), title, genre, f"{genre.lower()}|{era}", year, f"Dir {i % 5}"])
    events = [["user_id", "item_id", "kind", "value", "timestamp"]]
    for user, item, stars, ts in plan(n_items, n_users, seed):
        good = stars >= 4
        kind = rng.choice(["rating", "like", "click", "view"] if good else ["rating", "dislike"])
        value = f"{stars:g}" if kind == "rating" else ""
        events.append([f"user{user + 1:02d}", str(item + 1), str(kind), value, str(ts)])
    _write(folder / "items.csv", items)
    _write(folder / "interactions.csv", events)
    return folder


def write_movielens(
    folder: str | Path, n_items: int = 60, n_users: int = 40, seed: int = 0, tags: bool = True
) -> Path:
    """movies.csv, ratings.csv and (unless tags=False) tags.csv as in ml-latest-small."""
    folder = _folder(folder)
    movies = [["movieId", "title", "genres"]]
    for i in range(n_items):
        genre = GENRES[genre_of(i)]
        name = "Love, Actually Not" if i == 2 else f"{genre} Film {i + 1}"
        title = "Untitled Project" if i == 4 else f"{name} ({1960 + i % 50})"
        second = f"|{GENRES[(genre_of(i) + 1) % 4]}" if i % 5 == 0 else ""
        genres = "(no genres listed)" if i == 5 else genre + second
        movies.append([movie_id(i), title, genres])
    ratings = [["userId", "movieId", "rating", "timestamp"]]
    for user, item, stars, ts in plan(n_items, n_users, seed):
        ratings.append([str(user + 1), movie_id(item), f"{stars:.1f}", str(ts)])
    _write(folder / "movies.csv", movies)
    _write(folder / "ratings.csv", ratings)
    if tags:
        rows = [["userId", "movieId", "tag", "timestamp"]]
        for n, tag in enumerate(FIRST_MOVIE_TAGS):
            rows.append([str(n % n_users + 1), movie_id(0), tag, str(START + n)])
        for i in range(4, n_items, 4):
            for user in (1, 2):
                rows.append([str(user), movie_id(i), GENRES[genre_of(i)].lower(), str(START + i)])
        _write(folder / "tags.csv", rows)
    return folder


def write_movielens_100k(
    folder: str | Path, n_items: int = 60, n_users: int = 40, seed: int = 0
) -> Path:
    """u.data (tab-separated, integer stars) and u.item (|-separated, latin-1)."""
    folder = _folder(folder)
    data = [  # whole stars, away from the middle: 4.5 -> 5, 2.5 -> 2
        f"{user + 1}\t{item + 1}\t{math.ceil(stars) if stars >= 4 else int(stars)}\t{ts}\n"
        for user, item, stars, ts in plan(n_items, n_users, seed)
    ]
    (folder / "u.data").write_text("".join(data), encoding="ascii")
    lines = []
    for i in range(n_items):
        year = 1980 + i % 20
        title = f"{GENRES[genre_of(i)]} Picture {i + 1} ({year})"
        if i == 1:
            title = "Café Society (1995)"
        if i == 3:
            title, year = "No Year Here", 1994
        flags = ["0"] * len(GENRES_100K)
        flags[0 if i == 7 else GENRES_100K.index(GENRES[genre_of(i)])] = "1"
        url = f"http://us.imdb.com/M/title-exact?{i + 1}"
        lines.append("|".join([str(i + 1), title, f"01-Jan-{year}", "", url, *flags]) + "\n")
    (folder / "u.item").write_bytes("".join(lines).encode("latin-1"))
    return folder


def movie_id(item: int) -> str:
    return str(1 + 3 * item)


def _folder(folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


# Text that a Markdown, HTML or plotly renderer would turn into something else (issue 17):
# every page and the report must show it exactly as written.
HOSTILE_TEXT = (
    "# Heading", ":red[red]", "$x^2$", "[link](http://e.com)", "<b>bold</b>", "a -- b",
    "*star*", "_under_", "`code`", "~~strike~~", "<script>alert(1)</script>", ":material/home:",
    "&amp; entity", "x -> y", "| pipe |", "www.e.com", "me@e.com",
)  # fmt: skip
HOSTILE_USER = "**bob** <i>x</i>"


def write_hostile_lab(folder: str | Path) -> Path:
    """`write_lab` with every title, tag and some genres made of HOSTILE_TEXT (the title is the
    text plus " T<n>", so each is unique) and user01 renamed HOSTILE_USER."""
    folder = write_lab(folder)
    items = list(csv.reader(io.StringIO((folder / "items.csv").read_text())))
    for i, row in enumerate(items[1:]):
        text = HOSTILE_TEXT[i % len(HOSTILE_TEXT)]
        row[1] = f"{text} T{i}"
        row[2] = text if i % 3 == 0 else row[2]
        row[3] = text
    events = list(csv.reader(io.StringIO((folder / "interactions.csv").read_text())))
    for row in events[1:]:
        row[0] = HOSTILE_USER if row[0] == "user01" else row[0]
    for name, rows in (("items.csv", items), ("interactions.csv", events)):
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        (folder / name).write_text(out.getvalue())
    return folder


def write_factors(
    folder: str | Path,
    users: dict[str, list[float]],
    items: dict[str, list[float]],
    manifest: dict,
    float_type: str = "float32",
) -> Path:
    """A factors folder as `spark-train` writes it (docs/spark.md): users.parquet (user_id,
    factors), items.parquet (item_id, factors) and manifest.json. Tests plant a problem by
    passing odd ids, vectors or manifests; a value of None in `users` or `items` writes a
    null list."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = _folder(folder)
    kind = pa.list_(pa.float32() if float_type == "float32" else pa.float64())
    for name, key, rows in (("users", "user_id", users), ("items", "item_id", items)):
        table = pa.table({key: pa.array(list(rows), pa.string()), "factors": pa.array(
            list(rows.values()), kind)})  # fmt: skip
        pq.write_table(table, out / f"{name}.parquet")
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return out
