"""Ratings files for `evaluate --train/--test`: `user_id,item_id,rating[,timestamp]`, header
optional, read by the importer's reader (`recsys.data.reader`).

External ids are kept as text and mapped to the dense item rows the algorithms use. Unlike an
import, a ratings file is taken as it is: any user id, any finite rating (no scale), and a
timestamp that is missing or not a number reads as the row's line number. A file that does not
parse gives one clear `RecsysError` naming the file and the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.algorithms import Catalog
from recsys.data.checks import floats, numbers
from recsys.data.reader import FileSpec, Intake, read_table
from recsys.data.scale import Scale
from recsys.events import EventFrame

# The header is optional, detected by its names (`recsys.data.dialect.is_header`); the columns
# are taken in this order either way.
RATINGS_FILE = FileSpec(("user_id", "item_id", "rating"), ("timestamp",), header=None)
MOVIES_FILE = FileSpec(("movieId", "title"), ("genres",))  # as the MovieLens import reads it


@dataclass
class Ratings:
    """One ratings file: parallel lists of user and item ids (text), stars and Unix seconds."""

    users: list[str]
    items: list[str]
    ratings: np.ndarray
    timestamps: np.ndarray
    notes: tuple[str, ...] = ()  # how the file was read (delimiter, empty rows skipped)

    def take(self, rows: np.ndarray) -> Ratings:
        """The ratings at `rows` (positions or a boolean mask), in that order: a split's side."""
        return Ratings(
            np.asarray(self.users, dtype=object)[rows].tolist(),
            np.asarray(self.items, dtype=object)[rows].tolist(),
            self.ratings[rows],
            self.timestamps[rows],
            self.notes,
        )


def read_ratings(path: str | Path) -> Ratings:
    """The ratings of a delimited UTF-8 file (comma, or the `;`, tab, `::` or `|` its first line
    shows; a byte-order mark is skipped; fields may be quoted; blank rows and rows of only
    delimiters are skipped and noted in `notes`), in file order.

    Raises RecsysError naming the file: it cannot be read, it holds no ratings, or naming the
    first bad line as well (a row without 3 or 4 fields, a rating that is not a number, bytes
    that are not UTF-8).
    """
    stars, stamps = None, None

    def check(intake: Intake, file: str, table) -> None:
        nonlocal stars, stamps
        stars = numbers(intake, file, table, "rating")
        stamps = floats(table["timestamp"])

    table = read_table(path, RATINGS_FILE, check, "ratings")
    lines = table["line"].to_numpy(dtype=np.float64)
    return Ratings(
        table["user_id"].tolist(),
        table["item_id"].tolist(),
        stars,
        np.where(np.isfinite(stamps), stamps, lines),
        tuple(table.attrs.get("notes", ())),
    )


def read_movies(path: str | Path) -> pd.DataFrame:
    """A MovieLens `movies.csv` (`movieId,title[,genres]`) by movie id: title and genres (a
    tuple; "(no genres listed)" is none). Raises RecsysError as `read_table` does."""
    table = read_table(path, MOVIES_FILE, what="movies").set_index("movieId")
    genres = table["genres"] if "genres" in table else pd.Series("", index=table.index)
    listed = [() if g in ("", "(no genres listed)") else tuple(g.split("|")) for g in genres]
    return pd.DataFrame({"title": table["title"], "genres": listed}, index=table.index)


def catalog_for(*files: Ratings) -> tuple[Catalog, dict[str, int]]:
    """A catalog of every item in the files; item rows in sorted id order."""
    ids = sorted({i for f in files for i in f.items}, key=lambda x: (len(x), x))
    index = {item: row for row, item in enumerate(ids)}
    return Catalog(titles=tuple(f"item {i}" for i in ids), genres=tuple(() for _ in ids)), index


def rating_events(
    ratings: Ratings, index: dict[str, int], first_seq: int = 1, scale: Scale | None = None
) -> EventFrame:
    """The ratings as events in time order. On an explicit `scale` the values become the lab's
    stars (`Scale.to_stars`); on an implicit one (0/1, counts) a value above 0 is a `like` and
    0 a `skip`, without a value. No scale: the values are taken as stars."""
    n = len(ratings.users)
    order = np.argsort(ratings.timestamps, kind="stable")
    values = ratings.ratings[order]
    kinds = np.full(n, "rating", dtype=object)
    if scale is not None and scale.implicit:
        kinds = np.where(values > 0, "like", "skip").astype(object)
        values = np.full(n, np.nan)
    elif scale is not None:
        values = scale.to_stars(values)
    return EventFrame(
        seq=np.arange(first_seq, first_seq + n),
        ts=ratings.timestamps[order],
        user=np.array(ratings.users, dtype=object)[order],
        item=np.array([index[i] for i in ratings.items], dtype=np.int64)[order],
        kind=kinds,
        value=values,
    )
