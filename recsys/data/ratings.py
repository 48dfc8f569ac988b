"""Reading external ratings: `user_id,item_id,rating[,timestamp]`, header optional.

External ids are kept as text and mapped to the dense item rows the algorithms use; a file
that does not parse gives one clear `RecsysError` naming the file and the line.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.algorithms import Catalog
from recsys.errors import RecsysError
from recsys.events import EventFrame


@dataclass
class Ratings:
    users: list[str]
    items: list[str]
    ratings: np.ndarray
    timestamps: np.ndarray


def read_ratings(path: str | Path) -> Ratings:
    users, items, ratings, stamps = [], [], [], []
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            for number, row in enumerate(csv.reader(handle), 1):
                if not row or (number == 1 and len(row) in (3, 4) and not _is_number(row[2])):
                    continue  # blank line, or a header
                if len(row) not in (3, 4):
                    raise RecsysError(
                        f"{path} line {number}: expected user_id,item_id,rating[,timestamp]"
                    )
                rating = float(row[2]) if _is_number(row[2]) else math.nan
                if not math.isfinite(rating):
                    raise RecsysError(f"{path} line {number}: rating {row[2]!r} is not a number")
                users.append(row[0].strip())
                items.append(row[1].strip())
                ratings.append(rating)
                stamps.append(
                    float(row[3]) if len(row) == 4 and _is_number(row[3]) else float(number)
                )
    except OSError as error:
        raise RecsysError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise RecsysError(f"{path} is not a UTF-8 text file") from None
    if not users:
        raise RecsysError(f"{path} holds no ratings")
    return Ratings(users, items, np.array(ratings), np.array(stamps))


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def catalog_for(*files: Ratings) -> tuple[Catalog, dict[str, int]]:
    """A catalog of every item in the files; item rows in sorted id order."""
    ids = sorted({i for f in files for i in f.items}, key=lambda x: (len(x), x))
    index = {item: row for row, item in enumerate(ids)}
    return Catalog(titles=tuple(f"item {i}" for i in ids), genres=tuple(() for _ in ids)), index


def rating_events(ratings: Ratings, index: dict[str, int], first_seq: int = 1) -> EventFrame:
    n = len(ratings.users)
    order = np.argsort(ratings.timestamps, kind="stable")
    return EventFrame(
        seq=np.arange(first_seq, first_seq + n),
        ts=ratings.timestamps[order],
        user=np.array(ratings.users, dtype=object)[order],
        item=np.array([index[i] for i in ratings.items], dtype=np.int64)[order],
        kind=np.full(n, "rating", dtype=object),
        value=ratings.ratings[order],
    )
