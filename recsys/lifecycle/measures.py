"""Measuring versions: holdout metrics, the promotion gate, two versions side by side, and
the live comparison of served arms.

Every number here is computed from what it is given; nothing is written.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pandas as pd

from recsys.algorithms import Catalog, Recommender
from recsys.evaluation import measure
from recsys.events import EventFrame
from recsys.lifecycle.policies import GATE_METRICS, LOWER_IS_BETTER, Policy, rewards

HOLDOUT_METRICS = ("RMSE", "MAE", "precision@10", "recall@10", "NDCG@10", "coverage")
HOLDOUT_USERS = 300


def holdout_metrics(
    model: Recommender, holdout: EventFrame, events: EventFrame, catalog: Catalog, weights
) -> dict[str, float | None]:
    """A model's own parameters judged on the world's fixed holdout (none: no metrics);
    `events` are what it was trained on (novelty's popularity baseline)."""
    if not len(holdout):
        return dict.fromkeys(HOLDOUT_METRICS)
    measured = measure(model, holdout, events.item, catalog, 10, weights, HOLDOUT_USERS)
    return {name: measured.get(name) for name in HOLDOUT_METRICS}


def gate_verdict(
    policy: Policy,
    version: str,
    new: float | None,
    production: str | None,
    old: float | None,
    has_holdout: bool,
) -> dict[str, Any]:
    """Would `version` (its label, `v3`; gate metric `new`) beat production `production` (its
    label, None when there is none or it is the same version; `old`) on the policy's gate
    metric by its margins? Returns metric, candidate, production, passed, message (and gain,
    needed when both are measured). The message says the comparison and the verdict only
    ("passes" or "refused"): what follows from it is the caller's to say."""
    metric = policy.gate_metric
    if production is None:
        return _verdict(metric, new, None, True, f"{version}: no production to beat")
    if not has_holdout:
        return _verdict(
            metric,
            new,
            old,
            True,
            "this lab has no holdout (it was created before holdouts existed; recreate it "
            "with `init --reset` to measure versions): no gate to pass",
        )
    if new is None or old is None:
        return _verdict(
            metric, new, old, False, f"{metric} is not measured for both versions: refused"
        )
    gain = (old - new) if metric in LOWER_IS_BETTER else (new - old)
    needed = max(policy.gate_absolute, policy.gate_relative * abs(old))
    passed = gain > needed or (gain > 0 and needed == 0)
    message = (
        f"gate on {metric}: {version} {new:.4f} vs production {production} {old:.4f}, "
        f"gain {gain:+.4f} {'>' if passed else '≤'} needed {needed:.4f}: "
        + ("passes" if passed else "refused")
    )
    return _verdict(metric, new, old, passed, message) | {"gain": gain, "needed": needed}


def compare_versions(
    first: dict,
    second: dict,
    models: list[Recommender],
    users: list[str] | None,
    k: int,
    sample: int = 20,
) -> dict[str, Any]:
    """Metric deltas, config diff, and for sample users (default: `sample` both versions know) the
    overlap and Kendall's tau (scipy) of the two versions' top-k. `first` and `second` are
    stored versions (`VersionStore.version`), `models` the two built from them."""
    a, b = first["version_id"], second["version_id"]
    metrics = {
        m: {
            "a": first["metrics"].get(m),
            "b": second["metrics"].get(m),
            "delta": None
            if first["metrics"].get(m) is None or second["metrics"].get(m) is None
            else second["metrics"][m] - first["metrics"][m],
        }
        for m in GATE_METRICS
    }
    keys = sorted(set(first["config"]) | set(second["config"]))
    config = {
        key: {"a": first["config"].get(key), "b": second["config"].get(key)}
        for key in keys
        if first["config"].get(key) != second["config"].get(key)
    }
    if users is None:
        known = [u for u in models[0].users if models[1].knows(u)]
        users = sorted(known, key=lambda u: zlib.crc32(u.encode()))[:sample]
    # scipy.stats takes longer to import than the rest of the engine: only when comparing.
    from scipy.stats import kendalltau

    rows = []
    for user in users:
        lists = [m.recommend(user, k)[0].tolist() for m in models]
        both = set(lists[0]) | set(lists[1])
        rank = [{item: r for r, item in enumerate(lst)} for lst in lists]
        union = sorted(both)
        tau = kendalltau(
            [rank[0].get(i, k) for i in union], [rank[1].get(i, k) for i in union]
        ).statistic
        rows.append(
            {
                "user": user,
                "overlap": len(set(lists[0]) & set(lists[1])) / k,
                "kendall tau": None if np.isnan(tau) else float(tau),
            }
        )
    frame = pd.DataFrame(rows)
    return {
        "a": int(a),
        "b": int(b),
        "algorithms": [first["algorithm"], second["algorithm"]],
        "metrics": metrics,
        "config": config,
        "users": rows,
        "mean_overlap": float(frame["overlap"].mean()) if len(frame) else None,
        "mean_kendall_tau": float(frame["kendall tau"].mean()) if len(frame) else None,
    }


def live_metrics(events: pd.DataFrame) -> pd.DataFrame:
    """Per served version and arm of `events` (`Store.served_events`): users, events, views,
    clicks, CTR (clicks per view; NaN without views), likes (and favourites), like rate (per
    event), rewards (see `policies.reward`) and their mean, mean rating, first and last seq:
    the canary's live comparison. `version` is the key."""
    columns = [
        "algorithm",
        "arm",
        "version",
        "users",
        "events",
        "views",
        "clicks",
        "CTR",
        "likes",
        "like rate",
        "rewards",
        "reward mean",
        "mean rating",
        "first seq",
        "last seq",
    ]
    if events.empty:
        return pd.DataFrame(columns=columns)
    events = events.copy()
    parts = events["served_by"].str.split(":", expand=True)
    events["algorithm"], events["arm"] = parts[0], parts[1]
    events["version"] = parts[2].astype(int)
    events["reward"] = rewards(events["kind"], events["value"], events["context"])
    events["like"] = events["kind"].isin(["like", "favorite"])
    events["view"] = events["kind"] == "view"
    events["click"] = events["kind"] == "click"
    events["rating"] = events["value"].where(events["kind"] == "rating")
    frame = (
        events.groupby(["algorithm", "arm", "version"])
        .agg(
            users=("user_id", "nunique"),
            events=("seq", "size"),
            views=("view", "sum"),
            clicks=("click", "sum"),
            likes=("like", "sum"),
            rewards=("reward", "count"),
            reward_mean=("reward", "mean"),
            mean_rating=("rating", "mean"),
            first_seq=("seq", "min"),
            last_seq=("seq", "max"),
        )
        .reset_index()
    )
    frame["CTR"] = (frame["clicks"] / frame["views"]).where(frame["views"] > 0)
    frame["like rate"] = frame["likes"] / frame["events"]
    frame = frame.rename(
        columns={
            "reward_mean": "reward mean",
            "mean_rating": "mean rating",
            "first_seq": "first seq",
            "last_seq": "last seq",
        }
    )
    return frame[columns]


def _verdict(metric, new, old, passed: bool, message: str) -> dict[str, Any]:
    return {
        "metric": metric,
        "candidate": new,
        "production": old,
        "passed": passed,
        "message": message,
    }
