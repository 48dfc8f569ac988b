"""The checks on values every import format shares, vectorised over a file's frame.

Each check has one shape: flag bad rows on the `Intake` (one `Problem` per row, with its line)
and return clean values with NaN where a value is bad, so nothing stops at the first problem
and the next check still runs. Numbers go through pyarrow's cast first because it is fast and
falls back to pandas only when some text is not a number.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recsys.data.reader import Intake
from recsys.data.scale import choose, off_scale
from recsys.events import RATING_MAX, RATING_MIN, RATING_STEP, USER_ID_RULE, user_id_problem

EPOCH = pd.Timestamp(0, tz="UTC")
CONTROL = r"[\x00-\x1f\x7f]"  # C0 controls and DEL
# Unix seconds outside these years are almost always milliseconds or a wrong column.
TS_MIN, TS_MAX = -2_208_988_800.0, 7_258_118_400.0  # 1900-01-01, 2200-01-01


def shown(text: object, limit: int = 40) -> str:
    """A value quoted for a message, cut short so one bad cell cannot flood the report."""
    text = str(text)
    return repr(text) if len(text) <= limit else repr(text[: limit - 3] + "...")


def arrow(series: pd.Series) -> pa.Array:
    return pa.array(series.array)


def floats(raw: pd.Series) -> np.ndarray:
    """Numbers from text, NaN where not a number; pyarrow's cast first, as it is fast."""
    try:
        values = pc.cast(arrow(raw), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = pd.to_numeric(raw.to_numpy(dtype=object), errors="coerce")
    return np.array(values, dtype=np.float64)


def nonempty(intake: Intake, file: str, frame: pd.DataFrame, column: str) -> None:
    intake.each(file, frame, frame[column] == "", lambda r: f"empty {column}")


def users(
    intake: Intake, file: str, frame: pd.DataFrame, column: str, what: str = "user id"
) -> None:
    """User ids become event users, so they must pass the same rule as live ones
    (`recsys.events.user_id_problem`), checked once per distinct id; so must item ids (`what`
    "item id"), which are typed and shown the same way."""
    raw = frame[column]
    nonempty(intake, file, frame, column)
    distinct = pd.unique(raw[raw != ""])
    wrong = {u: p for u in distinct if (p := user_id_problem(u))}
    if not wrong:
        return
    intake.each(
        file,
        frame,
        raw.isin(list(wrong)),
        lambda r: f"{what} {shown(r[column])} is not allowed ({wrong[r[column]]}): {USER_ID_RULE}",
    )


def plain_text(intake: Intake, file: str, frame: pd.DataFrame, column: str) -> None:
    """Text shown on cards, tables and the command line (titles, genres, tags) holds no control
    character: a NUL, an escape sequence or a line break would not show as it was typed."""
    bad = frame[column].str.contains(CONTROL, regex=True).to_numpy(dtype=bool)
    intake.each(
        file,
        frame,
        bad,
        lambda r: (
            f"{column} {shown(r[column])} holds a control character (a tab, line break or "
            "escape): remove it"
        ),
    )


def numbers(
    intake: Intake, file: str, frame: pd.DataFrame, column: str, where: object = None
) -> np.ndarray:
    """Floats of a column (only the rows in `where`), NaN where empty or not a number."""
    raw = frame[column]
    wanted = np.ones(len(frame), bool) if where is None else np.asarray(where, dtype=bool)
    values = np.full(len(frame), np.nan)
    values[wanted] = floats(raw[wanted])
    empty = wanted & (raw == "").to_numpy()
    intake.each(file, frame, empty, lambda r: f"empty {column}")
    bad = wanted & ~empty & ~np.isfinite(values)
    intake.each(file, frame, bad, lambda r: f"{column} {shown(r[column])} is not a number")
    values[bad] = np.nan
    return values


def rescale(
    intake: Intake, file: str, frame: pd.DataFrame, values: np.ndarray, column: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """Ratings read on their own scale (`recsys.data.scale`: the one the user gave as
    `intake.scale`, else the one the values show), with a note saying which.

    Returns the values as the lab's stars, and for implicit feedback (0/1, counts) which rows
    are a choice (True) or a pass (False), their values then NaN; None for explicit ratings. A
    value outside a scale the user gave is a problem on its line."""
    given = intake.scale
    values = np.array(values, dtype=np.float64)
    if given is not None and not given.implicit:
        off = off_scale(values, given)
        intake.each(
            file,
            frame,
            off,
            lambda r: (
                f"rating {r[column]} is off the scale {given.low:g} to {given.high:g} "
                "given by --scale"
            ),
        )
        values[off] = np.nan
    known = np.isfinite(values)
    if not known.any():
        return values, None
    scale = choose(values[known], given)
    intake.notes.append(f"{file}: {scale.describe()}")
    if scale.implicit:
        return np.full(len(values), np.nan), np.where(known, values > 0, False)
    return scale.to_stars(values), None


def on_scale(
    intake: Intake, file: str, frame: pd.DataFrame, values: np.ndarray, column: str
) -> None:
    """Ratings of a format with a scale of its own (MovieLens) must sit on the lab's star
    scale: RATING_MIN..RATING_MAX in RATING_STEPs."""
    known = np.isfinite(values)
    off = known & ((values < RATING_MIN) | (values > RATING_MAX))
    steps = values / RATING_STEP
    between = known & ~off & (np.abs(steps - np.round(steps)) > 1e-9)
    scale = f"{RATING_MIN} to {RATING_MAX}"
    intake.each(file, frame, off, lambda r: f"rating {r[column]} is off the scale {scale}")
    intake.each(
        file,
        frame,
        between,
        lambda r: f"rating {r[column]} is not on the scale {scale} in steps of {RATING_STEP}",
    )


def timestamps(intake: Intake, file: str, frame: pd.DataFrame, column: str) -> np.ndarray:
    """Unix seconds from Unix seconds or ISO 8601 text (naive means UTC); NaN where bad.

    A file without the column is in file order: its rows get 0, 1, 2... seconds (from
    1970-01-01 UTC), with a note saying so. An empty cell in a file that has the column is a
    problem: one row without a time cannot be placed among the others."""
    if column not in frame:
        intake.notes.append(
            f"{file}: no {column} column, so the events keep the file's order "
            "(one second apart, from 1970-01-01 UTC)"
        )
        return np.arange(len(frame), dtype=np.float64)
    raw = frame[column]
    values = floats(raw)
    empty = (raw == "").to_numpy()
    text = ~empty & ~np.isfinite(values)
    if text.any():
        parsed = pd.to_datetime(raw[text], format="ISO8601", utc=True, errors="coerce")
        seconds = (parsed - EPOCH) / pd.Timedelta(seconds=1)
        values[text] = seconds.to_numpy(dtype=np.float64, na_value=np.nan)
    intake.each(file, frame, empty, lambda r: f"empty {column}")
    bad = ~empty & ~np.isfinite(values)
    intake.each(
        file,
        frame,
        bad,
        lambda r: f"{column} {shown(r[column])} is neither Unix seconds nor an ISO 8601 date",
    )
    far = np.isfinite(values) & ((values < TS_MIN) | (values > TS_MAX))
    intake.each(
        file,
        frame,
        far,
        lambda r: (
            f"{column} {r[column]} is not between the years 1900 and 2200 "
            "(Unix seconds are expected, not milliseconds)"
        ),
    )
    values[bad | far] = np.nan
    return values


def ids_in(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column's ids plus those on rows with a wrong field count, to check references with:
    the bad row is reported once, not once more for every reference to it."""
    extra = frame.attrs.get("partial", {}).get(column)
    if not extra:
        return frame[column]
    return pd.concat([frame[column], pd.Series(extra, dtype="str")], ignore_index=True)


def known(
    intake: Intake,
    file: str,
    frame: pd.DataFrame,
    column: str,
    ids: pd.Series,
    items_file: str,
    items_column: str,
) -> None:
    """Every reference to an item must name one the items file defines."""
    raw = frame[column]
    listed = pc.is_in(arrow(raw), value_set=arrow(ids)).to_numpy(zero_copy_only=False)
    unknown = (raw != "").to_numpy() & ~listed
    intake.each(
        file,
        frame,
        unknown,
        lambda r: f"unknown item {shown(r[column])}: {items_file} has no such {items_column}",
    )


def duplicates(
    intake: Intake,
    file: str,
    frame: pd.DataFrame,
    keys: list[str],
    message: Callable[[dict], str],
) -> None:
    """A problem on every repeat of `keys`; the message gets the first line as `first`."""
    repeated = frame.duplicated(keys, keep="first").to_numpy()
    if repeated.any():
        first = frame.groupby(keys, sort=False)["line"].transform("first")
        intake.each(file, frame.assign(first=first), repeated, message)
