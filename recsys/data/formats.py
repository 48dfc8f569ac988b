"""The three import formats: which files and columns each has, and how they become a dataset.

Each reader turns an `Intake`'s files into two frames, items and interactions, in the shape
`recsys.data.importer.Dataset` documents, recording every problem it finds on the way. A reader
always checks every file it can (a broken items file does not hide a bad ratings file), but it
skips the unknown-item check when the items file could not be read: every row would fail it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from recsys.data.checks import (
    duplicates,
    floats,
    ids_in,
    known,
    nonempty,
    numbers,
    on_scale,
    plain_text,
    rescale,
    shown,
    timestamps,
    users,
)
from recsys.data.reader import FileSpec, Intake
from recsys.events import KINDS

GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
SPECS: dict[str, dict[str, FileSpec]] = {
    "lab": {
        "items.csv": FileSpec(("item_id", "title"), ("genres", "tags", "year")),
        "interactions.csv": FileSpec(
            ("user_id", "item_id"), ("timestamp", "kind", "value", "rating", "holdout")
        ),
    },
    "movielens": {
        "movies.csv": FileSpec(("movieId", "title"), ("genres",)),
        "ratings.csv": FileSpec(("userId", "movieId", "rating"), ("timestamp",)),
        "tags.csv": FileSpec(("userId", "movieId", "tag"), ("timestamp",)),
    },
    "movielens-100k": {
        "u.data": FileSpec(("user_id", "item_id", "rating", "timestamp"), (), False, "\t"),
        "u.item": FileSpec(
            ("movie_id", "title", "release_date", "video_release_date", "imdb_url", *GENRES_100K),
            (),
            False,
            "|",
            "latin-1",  # GroupLens ships u.item in ISO-8859-1
        ),
    },
}
YEAR_IN_TITLE = r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$"
RELEASE_DATE = r"\d{1,2}-[A-Za-z]{3}-(\d{4})"
NO_GENRES = "(no genres listed)"
TOP_TAGS = 5

Frames = tuple[pd.DataFrame, pd.DataFrame] | None


def read_lab(intake: Intake) -> Frames:
    items = intake.table("items.csv")
    catalog = None
    if items is not None:
        _check_items(intake, "items.csv", items, "item_id")
        years = _whole_years(intake, items) if "year" in items else None
        catalog = make_items(
            items["item_id"],
            items["title"],
            _lists(items.get("genres")),
            _lists(items.get("tags")),
            years,
        )
    events = intake.table("interactions.csv")
    if events is None:
        return None
    file = "interactions.csv"
    _check_refs(intake, file, events, "user_id", "item_id", items, "items.csv", "item_id")
    ts = timestamps(intake, file, events, "timestamp")
    if "kind" in events:
        kinds, values = _kinds_and_values(intake, events)
    elif "rating" in events:
        kinds = pd.Series("rating", index=events.index, dtype="str")
        values, chose = rescale(
            intake, file, events, numbers(intake, file, events, "rating"), "rating"
        )
        if chose is not None:  # implicit feedback: a choice is a like, a pass a skip
            kinds = pd.Series(np.where(chose, "like", "skip"), index=events.index, dtype="str")
    else:
        header = ", ".join(events.attrs["header"])
        intake.add(file, None, f"missing column kind (or rating); the header has {header}")
        return None
    timed = events.assign(kind=kinds, ts=ts)[np.isfinite(ts)]
    duplicates(
        intake,
        file,
        timed,
        ["user_id", "item_id", "kind", "ts"],
        lambda r: (
            f"duplicate interaction: same user, item, kind and timestamp as line {r['first']}"
        ),
    )
    if catalog is None:
        return None
    held = _holdout_flags(intake, file, events) if "holdout" in events else None
    return catalog, make_events(events["user_id"], events["item_id"], kinds, values, ts, held)


def read_movielens(intake: Intake) -> Frames:
    movies = intake.table("movies.csv")
    catalog = None
    if movies is not None:
        _check_items(intake, "movies.csv", movies, "movieId")
        titles, years = _title_years(movies["title"])
        genres = _lists(movies.get("genres"))
        if genres is not None:  # the column is optional
            genres = [[g for g in names if g != NO_GENRES] for names in genres]
        catalog = make_items(movies["movieId"], titles, genres, None, years)
    ratings = intake.table("ratings.csv")
    events = None
    if ratings is not None:
        events = _ratings(intake, "ratings.csv", ratings, "userId", "movieId", movies, "movies.csv")
    tags = intake.table("tags.csv")
    if tags is not None:
        _check_refs(intake, "tags.csv", tags, "userId", "movieId", movies, "movies.csv", "movieId")
        plain_text(intake, "tags.csv", tags, "tag")
        if catalog is not None:
            catalog["tags"] = _top_tags(tags, catalog["external_id"])
    return None if catalog is None or events is None else (catalog, events)


def read_movielens_100k(intake: Intake) -> Frames:
    info = intake.table("u.item")
    catalog = None
    if info is not None:
        _check_items(intake, "u.item", info, "movie_id")
        flags = info[list(GENRES_100K)]
        bad = ~flags.isin(["0", "1"]).all(axis=1)
        intake.each("u.item", info, bad, _flag_message)
        names = np.array(GENRES_100K[1:], dtype=object)  # the "unknown" flag means no genre
        chosen = (flags[list(GENRES_100K[1:])] == "1").to_numpy()
        genres = [names[row].tolist() for row in chosen]
        titles, years = _title_years(info["title"])
        released = info["release_date"].str.extract(f"^{RELEASE_DATE}$")[0]
        undated = (info["release_date"] != "") & released.isna()
        intake.each(
            "u.item",
            info,
            undated,
            lambda r: f"release date {shown(r['release_date'])} is not a date like 01-Jan-1995",
        )
        released = pd.to_numeric(released, errors="coerce").to_numpy(dtype=np.float64)
        years = np.where(np.isnan(years), released, years)
        catalog = make_items(info["movie_id"], titles, genres, None, years)
    data = intake.table("u.data")
    if data is None:
        return None
    events = _ratings(intake, "u.data", data, "user_id", "item_id", info, "u.item", "movie_id")
    return None if catalog is None else (catalog, events)


READERS = {"lab": read_lab, "movielens": read_movielens, "movielens-100k": read_movielens_100k}


def make_items(
    ids: pd.Series,
    titles: pd.Series,
    genres: list[list[str]] | None,
    tags: list[list[str]] | None,
    years: np.ndarray | None,
) -> pd.DataFrame:
    """The items frame, in natural id order (so "2" comes before "10")."""
    n = len(ids)
    frame = pd.DataFrame(
        {
            "external_id": ids.array,
            "title": titles.array,
            "genres": genres if genres is not None else [[] for _ in range(n)],
            "tags": tags if tags is not None else [[] for _ in range(n)],
            "year": pd.Series(np.full(n, np.nan) if years is None else years).astype("Int32"),
        }
    )
    if frame["external_id"].str.fullmatch(r"\d{1,18}").all():  # the usual case, vectorised
        number = frame["external_id"].astype(np.int64)
        frame = frame.assign(n=number).sort_values(["n", "external_id"])
        return frame.drop(columns="n").reset_index(drop=True)
    keys = [natural_key(i) for i in frame["external_id"].tolist()]
    order = sorted(range(n), key=keys.__getitem__)
    return frame.iloc[order].reset_index(drop=True)


def natural_key(text: str) -> tuple:
    """Digits compare as numbers: 'a2' < 'a10'; the text itself breaks ties ('07' vs '7')."""
    parts = re.split(r"(\d+)", text)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), text


def make_events(
    user: pd.Series,
    item: pd.Series,
    kind: pd.Series,
    value: np.ndarray,
    ts: np.ndarray,
    holdout: np.ndarray | None = None,
) -> pd.DataFrame:
    """The interactions frame in time order; rows at the same second keep their file order.
    `holdout` (a lab export's column) marks the rows that were the lab's holdout."""
    frame = pd.DataFrame(
        {
            "user_id": user.array,
            "external_id": item.array,
            "kind": kind.array,
            "value": np.asarray(value, dtype=np.float64),
            "ts": np.asarray(ts, dtype=np.float64),
        }
    )
    if holdout is not None:
        frame["holdout"] = np.asarray(holdout, dtype=bool)
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


def _holdout_flags(intake: Intake, file: str, events: pd.DataFrame) -> np.ndarray:
    """The `holdout` column of a lab export: 1 (or true) for a row of the holdout, 0, false or
    empty for the log."""
    raw = events["holdout"].str.lower()
    bad = ~raw.isin(["", "0", "1", "true", "false"])
    intake.each(file, events, bad, lambda r: f"holdout {shown(r['holdout'])} is not 0 or 1")
    return raw.isin(["1", "true"]).to_numpy()


def _check_items(intake: Intake, file: str, items: pd.DataFrame, column: str) -> None:
    users(intake, file, items, column, "item id")
    nonempty(intake, file, items, "title")
    for text in ("title", "genres", "tags"):
        if text in items:
            plain_text(intake, file, items, text)
    duplicates(
        intake,
        file,
        items[items[column] != ""],
        [column],
        lambda r: f"duplicate {column} {shown(r[column])}: first on line {r['first']}",
    )


def _check_refs(
    intake: Intake,
    file: str,
    frame: pd.DataFrame,
    user: str,
    item: str,
    items: pd.DataFrame | None,
    items_file: str,
    items_column: str | None = None,
) -> None:
    users(intake, file, frame, user)
    nonempty(intake, file, frame, item)
    if items is not None:
        column = items_column or item
        known(intake, file, frame, item, ids_in(items, column), items_file, column)


def _ratings(
    intake: Intake,
    file: str,
    frame: pd.DataFrame,
    user: str,
    item: str,
    items: pd.DataFrame | None,
    items_file: str,
    items_column: str | None = None,
) -> pd.DataFrame:
    """A ratings file (ratings.csv, u.data): one rating per user and item, on the scale."""
    _check_refs(intake, file, frame, user, item, items, items_file, items_column)
    values = numbers(intake, file, frame, "rating")
    kinds = pd.Series("rating", index=frame.index, dtype="str")
    if intake.scale is None:
        on_scale(intake, file, frame, values, "rating")
    else:  # the user says the file is on another scale than the format's
        values, chose = rescale(intake, file, frame, values, "rating")
        if chose is not None:
            kinds = pd.Series(np.where(chose, "like", "skip"), index=frame.index, dtype="str")
    ts = timestamps(intake, file, frame, "timestamp")
    duplicates(
        intake,
        file,
        frame,
        [user, item],
        lambda r: f"user {r[user]} rated item {r[item]} again: first on line {r['first']}",
    )
    return make_events(frame[user], frame[item], kinds, values, ts)


def _kinds_and_values(intake: Intake, events: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    """The lab's kind column: a known kind, and stars exactly when the kind is a rating."""
    file = "interactions.csv"
    kinds = events["kind"].str.lower()
    intake.each(
        file,
        events,
        ~kinds.isin(KINDS),
        lambda r: (
            "empty kind"
            if not r["kind"]
            else f"unknown kind {shown(r['kind'])}: use one of {', '.join(KINDS)}"
        ),
    )
    column = "value" if "value" in events else "rating" if "rating" in events else None
    stars = events[column] if column else pd.Series("", index=events.index, dtype="str")
    rated = (kinds == "rating").to_numpy()
    given = (stars != "").to_numpy()
    intake.each(
        file,
        events,
        rated & ~given,
        lambda r: f"a rating needs its stars in column {column or 'value'}",
    )
    intake.each(
        file,
        events,
        ~rated & kinds.isin(KINDS).to_numpy() & given,
        lambda r: f"a {r['kind'].lower()} takes no value; only a rating has stars",
    )
    values = np.full(len(events), np.nan)
    if column:
        values = numbers(intake, file, events, column, where=rated & given)
        values, chose = rescale(intake, file, events, values, column)
        if chose is not None:  # implicit feedback: a rated row is a like or a skip
            kinds = kinds.where(~rated, np.where(chose, "like", "skip"))
    return kinds, values


def _flag_message(row: dict) -> str:
    name = next(g for g in GENRES_100K if row[g] not in ("0", "1"))
    return f"genre flag {name} is {shown(row[name])}; a flag must be 0 or 1"


def _whole_years(intake: Intake, items: pd.DataFrame) -> np.ndarray:
    raw = items["year"]
    years = floats(raw)
    bad = (raw != "").to_numpy() & ~(
        np.isfinite(years) & (years == np.round(years)) & (np.abs(years) < 10_000)
    )
    intake.each(
        "items.csv",
        items,
        bad,
        lambda r: f"year {shown(r['year'])} is not a whole number from -9999 to 9999",
    )
    years[bad] = np.nan
    return years


def _title_years(titles: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """'Toy Story (1995)' -> ('Toy Story', 1995); a title without a year keeps its text."""
    found = titles.str.extract(YEAR_IN_TITLE)
    stripped = found["title"].fillna("")
    clean = titles.where(stripped == "", stripped)
    years = pd.to_numeric(found["year"], errors="coerce").to_numpy(dtype=np.float64)
    return clean, years


def _lists(column: pd.Series | None) -> list[list[str]] | None:
    """'A|B|A' -> ['A', 'B']: `|`-separated, stripped, distinct, in order."""
    if column is None:
        return None
    out = []
    for text in column.tolist():
        parts = (p.strip() for p in text.split("|"))
        out.append(list(dict.fromkeys(p for p in parts if p)))
    return out


def _top_tags(tags: pd.DataFrame, ids: pd.Series) -> list[list[str]]:
    """Each movie's most frequent tags, lower-cased, ties alphabetical, at most TOP_TAGS."""
    words = tags.assign(tag=tags["tag"].str.lower().str.strip())
    words = words[words["tag"] != ""]
    counts = words.groupby(["movieId", "tag"]).size().reset_index(name="n")
    counts = counts.sort_values(["movieId", "n", "tag"], ascending=[True, False, True])
    top = counts.groupby("movieId", sort=False).head(TOP_TAGS)
    lists: dict[str, list[str]] = {}
    for movie, tag in zip(top["movieId"].tolist(), top["tag"].tolist(), strict=True):
        lists.setdefault(movie, []).append(tag)
    return [lists.get(i, []) for i in ids.tolist()]
