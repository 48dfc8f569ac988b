"""Plotly axes that say what they measure, for the pages (`recsys.ui.charts`) and the session
report: whole-number axes (seq, version, step, counts) tick only at whole numbers, and rates
are drawn on [0, 1]. No Streamlit here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go

# Metrics bounded to [0, 1] (anything not named here, like RMSE or seconds, is not).
BOUNDED = ("NDCG", "precision", "recall", "coverage", "hit", "MAP", "MRR", "rate", "CTR", "ctr")


def is_rate(name: str) -> bool:
    """Whether a metric named `name` is a share in [0, 1] (NDCG@10, recall@10, like rate...)."""
    return any(word in name for word in BOUNDED)


def whole_step(span: float, ticks: int = 8) -> int:
    """The tick spacing for a whole-number axis spanning `span` units: 1, 2 or 5 times a power
    of ten, never below 1, giving at most about `ticks` ticks.

    >>> [whole_step(s) for s in (0, 3, 11, 60, 7380)]
    [1, 1, 2, 10, 1000]
    """
    raw = max(span / ticks, 1.0)
    power = 10 ** math.floor(math.log10(raw))
    return next(int(m * power) for m in (1, 2, 5, 10) if m * power >= raw)


def integer_axis(
    figure: go.Figure, axis: str, values: Iterable[float], prefix: str = "", ticks: int = 8
) -> go.Figure:
    """Ticks of `figure`'s `axis` ("x" or "y", every facet's) only at whole numbers, spaced to
    fit `values` (the numbers drawn on it), written in full ("56,540", not "56.54k") after
    `prefix` (e.g. "v" for versions). Returns the figure."""
    numbers = [float(v) for v in values if v is not None and not pd.isna(v)]
    span = max(numbers) - min(numbers) if numbers else 0.0
    settings = {
        "tickmode": "linear",
        "tick0": 0,
        "dtick": whole_step(span, ticks),
        "tickformat": ",d",
        "tickprefix": prefix,
    }
    if axis == "x" and numbers and span < 3:
        # A few values only: plotly pads the range by a whole unit and ticks numbers that are
        # not there (v0 and v2 beside a lone v1).
        settings["range"] = [min(numbers) - 0.5, max(numbers) + 0.5]
    (figure.update_xaxes if axis == "x" else figure.update_yaxes)(**settings)
    return figure


def rate_axis(figure: go.Figure, axis: str = "y", percent: bool = False) -> go.Figure:
    """`figure`'s `axis` drawn on the whole of [0, 1] (as 0-100 % with `percent`), so a rate of
    0.08 does not look like a swing because the axis hugs the data."""
    settings = {"range": [0, 1], "autorange": False, "tickformat": ".0%" if percent else None}
    (figure.update_xaxes if axis == "x" else figure.update_yaxes)(**settings)
    return figure
