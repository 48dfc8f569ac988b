"""Tables as a person reads them: lab time as a date and time, metrics as their own columns.

The store's rows carry `ts` (seconds after the world's epoch, e.g. 5184391.122) and `metrics`
(JSON text); `readable` turns them into a "lab time" datetime column and one number column per
metric, and `show` draws the result with formats for both.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from recsys.world import EPOCH

LAB_TIME = "lab time"
TIME_FORMAT = "YYYY-MM-DD HH:mm:ss"
# The usual order of the holdout metrics; any other metric follows in alphabetical order.
METRIC_ORDER = ("NDCG@10", "precision@10", "recall@10", "RMSE", "MAE", "coverage")


def epoch_of(meta: dict[str, str]) -> pd.Timestamp:
    """The lab clock's zero: the world's `epoch` (an imported dataset's first event), else the
    generated worlds' `recsys.world.EPOCH`."""
    return pd.Timestamp(meta.get("epoch") or EPOCH)


def lab_times(seconds: pd.Series, epoch: pd.Timestamp) -> pd.Series:
    """Lab seconds after `epoch` as datetimes (to the millisecond)."""
    return epoch + pd.to_timedelta(pd.to_numeric(seconds).round(3), unit="s")


def readable(frame: pd.DataFrame, epoch: pd.Timestamp) -> pd.DataFrame:
    """`frame` with its `ts` column (lab seconds) replaced in place by "lab time" (datetimes)
    and its `metrics` column (JSON objects) by one float column per metric. Other columns are
    kept as they are. A new frame; `frame` is not changed."""
    out = frame.copy()
    if "ts" in out:
        out.insert(out.columns.get_loc("ts"), LAB_TIME, lab_times(out.pop("ts"), epoch))
    if "metrics" in out:
        at = out.columns.get_loc("metrics")
        parsed = [json.loads(m) if isinstance(m, str) and m else {} for m in out.pop("metrics")]
        names = sorted(
            {name for row in parsed for name in row},
            key=lambda n: (METRIC_ORDER.index(n) if n in METRIC_ORDER else len(METRIC_ORDER), n),
        )
        for offset, name in enumerate(names):
            values = [row.get(name) for row in parsed]
            out.insert(at + offset, name, pd.to_numeric(pd.Series(values, index=out.index)))
    return out


def column_config(frame: pd.DataFrame) -> dict:
    """Formats for `readable`'s columns: the lab time to the second, metrics with 4 decimals."""
    config = {}
    for name in frame.columns:
        if name == LAB_TIME:
            config[name] = st.column_config.DatetimeColumn(LAB_TIME, format=TIME_FORMAT)
        elif name in METRIC_ORDER or "@" in str(name):
            config[name] = st.column_config.NumberColumn(name, format="%.4f")
    return config


def show(frame: pd.DataFrame, meta: dict[str, str], key: str | None = None, **options) -> None:
    """Draw `frame` readable (`readable`, `column_config`) as a full-width data grid; `options`
    go to `st.dataframe` (a `column_config` there adds to or overrides the defaults)."""
    shown = readable(frame, epoch_of(meta))
    config = column_config(shown) | options.pop("column_config", {})
    options = {"hide_index": True, "width": "stretch"} | options
    st.dataframe(shown, column_config=config, key=key, **options)
