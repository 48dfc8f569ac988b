"""Offline evaluation: splits, rating and ranking metrics, beyond-accuracy metrics, sweeps.

An algorithm is fitted on the training events only and judged on the held-out ones:

- rating error (RMSE, MAE) on held-out ratings, for algorithms that predict stars (`mf`);
- ranking quality at k over users with held-out positive events (weight >= 0.25: clicks, likes,
  favourites, ratings of 3.5 and more): precision, recall, NDCG, MAP and hit rate, with the
  user's training items excluded from the list;
- catalog coverage (share of items recommended to anyone), novelty (mean -log2 of an item's
  share of training interactions) and intra-list diversity (mean genre distance within a list);
- fit time.

>>> relevant = {3, 5}
>>> print(round(ndcg_at_k([3, 1, 5], relevant, 3), 3))
0.92
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recsys.algorithms import Catalog, ModelSpec, algorithm_class, build_model
from recsys.errors import RecsysError
from recsys.events import DEFAULT_WEIGHTS, EventFrame, EventWeights

POSITIVE = 0.25  # an event this heavy says "I want this": a hit when it is held out
RATING_ALGORITHMS = ("mf",)  # scores are predicted stars


@dataclass
class Split:
    train: EventFrame
    test: EventFrame
    name: str


def _take(events: EventFrame, mask: np.ndarray) -> EventFrame:
    context = None if events.context is None else events.context[mask]
    return EventFrame(
        events.seq[mask],
        events.ts[mask],
        events.user[mask],
        events.item[mask],
        events.kind[mask],
        events.value[mask],
        context,
    )


def _pairs(events: EventFrame) -> np.ndarray:
    """Each event's (user, item) pair as one integer: all events of a pair stay together, so a
    held-out like is never given away by a view of the same item left in training."""
    users = pd.factorize(events.user)[0].astype(np.int64)
    return users * (int(events.item.max(initial=0)) + 1) + events.item


def random_split(events: EventFrame, test_share: float = 0.2, seed: int = 0) -> Split:
    """Each (user, item) pair goes to the test set with probability `test_share` (seeded)."""
    if not 0 < test_share < 1:
        raise RecsysError("the test share must be between 0 and 1")
    pairs, index = np.unique(_pairs(events), return_inverse=True)
    test = (np.random.default_rng(seed).random(len(pairs)) < test_share)[index]
    return Split(_take(events, ~test), _take(events, test), f"random {test_share:.0%}")


def temporal_split(events: EventFrame, last: int = 1) -> Split:
    """Per user, the `last` items touched most recently are held out (with all their events);
    users with no more than `last` items stay whole in training. RecsysError unless last >= 1."""
    if isinstance(last, bool) or not isinstance(last, int | np.integer) or last < 1:
        raise RecsysError(f"--last {last}: hold out at least 1 item per user")
    frame = pd.DataFrame({"user": events.user, "pair": _pairs(events), "seq": events.seq})
    latest = frame.groupby(["user", "pair"], sort=False)["seq"].max().reset_index()
    latest["rank"] = latest.groupby("user")["seq"].rank(ascending=False, method="first")
    latest["items"] = latest.groupby("user")["pair"].transform("size")
    held = set(latest.loc[(latest["rank"] <= last) & (latest["items"] > last), "pair"])
    test = frame["pair"].isin(held).to_numpy()
    if not test.any():
        raise RecsysError(
            f"--last {last}: no user has more than {last} items, so nothing would be tested; "
            "give a smaller number"
        )
    return Split(_take(events, ~test), _take(events, test), f"leave last {last}")


def precision_at_k(ranked: list[int], relevant: set[int], k: int) -> float:
    return len(relevant.intersection(ranked[:k])) / k


def recall_at_k(ranked: list[int], relevant: set[int], k: int) -> float:
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def ndcg_at_k(ranked: list[int], relevant: set[int], k: int) -> float:
    gains = [1.0 / np.log2(rank + 2) for rank, item in enumerate(ranked[:k]) if item in relevant]
    ideal = sum(1.0 / np.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return sum(gains) / ideal if ideal else 0.0


def average_precision_at_k(ranked: list[int], relevant: set[int], k: int) -> float:
    hits, total = 0, 0.0
    for rank, item in enumerate(ranked[:k], 1):
        if item in relevant:
            hits += 1
            total += hits / rank
    return total / min(len(relevant), k) if relevant else 0.0


def intra_list_diversity(ranked: list[int], genres: tuple[tuple[str, ...], ...]) -> float:
    """Mean pairwise Jaccard distance of the items' genres (0: all alike, 1: nothing shared)."""
    sets = [set(genres[i]) for i in ranked]
    pairs = [(a, b) for i, a in enumerate(sets) for b in sets[i + 1 :]]
    if not pairs:
        return 0.0
    return float(np.mean([1 - len(a & b) / len(a | b) if a | b else 0.0 for a, b in pairs]))


@dataclass
class Result:
    algorithm: str
    metrics: dict[str, float | None] = field(default_factory=dict)


# Users the ranking metrics average over, at most (a seeded sample): one number for Compare and
# the sweep, so the same config on the same split scores the same users and the same figures.
MAX_USERS = 500


def evaluate(
    algorithms: Iterable[str],
    split: Split,
    catalog: Catalog,
    k: int = 10,
    weights: EventWeights = DEFAULT_WEIGHTS,
    configs: dict[str, dict] | None = None,
    max_users: int = MAX_USERS,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[Result]:
    """Fit each algorithm on the training events and measure it on the test events."""
    if not 1 <= k <= 100:
        raise RecsysError("k must be from 1 to 100")
    names = [algorithm_class(name).name for name in algorithms]
    results = []
    for name in names:
        if progress:
            progress(name)
        spec = ModelSpec(name, (configs or {}).get(name, {}), seed, weights)
        model = build_model(spec, catalog)
        started = time.perf_counter()
        model.fit(split.train, catalog)
        metrics: dict[str, float | None] = {"fit seconds": time.perf_counter() - started}
        metrics |= measure(
            model, split.test, split.train.item, catalog, k, weights, max_users, seed
        )
        results.append(Result(name, metrics))
    return results


def measure(
    model,
    test: EventFrame,
    train_items: np.ndarray,
    catalog: Catalog,
    k: int = 10,
    weights: EventWeights = DEFAULT_WEIGHTS,
    max_users: int = 500,
    seed: int = 0,
) -> dict[str, float | None]:
    """Judge a trained model on held-out events: rating error, ranking quality at k, coverage,
    novelty (against the popularity of `train_items`) and diversity. A metric with nothing to
    measure (RMSE without test ratings, ranking metrics when no test user has a relevant item)
    is None, never 0; `users` counts the users the ranking metrics average over."""
    test_weights = test.weights(weights)
    positive = test_weights >= POSITIVE
    relevant: dict[str, set[int]] = {}
    for user, item in zip(test.user[positive], test.item[positive].tolist(), strict=True):
        relevant.setdefault(user, set()).add(item)
    users = sorted(relevant)
    if len(users) > max_users:
        users = sorted(np.random.default_rng(seed).choice(users, max_users, replace=False))
    popularity = np.bincount(train_items, minlength=catalog.n).astype(float)
    share = (popularity + 1) / (popularity.sum() + catalog.n)
    metrics = (
        _rating_errors(model, test)
        if model.name in RATING_ALGORITHMS
        else {"RMSE": None, "MAE": None}
    )
    lists = [model.recommend(user, k)[0] for user in users]
    rows = list_metrics(lists, [relevant[user] for user in users], k, share, catalog)
    # No test user with a relevant item: the ranking metrics are undefined, not 0 (a model
    # that ranks perfectly would score the same 0). None, and `users` 0 says why.
    means = np.mean(rows, axis=0).tolist() if len(rows) else [None] * 7
    names = (
        f"precision@{k}",
        f"recall@{k}",
        f"NDCG@{k}",
        f"MAP@{k}",
        f"hit rate@{k}",
        "novelty (bits)",
        "diversity",
    )
    metrics |= dict(zip(names, means, strict=True))
    if not any(catalog.genres):  # diversity is between genres: a catalog without any has none
        metrics["diversity"] = None
    shown = np.unique(np.concatenate(lists)) if lists else []
    metrics["coverage"] = len(shown) / catalog.n if lists else None
    metrics["users"] = float(len(users))
    return metrics


def list_metrics(
    lists: list[np.ndarray], relevant: list[set[int]], k: int, share: np.ndarray, catalog: Catalog
) -> np.ndarray:
    """Per list (a user's top-k items, best first; at most k of them): precision, recall, NDCG,
    MAP and hit rate at k against the user's `relevant` items, novelty against the item
    shares `share` (n,) and intra-list diversity, as an (n_lists, 7) array.

    The same numbers as `precision_at_k` ... `intra_list_diversity` applied list by list, bit
    for bit (sums run in the same order), computed in whole-array steps: a retrain measures
    300 lists while clicks wait for the interpreter, so the loops must be short."""
    rows = np.zeros((len(lists), 7))
    lengths = np.array([len(ranked) for ranked in lists], dtype=np.int64)
    for length in np.unique(lengths).tolist():  # lists shorter than k (few unseen items) apart
        which = np.flatnonzero(lengths == length)
        if length == 0:  # nothing to recommend: every metric is 0
            continue
        items = np.array([lists[i][:k] for i in which], dtype=np.int64).reshape(len(which), -1)
        truth = [relevant[i] for i in which]
        hits = np.array(
            [[item in rel for item in row] for row, rel in zip(items.tolist(), truth, strict=True)],
            dtype=bool,
        )
        rows[which] = _ranked_metrics(items, hits, truth, k, share, catalog)
    return rows


def _ranked_metrics(items, hits, truth, k, share, catalog) -> np.ndarray:
    """`list_metrics` for lists of one length: items and hits (m, length)."""
    length = items.shape[1]
    n_relevant = np.array([len(rel) for rel in truth], dtype=np.int64)
    cut = np.minimum(n_relevant, k)
    found = hits.sum(axis=1)
    discounts = np.array([1.0 / np.log2(rank + 2) for rank in range(max(k, length))])
    ideal = np.where(cut > 0, np.cumsum(discounts)[np.maximum(cut, 1) - 1], 0.0)
    gains = np.cumsum(np.where(hits, discounts[:length], 0.0), axis=1)[:, -1]
    so_far = np.cumsum(hits, axis=1)
    precisions = np.cumsum(np.where(hits, so_far / np.arange(1, length + 1), 0.0), axis=1)
    some = np.maximum(cut, 1)  # no relevant item: every ratio below is 0
    return np.column_stack(
        [
            found / k,
            np.where(cut > 0, found / np.maximum(n_relevant, 1), 0.0),
            np.where(ideal > 0, gains / np.where(ideal > 0, ideal, 1.0), 0.0),
            np.where(cut > 0, precisions[:, -1] / some, 0.0),
            (found > 0).astype(float),
            np.mean(np.ascontiguousarray(-np.log2(share[items])), axis=1),
            _diversity(items, catalog),
        ]
    )


def _diversity(items: np.ndarray, catalog: Catalog) -> np.ndarray:
    """`intra_list_diversity` of each row of `items` (m, length): the mean Jaccard distance of
    its items' genre sets over the pairs in the same order (0 for a list of one item)."""
    first, second = np.triu_indices(items.shape[1], 1)
    if not len(first):
        return np.zeros(len(items))
    genres = catalog.genre_matrix[1][items]  # (m, length, genres), 0/1
    shared = np.einsum("mig,mjg->mij", genres, genres)[:, first, second]
    sizes = genres.sum(axis=2)
    union = sizes[:, first] + sizes[:, second] - shared
    distance = np.where(union > 0, 1 - shared / np.where(union > 0, union, 1), 0.0)
    # Row by row in memory, so that numpy sums each row pairwise as it sums a single list.
    return np.mean(np.ascontiguousarray(distance), axis=1)


def _rating_errors(model, test: EventFrame) -> dict[str, float | None]:
    rated = test.kind == "rating"
    if not rated.any():
        return {"RMSE": None, "MAE": None}
    predictions = predict(model, test.user[rated], test.item[rated])
    errors = predictions - test.value[rated]
    return {"RMSE": float(np.sqrt(np.mean(errors**2))), "MAE": float(np.mean(np.abs(errors)))}


def predict(model, users: np.ndarray, items: np.ndarray, stars: bool = True) -> np.ndarray:
    """One value per (user, item) pair: stars (clipped to the scale) from a rating predictor,
    else, or with `stars=False` (implicit feedback), the model's ranking score."""
    out = np.empty(len(users))
    order = pd.Series(range(len(users))).groupby(pd.Series(users)).indices
    score = getattr(model, "predict", model.score) if stars else model.score
    for user, rows in order.items():
        out[rows] = score(user, items[rows])
    return out


def sweep(
    algorithm: str,
    parameter: str,
    values: list[float],
    split: Split,
    catalog: Catalog,
    k: int = 10,
    weights: EventWeights = DEFAULT_WEIGHTS,
    max_users: int = MAX_USERS,
    progress: Callable[[int, int, dict], None] | None = None,
    *,
    seed: int = 0,
    config: dict | None = None,
) -> pd.DataFrame:
    """Evaluate one algorithm with one parameter set to each value in turn: one row per value
    with its metrics, its `fit seconds` and `seconds` (fit and measure, what the point cost).
    `config`: the other parameters (the applied ones; defaults when None); `seed`: the model's
    and the user sample's, as `evaluate` takes it, so a point scores what Compare scores for
    the same config. `progress(done, total, row)` after each point (a caller that stops the
    sweep keeps the rows it was given). RecsysError for a value out of the parameter's bounds."""
    rows = []
    for index, value in enumerate(values):
        started = time.perf_counter()
        configs = {algorithm: dict(config or {}) | {parameter: value}}
        result = evaluate([algorithm], split, catalog, k, weights, configs, max_users, seed)[0]
        rows.append({parameter: value, **result.metrics})
        rows[-1]["seconds"] = time.perf_counter() - started
        if progress:
            progress(index + 1, len(values), rows[-1])
    return pd.DataFrame(rows)


# How a point's cost grows with the swept value (an exponent; parameters not named: flat). ALS
# on MF's two heads at d = 4...128 on the default world took 0.14...0.58 s per fit, about the
# square root of d (its per-row work is BLAS calls whose overhead dominates at small d).
COST_EXPONENTS = {"factors": 0.5, "epochs": 1.0}


def sweep_costs(
    parameter: str, values: list[float], current: float, reference: float
) -> list[float]:
    """Estimated seconds of each point of a sweep, before it runs: `reference` (what one point
    at the parameter's `current` value costs, e.g. the production version's fit scaled to the
    training split) grown by `COST_EXPONENTS`. A rough guide; the page refines it with the
    points measured as the sweep goes."""
    exponent = COST_EXPONENTS.get(parameter, 0.0)
    base = max(float(current), 1e-9)
    return [reference * (max(float(v), 1e-9) / base) ** exponent for v in values]


def config_label(algorithm: str, config: dict) -> str:
    """The parameters of `config` that differ from `algorithm`'s defaults, as "factors=8,
    epochs=20", or "defaults": what a results table names each row's config by."""
    defaults = {b["name"]: b["default"] for b in algorithm_class(algorithm).config_class.bounds()}
    changed = [
        f"{name}={value:g}" if isinstance(value, int | float) and not isinstance(value, bool)
        else f"{name}={value}"
        for name, value in config.items()
        if name in defaults and value != defaults[name]
    ]  # fmt: skip
    return ", ".join(changed) or "defaults"


def results_frame(results: list[Result]) -> pd.DataFrame:
    """One row per algorithm; a metric that is undefined (None) is NaN, a float column."""
    frame = pd.DataFrame([{"algorithm": r.algorithm, **r.metrics} for r in results])
    metrics = [c for c in frame.columns if c != "algorithm"]
    frame[metrics] = frame[metrics].astype(np.float64)
    return frame


def results_records(frame: pd.DataFrame) -> list[dict]:
    """`results_frame` rows for JSON: an undefined metric is null (JSON has no NaN)."""
    return [
        {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]
