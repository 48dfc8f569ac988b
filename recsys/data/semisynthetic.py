"""An imported dataset as a lab world, with a semi-synthetic ground truth.

A real log has no hidden taste to measure against, yet the simulator, autopilot and simulated
A/B tests need one. As in semi-synthetic evaluation (fit a model to real data, then treat it as
the truth), the lab fits a small biased matrix factorisation on the whole imported history:
item factors become the hidden item features, item biases the hidden quality, and each user's
factors their hidden taste. Utilities are rescaled to the mean and spread of the generated
worlds, so the choice model clicks and rates at familiar rates. Personas are the k-means centres
of the users' tastes, named after the genres (or titles) their centre likes most.

The algorithms never read any of this, as with generated worlds: they learn from the log only.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from recsys.algorithms import Catalog, ModelSpec, build_model
from recsys.choice import true_utilities
from recsys.events import EventFrame
from recsys.world import DEFAULT_SEED, HOLDOUT_SHARE, World, set_aside

TRUTH_FACTORS = 8
# ALS sweeps of the truth's fit; a log past TRUTH_LONG_LOG events gets fewer: after three
# sweeps ALS has settled most of the way, and at 25 million events each sweep is a minute.
TRUTH_EPOCHS, TRUTH_LONG_EPOCHS, TRUTH_LONG_LOG = 10, 3, 2_000_000
MAX_PERSONAS = 6
# The generated worlds' utilities over all (person, item) pairs: mean about 0.25, spread 1.7.
UTILITY_MEAN, UTILITY_STD = 0.25, 1.7


def dataset_world(dataset, seed: int = DEFAULT_SEED, holdout_share: float | None = None) -> World:
    """The lab world of an imported `recsys.data.importer.Dataset`: its items and history as they
    are, plus the fitted truth. Deterministic given the dataset and `seed`.

    The holdout (what every version is measured on, never trained on) is the rows a lab export
    marked in its `holdout` column when the dataset has one, else a `holdout_share` of the
    (user, item) pairs (default `recsys.world.HOLDOUT_SHARE`; 0 keeps every event in the log)."""
    items = dataset.items.reset_index(drop=True)
    index = pd.Series(np.arange(len(items)), index=items["external_id"].to_numpy())
    log = dataset.interactions.reset_index(drop=True)
    first_ts = float(log["ts"].min())
    n = len(log)
    events = pd.DataFrame(
        {
            "seq": np.arange(1, n + 1, dtype=np.int64),
            "ts": np.round(log["ts"].to_numpy(np.float64) - first_ts, 3),
            # Arrow-backed text as read (a frame stores text so anyway): no object per row.
            "user_id": log["user_id"].astype(str).array,
            "item_id": index.loc[log["external_id"].to_numpy()].to_numpy().astype(np.int32),
            "kind": log["kind"].array,
            "value": log["value"].to_numpy(np.float64),
            "context": pd.Series([None] * n, dtype=object),
            "source": "history",
        }
    )
    catalog = Catalog(
        titles=tuple(items["title"]),
        genres=tuple(tuple(g) for g in items["genres"]),
        tags=tuple(tuple(t) for t in items["tags"]),
    )
    features, quality, tastes, user_ids = _truth(catalog, events, seed)
    personas, membership = _personas(features, quality, tastes, catalog, seed)
    users = pd.DataFrame(
        {
            "user_id": user_ids,
            "kind": "imported",
            "persona": membership,
            "taste": list(tastes),
        }
    )
    items_frame = pd.DataFrame(
        {
            "item_id": np.arange(len(items), dtype=np.int32),
            "title": items["title"].astype(str),
            "genres": items["genres"],
            "tags": items["tags"],
            "year": pd.array(items["year"], dtype="Int32"),
            "region": pd.Series([None] * len(items), dtype=object),
            "quality": quality,
            "features": list(features),
            "external_id": items["external_id"].astype(str),
        }
    )
    marked = log["holdout"].to_numpy(bool) if "holdout" in log else None
    if marked is not None:  # a lab export: its holdout as it was (none, if it had none)
        held = events[marked].drop(columns="seq").reset_index(drop=True)
        kept = events[~marked].reset_index(drop=True)
        kept["seq"] = np.arange(1, len(kept) + 1, dtype=np.int64)
    else:
        share = HOLDOUT_SHARE if holdout_share is None else holdout_share
        kept, held = set_aside(events, share, seed)
    first_seq = kept.groupby("user_id", sort=False)["seq"].min()
    users["created_seq"] = users["user_id"].map(first_seq).fillna(0).astype("int64")
    meta = {
        "world": "dataset",
        "label": dataset.name,
        "seed": str(seed),
        "epoch": datetime.fromtimestamp(first_ts, UTC).replace(tzinfo=None).isoformat(),
        "dimensions": json.dumps(
            [
                *(f"factor {i + 1}" for i in range(TRUTH_FACTORS)),
                *sorted({g for genres in catalog.genres for g in genres}),
                "quality",
            ]
        ),
        "history_through_seq": str(int(kept["seq"].max()) if len(kept) else 0),
        "dataset_format": dataset.format,
        "dataset_files": json.dumps(dataset.files, sort_keys=True),
    }
    return World(meta, items_frame, personas, users, kept, held)


def _truth(
    catalog: Catalog, events: pd.DataFrame, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Item features, item quality and user tastes from a biased MF fitted on everything
    (`TRUTH_EPOCHS` sweeps, `TRUTH_LONG_EPOCHS` on a log past `TRUTH_LONG_LOG` events),
    scaled so that taste . features + quality has the generated worlds' mean and spread."""
    epochs = TRUTH_EPOCHS if len(events) <= TRUTH_LONG_LOG else TRUTH_LONG_EPOCHS
    spec = ModelSpec("mf", {"factors": TRUTH_FACTORS, "epochs": epochs}, seed)
    model = build_model(spec, catalog)
    model.fits_ratings = False  # the truth is the preference head: stars would be a minute more
    model.fit(EventFrame.from_frame(events))
    items, bias, users, user_ids = model.preference_model()
    mean, std = score_moments(users, items, bias)
    scale = UTILITY_STD / max(std, 1e-9)
    shift = UTILITY_MEAN - scale * mean
    features = scale * items
    quality = scale * bias + shift
    tastes = np.hstack([users, np.ones((len(users), 1))])  # the last weight reads quality
    return features, quality, tastes, user_ids


def score_moments(users: np.ndarray, items: np.ndarray, bias: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of `users @ items.T + bias` over every (user, item) pair,
    without the users x items matrix (8.9 GiB for a 4-million-row import): from the factors'
    means and covariances, in memory linear in users + items.

    With u' and v' the centred factors, the centred score is a_i + b_u + u'.v', where
    a_i = mean(u).v'_i + bias_i - mean(bias) and b_u = u'_u.mean(v); the three parts are
    uncorrelated over the pairs, so the variance is mean(a^2) + mean(b^2) + trace(Cu Cv),
    Cu and Cv being the factors' covariance matrices. Equal to the dense formula up to
    rounding (a sum in another order):

    >>> rng = np.random.default_rng(0)
    >>> u, v, b = rng.normal(size=(30, 4)), rng.normal(size=(50, 4)), rng.normal(size=50)
    >>> dense = u @ v.T + b
    >>> np.allclose(score_moments(u, v, b), (dense.mean(), dense.std()), rtol=1e-12)
    True
    """
    if len(users) == 0 or len(items) == 0:
        return 0.0, 0.0
    user_mean, item_mean, bias_mean = users.mean(axis=0), items.mean(axis=0), bias.mean()
    user_dev, item_dev = users - user_mean, items - item_mean
    item_part = item_dev @ user_mean + (bias - bias_mean)
    user_part = user_dev @ item_mean
    interaction = np.sum((user_dev.T @ user_dev) * (item_dev.T @ item_dev)) / (
        len(users) * len(items)
    )
    variance = np.mean(item_part**2) + np.mean(user_part**2) + interaction
    return float(user_mean @ item_mean + bias_mean), float(np.sqrt(max(variance, 0.0)))


def _personas(
    features: np.ndarray,
    quality: np.ndarray,
    tastes: np.ndarray,
    catalog: Catalog,
    seed: int,
) -> tuple[pd.DataFrame, list[str]]:
    """k-means centres of the users' tastes as personas; returns them and each user's."""
    k = min(MAX_PERSONAS, len(tastes))
    # One thread: k-means on a few thousand 8-d points gains nothing from OpenMP's threads and
    # waits for them on a busy machine (0.9 s -> 0.04 s for 610 users); the centres are then
    # also the same whatever the machine's core count.
    with threadpool_limits(1):
        clusters = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(tastes[:, :-1])
    centres = np.hstack([clusters.cluster_centers_, np.ones((k, 1))])
    utilities = true_utilities(features, quality, centres)
    rows, names = [], []
    for c in range(k):
        liked = _liked(utilities[c], utilities.mean(axis=0), catalog)
        name = _unique(_slug(liked[0]) + "-fan", names)
        names.append(name)
        size = int((clusters.labels_ == c).sum())
        rows.append(
            {
                "name": name,
                "label": f"{' & '.join(liked)} fan",
                "description": (
                    f"{size} imported users whose fitted tastes cluster here; they like "
                    f"{' and '.join(liked)} more than the others do. Semi-synthetic: the "
                    "taste is the cluster's centre in the fitted model."
                ),
                "taste": centres[c].tolist(),
            }
        )
    personas = pd.DataFrame(rows).sort_values("name", kind="stable").reset_index(drop=True)
    return personas, [names[label] for label in clusters.labels_]


def _liked(utility: np.ndarray, typical: np.ndarray, catalog: Catalog) -> list[str]:
    """The two genres whose items this taste likes most above the typical one (or, in a
    catalog without genres, the two such titles)."""
    lift = utility - typical
    genres = sorted({g for gs in catalog.genres for g in gs})
    if not genres:
        return [catalog.titles[i] for i in np.argsort(-lift)[:2]]
    members: dict[str, list[int]] = {g: [] for g in genres}
    for i, gs in enumerate(catalog.genres):
        for g in dict.fromkeys(gs):
            members[g].append(i)
    mean_lift = {g: float(np.mean(lift[members[g]])) for g in genres}
    return sorted(genres, key=lambda g: (-mean_lift[g], g))[:2]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "taste"


def _unique(name: str, taken: list[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    return candidate
