"""A ratings column's scale, read off its values: the lab's stars, another explicit scale
(1-10, 0-100...) rescaled to the stars with a message, or implicit feedback (0/1, counts).

The lab learns and shows ratings as 0.5 to 5 stars (`recsys.events.RATING_MIN..RATING_MAX`).
Data on a scale inside that range is taken as it is. Data on a wider explicit scale is mapped
linearly onto it, stars = 0.5 + 4.5 (r - low) / (high - low). `evaluate --train/--test` maps
its errors and predictions back to the data's own units; an imported lab keeps stars (its
log, versions, exports and the Simulator's ratings are in stars, and the import's note says
which scale was mapped). 0/1 data and counts are
implicit feedback, not ratings: a positive value says the person chose the item, 0 that they
were shown it and passed; they are evaluated by ranking metrics alone (an RMSE against 0/1
would measure nothing a recommender is for).

Detection, from the distinct finite values (a `--scale LOW:HIGH` overrides it):
- only 0 and 1: implicit 0/1;
- whole numbers >= 0 with a maximum above 10: counts (plays, purchases), implicit; whole
  percentages (0, 25, ..., 100) or marks out of 20 read so too: give `--scale 0:100` or
  `--scale 0:20` for them;
- otherwise explicit: high is the smallest of 5, 7, 10, 100 at or above the maximum (else the
  maximum); low is 0 for a percentage with decimals (high 100, no value below 0), 1 for whole
  numbers from 1 up to a high of at most 10, 0.5 for half stars up to 5, else the minimum. So
  2..10 in whole steps reads as 1 to 10, not 2 to 10, and 1..6 as 1 to 7.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recsys.errors import RecsysError
from recsys.events import RATING_MAX, RATING_MIN

HIGHS = (5.0, 7.0, 10.0, 100.0)


@dataclass(frozen=True)
class Scale:
    """Where ratings live: `low`..`high`, or `implicit` ("0/1" or "counts"; then low and high
    are the values seen and nothing is rescaled; "implicit" only as parsed, before `choose`)."""

    low: float
    high: float
    implicit: str | None = None
    detected: bool = True  # False when the user gave it (--scale)

    @property
    def native(self) -> bool:
        """True when the values are the lab's stars already (nothing to map)."""
        return self.implicit is None and self.low >= RATING_MIN and self.high <= RATING_MAX

    def to_stars(self, values: np.ndarray) -> np.ndarray:
        """Ratings on this scale as the lab's stars (the same numbers when `native`)."""
        values = np.asarray(values, dtype=np.float64)
        if self.native or self.implicit:
            return values
        span = RATING_MAX - RATING_MIN
        return RATING_MIN + span * (values - self.low) / (self.high - self.low)

    def from_stars(self, stars: np.ndarray) -> np.ndarray:
        """The lab's stars back on this scale (the inverse of `to_stars`)."""
        stars = np.asarray(stars, dtype=np.float64)
        if self.native or self.implicit:
            return stars
        span = RATING_MAX - RATING_MIN
        return self.low + (self.high - self.low) * (stars - RATING_MIN) / span

    def describe(self) -> str:
        """One sentence for a report: what the ratings were read as, and what was done."""
        how = "detected" if self.detected else "given by --scale"
        if self.implicit == "0/1":
            return (
                f"ratings are 0/1 ({how}): implicit feedback, 1 a choice and 0 a pass; "
                "evaluated by ranking metrics, without RMSE"
            )
        if self.implicit:
            return (
                f"ratings are counts from {self.low:g} to {self.high:g} ({how}): implicit "
                "feedback, any count above 0 a choice; evaluated by ranking metrics, without RMSE"
            )
        if self.native:
            return f"ratings on the scale {self.low:g} to {self.high:g} ({how}), as the lab's stars"
        return (
            f"ratings on the scale {self.low:g} to {self.high:g} ({how}) were rescaled to the "
            f"lab's {RATING_MIN:g} to {RATING_MAX:g} stars; errors and predictions are reported "
            f"on {self.low:g} to {self.high:g} (use --scale LOW:HIGH if the scale is wrong)"
        )


def detect(values: np.ndarray) -> Scale:
    """The scale of a ratings column (module docstring); RecsysError with no finite value."""
    values = np.asarray(values, dtype=np.float64)
    seen = np.unique(values[np.isfinite(values)])
    if not len(seen):
        raise RecsysError("no ratings to read a scale from")
    low, high = float(seen[0]), float(seen[-1])
    whole = bool(np.all(seen == np.round(seen)))
    if set(seen.tolist()) <= {0.0, 1.0}:
        return Scale(0.0, 1.0, "0/1")
    if whole and low >= 0 and high > 10:
        return Scale(low, high, "counts")
    top = next((h for h in HIGHS if high <= h), high)
    halves = bool(np.all(seen * 2 == np.round(seen * 2)))
    if top == 100.0 and low >= 0:
        low = 0.0  # a percentage
    elif top <= 10.0 and whole and low >= 1:
        low = 1.0
    elif top == 5.0 and halves and low >= 0.5:
        low = 0.5  # half stars
    if top == low:  # one value only: a scale needs two ends
        top = low + 1
    return Scale(low, top)


def parse_scale(text: str) -> Scale:
    """`LOW:HIGH` (e.g. `1:10`) as a Scale the user gave, or `implicit` (0/1 or counts, as the
    values show: see `choose`). RecsysError with one line on anything else."""
    if text.strip().lower() == "implicit":
        return Scale(0.0, 1.0, "implicit", detected=False)
    parts = text.split(":")
    try:
        low, high = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise RecsysError(
            f"--scale {text!r}: give LOW:HIGH with LOW < HIGH, e.g. 1:10, or implicit"
        )
    return Scale(low, high, detected=False)


def choose(values: np.ndarray, given: Scale | None = None) -> Scale:
    """The scale to read `values` on: `given` (from --scale) if any, else `detect`. A given
    `implicit` becomes 0/1 or counts by the values; RecsysError when a given explicit scale
    does not hold a value (naming the first)."""
    if given is None:
        return detect(values)
    values = np.asarray(values, dtype=np.float64)
    if given.implicit:
        seen = detect(values)
        kind = seen.implicit or (
            "0/1" if set(np.unique(values).tolist()) <= {0.0, 1.0} else "counts"
        )
        return Scale(seen.low, seen.high, kind, detected=False)
    outside = off_scale(values, given)
    if outside.any():
        first = values[outside][0]
        raise RecsysError(f"rating {first:g} is outside --scale {given.low:g}:{given.high:g}")
    return given


def off_scale(values: np.ndarray, scale: Scale) -> np.ndarray:
    """Which values lie outside a scale the user gave (a detected one holds them all)."""
    values = np.asarray(values, dtype=np.float64)
    if scale.implicit:
        return np.isfinite(values) & (values < 0)
    return np.isfinite(values) & ((values < scale.low) | (values > scale.high))
