"""Events, their validation, and the weights that turn an event into a learning signal.

An `Event` is one row of the `events` table. Every algorithm learns from the signed weight
`EventWeights.weight(event)`, so all of them agree on what an event means. Under the default
weights a rating counts relative to the person's own average of their earlier ratings (the
scale's centre, 3 stars, before their first): a rating at or above it always counts for the item,
and 3 stars from someone who gives everything 4.5 counts against it.

>>> DEFAULT_WEIGHTS.weight("rating", 1.0) < 0 < DEFAULT_WEIGHTS.weight("rating", 5.0)
True
>>> CLASSIC_WEIGHTS.weight("rating", 1.0) > 0     # the classic preset rewards a 1-star rating
True
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from recsys.errors import RecsysError


class EventKind(StrEnum):
    VIEW = "view"
    CLICK = "click"
    LIKE = "like"
    DISLIKE = "dislike"
    FAVORITE = "favorite"
    RATING = "rating"
    SKIP = "skip"


KINDS: tuple[str, ...] = tuple(k.value for k in EventKind)
# Kinds a person states on purpose; the others are behavioural and count with less confidence.
EXPLICIT_KINDS = frozenset({"like", "dislike", "favorite", "rating"})

RATING_MIN, RATING_MAX, RATING_STEP = 0.5, 5.0, 0.5
NEUTRAL_STARS = 3.0
# A user id is what people really have (`José`, `ana maria`, `-7`, an e-mail address): any
# printable Unicode text of 1 to MAX_USER_ID characters. Only what cannot be shown or stored as
# one field is refused: control and format characters (tabs, line breaks, zero-width joiners,
# bidi overrides), lone surrogates, and line/paragraph separators (`str.isprintable`).
MAX_USER_ID = 128
USER_ID_RULE = (
    f"use 1 to {MAX_USER_ID} printable characters (no tabs, line breaks or other control "
    "characters)"
)
MAX_CONTEXT_CHARS = 500
DEVICES = ("desktop", "mobile", "tv")  # the context a visit can come with, besides the clock
TIMES_OF_DAY = ("night", "morning", "afternoon", "evening")  # by default read off the lab clock
DAY_TYPES = ("weekday", "weekend")
# The context names algorithms read, with the values each may take (LinUCB one-hot encodes
# them: another value would have no column). Other names are stored and read by nobody.
KNOWN_CONTEXT = {"device": DEVICES, "time_of_day": TIMES_OF_DAY, "day_type": DAY_TYPES}


@dataclass(frozen=True, slots=True)
class Event:
    """One interaction. `seq` and `ts` are assigned by the store when the event is committed."""

    user: str
    item: int
    kind: str
    value: float | None = None
    ts: float = 0.0
    seq: int = 0
    context: dict[str, Any] | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EventWeights:
    """Signed weight per event kind; a rating weighs `rating_base + rating_per_star * value`."""

    view: float
    click: float
    like: float
    dislike: float
    favorite: float
    skip: float
    rating_base: float
    rating_per_star: float
    # True: a rating weighs rating_choice + rating_per_star x (stars - the user's own earlier
    # average): having chosen the item counts for something, the judgement for the rest.
    relative_ratings: bool = False
    rating_choice: float = 0.0

    def weight(
        self, kind: str, value: float | None = None, user_mean: float | None = None
    ) -> float:
        """The signed weight of one event; `user_mean` is the mean of the user's earlier
        ratings (None before the first), read only by relative ratings."""
        if kind == "rating":
            if self.relative_ratings:
                centre = NEUTRAL_STARS if user_mean is None else user_mean
                return self.rating_choice + self.rating_per_star * (float(value) - centre)
            return self.rating_base + self.rating_per_star * float(value)
        return float(getattr(self, kind))

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


# The tourism design this lab learns from: view +0.1, click +0.3, favorite +0.5, review +0.7,
# rating +1.0 + 2 x value. It has no like, dislike, skip or review kinds of ours: a like counts as
# a favorite, a dislike as a view (it is an interaction), a skip as nothing. Every event pushes an
# item up, a 1-star rating most of all (+3.0): the flaw the default below fixes.
CLASSIC_WEIGHTS = EventWeights(
    view=0.1,
    click=0.3,
    like=0.5,
    dislike=0.1,
    favorite=0.5,
    skip=0.0,
    rating_base=1.0,
    rating_per_star=2.0,
)
# A rating weighs +1.0 for having chosen the item (as much as a like) and 0.8 per star away from
# the user's own average (3 stars before their first rating): at or above the average it is
# positive, a low rating (more than 1.25 stars below the average) negative. A dislike -1.0, a skip
# slightly negative. On MovieLens, counting the choice this way lifts mf's NDCG@10 from 0.22 (a
# choice worth 0.5) to 0.24.
DEFAULT_WEIGHTS = EventWeights(
    view=0.05,
    click=0.3,
    like=1.0,
    dislike=-1.0,
    favorite=1.5,
    skip=-0.05,
    rating_base=-0.8 * NEUTRAL_STARS,
    rating_per_star=0.8,
    relative_ratings=True,
    rating_choice=1.0,
)
WEIGHT_PRESETS = {"default": DEFAULT_WEIGHTS, "classic": CLASSIC_WEIGHTS}


def user_id_problem(user: object) -> str | None:
    """Why `user` cannot be a user id (the rule above), or None when it can."""
    if not isinstance(user, str) or not user:
        return "it is empty" if user == "" else "it is not text"
    if not user.strip():
        return "it is only spaces"
    if len(user) > MAX_USER_ID:
        return f"it has {len(user)} characters"
    if not user.isprintable():
        return "it contains a control character"
    return None


def validate_user(user: object) -> str:
    """`user` itself when it is a valid user id; RecsysError naming the rule otherwise."""
    problem = user_id_problem(user)
    if problem:
        shown = repr(user) if len(repr(user)) <= 40 else repr(user)[:37] + "..."
        raise RecsysError(f"invalid user id {shown} ({problem}): {USER_ID_RULE}")
    return user


def validate_kind(kind: object) -> str:
    if kind not in KINDS:
        raise RecsysError(f"unknown event kind {kind!r}: use one of {', '.join(KINDS)}")
    return str(kind)


def validate_value(kind: str, value: object) -> float | None:
    if kind != "rating":
        if value is not None:
            raise RecsysError(f"a {kind} event takes no value; only rating events do")
        return None
    if value is None or isinstance(value, bool):
        raise RecsysError("a rating needs a value from 0.5 to 5.0 in steps of 0.5")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RecsysError(f"rating value {value!r} is not a number") from None
    if not math.isfinite(number) or not RATING_MIN <= number <= RATING_MAX:
        raise RecsysError(f"rating {value} is outside 0.5-5.0")
    if abs(number / RATING_STEP - round(number / RATING_STEP)) > 1e-9:
        raise RecsysError(f"rating {value} is not a multiple of 0.5")
    return round(number * 2) / 2


def validate_context(context: object) -> dict[str, Any] | None:
    """Context is a small flat mapping (time of day, device...) stored as JSON."""
    if context is None:
        return None
    if not isinstance(context, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in context.items()
    ):
        raise RecsysError("context must be a flat mapping of names to text or numbers")
    if len(json.dumps(context)) > MAX_CONTEXT_CHARS:
        raise RecsysError(f"context is longer than {MAX_CONTEXT_CHARS} characters")
    for name, allowed in KNOWN_CONTEXT.items():
        if name in context and context[name] not in allowed:
            raise RecsysError(
                f"context {name} {str(context[name])[:40]!r} is not one of {', '.join(allowed)}"
            )
    return dict(context)


def parse_item(item: object) -> int:
    """An item id as an int; range checks against the catalog happen in the engine."""
    if isinstance(item, bool):
        raise RecsysError(f"item id {item!r} is not an integer")
    if isinstance(item, int):
        return item
    if isinstance(item, float) and item.is_integer():
        return int(item)
    if isinstance(item, str) and re.fullmatch(r"-?\d{1,12}", item.strip()):
        return int(item)
    shown = repr(item) if len(repr(item)) <= 40 else repr(item)[:37] + "..."
    raise RecsysError(f"item id {shown} is not an integer")


class ItemIds:
    """The dataset's own item ids (MovieLens' movieId, a shop's SKU) against the lab's item
    rows 0..n-1, which never leave the engine. An item without an id of its own (a generated
    world's) is known by its row, written as text. Shapes: `keys` is one str per row."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = list(keys)
        self._rows = {key: row for row, key in enumerate(self.keys)}

    @classmethod
    def of(cls, external: list[object]) -> ItemIds:
        """From the items table's `external_id` column, in row order (None: the row)."""
        return cls(
            [
                str(row) if key is None or key != key else str(key)
                for row, key in enumerate(external)
            ]
        )

    def row(self, key: object) -> int:
        """The row of the item whose id is `key` (text or a number); RecsysError naming a few
        ids of the catalog when there is none."""
        text = str(key).strip()
        if isinstance(key, float) and key.is_integer():
            text = str(int(key))
        if text in self._rows:
            return self._rows[text]
        some = ", ".join(self.keys[:3]) + (", ..." if len(self.keys) > 3 else "")
        shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
        raise RecsysError(
            f"unknown item {shown}: not an item id of this lab's {len(self.keys):,} items "
            f"(its ids are like {some})"
        )

    def key(self, row: int) -> str:
        """The dataset's id of item `row`."""
        return self.keys[int(row)]


def shared_text(column: Any) -> Any:
    """A text column (pandas) as an object array in which equal values are one Python string:
    8 bytes a row instead of a string object each (25 million user ids: 200 MB, not 1.6 GB;
    pandas stores text as Arrow strings, and `to_numpy(object)` makes an object per row)."""
    import numpy as np
    import pandas as pd

    codes, names = pd.factorize(column, use_na_sentinel=False)
    names = np.asarray(names, dtype=object)
    names[pd.isna(names)] = None  # a missing value (a visit's absent context) is None
    return names[codes]


@dataclass(frozen=True)
class EventFrame:
    """Many events as columns (what `fit` and replay read); `value` is NaN where absent."""

    seq: Any  # np.ndarray[int64]
    ts: Any  # np.ndarray[float64]
    user: Any  # np.ndarray[object], user ids
    item: Any  # np.ndarray[int64]
    kind: Any  # np.ndarray[object], kind names
    value: Any  # np.ndarray[float64]
    context: Any = None  # np.ndarray[object] of JSON text or None per event; None: no contexts
    # Weights already computed, by preset: every algorithm fitted on one frame reads them.
    _weights: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.seq)

    @classmethod
    def from_frame(cls, events: Any) -> EventFrame:
        """From a DataFrame with the events table's columns (a world's history, not yet
        stored); contexts are left out."""
        import numpy as np

        return cls(
            seq=events["seq"].to_numpy(np.int64),
            ts=events["ts"].to_numpy(np.float64),
            user=shared_text(events["user_id"]),
            item=events["item_id"].to_numpy(np.int64),
            kind=shared_text(events["kind"]),
            value=events["value"].to_numpy(np.float64),
        )

    def weights(self, weights: EventWeights) -> Any:
        """The signed weight of every event, vectorised (relative ratings against each user's
        average of their earlier ratings, as `EventWeights.weight` reads them one by one)."""
        import numpy as np

        if weights in self._weights:
            return self._weights[weights].copy()
        table = {k: weights.weight(k) for k in KINDS if k != "rating"}
        out = np.array([table.get(k, 0.0) for k in self.kind], dtype=np.float64)
        rated = self.kind == "rating"
        value = self.value[rated]
        if weights.relative_ratings:
            out[rated] = weights.rating_choice + weights.rating_per_star * (
                value - self.earlier_means()
            )
        else:
            out[rated] = weights.rating_base + weights.rating_per_star * value
        self._weights[weights] = out.copy()
        return out

    def earlier_means(self) -> Any:
        """For each rating event in order: the mean of the same user's earlier ratings in this
        frame (3 stars, the scale's centre, before their first)."""
        import numpy as np
        import pandas as pd

        rated = self.kind == "rating"
        users = pd.Series(self.user[rated])
        values = pd.Series(self.value[rated])
        count = users.groupby(users).cumcount().to_numpy()
        total = values.groupby(users).cumsum().to_numpy() - values.to_numpy()
        return np.where(count > 0, total / np.maximum(count, 1), NEUTRAL_STARS)

    def contexts(self) -> list[dict[str, Any] | None]:
        if self.context is None:
            return [None] * len(self)
        return [json.loads(c) if isinstance(c, str) else None for c in self.context]

    def rows(self):
        """Events one by one, in seq order, as `Event` objects (for replay)."""
        for seq, ts, user, item, kind, value, context in zip(
            self.seq.tolist(),
            self.ts.tolist(),
            self.user.tolist(),
            self.item.tolist(),
            self.kind.tolist(),
            self.value.tolist(),
            self.contexts(),
            strict=True,
        ):
            yield Event(user, item, kind, None if value != value else value, ts, seq, context)


def validate_request_id(request_id: object) -> int | None:
    """The id of the logged list an event came from (None: none); raises `RecsysError`
    unless it is a whole number."""
    if request_id is None:
        return None
    if isinstance(request_id, bool) or not isinstance(request_id, numbers.Integral):
        raise RecsysError(f"request_id must be a whole number, got {request_id!r}")
    return int(request_id)
