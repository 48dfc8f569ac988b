"""Ranking quality on a real ratings file, the lab's algorithms and implicit's ALS side by side.

The protocol (the one the MovieLens comparison in the issue tracker used, and the budget "MF
top-10 ranking on MovieLens: NDCG@10 at least implicit's ALS and above popularity" in
`ARCHITECTURE.md` is measured by):

- a MovieLens `ratings.csv` (`userId,movieId,rating,timestamp`, stars 0.5-5); movie ids map to
  dense item rows in numeric id order (`recsys.data.ratings.catalog_for`), over the movies rated
  at least once in the file;
- each user's ratings are split at random (seeded): `round(0.25 * n)` held out, the rest
  trained on; a user with fewer than 4 ratings stays whole in training;
- every algorithm is fitted on the training ratings only (the lab's as an `EventFrame` of
  `rating` events in timestamp order, implicit's ALS on the users x items matrix of the stars,
  read as confidences);
- for each user with at least one held-out rating of 4 stars or more (the relevant items), every
  item the user did not rate in training is ranked and the top k judged: precision@k (hits / k)
  and NDCG@k with binary gains, the ideal DCG over min(k, relevant) items
  (`recsys.evaluation`); means over those users;
- RMSE (stars) of `predict` on every held-out rating, for algorithms that predict stars.

`ranking_comparison` is deterministic for a seed (fit seconds aside).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.algorithms import Catalog, ModelSpec, build_model
from recsys.data.ratings import Ratings, catalog_for, rating_events, read_movies, read_ratings
from recsys.evaluation import ndcg_at_k, precision_at_k, predict

PROTOCOL = "per-user 75/25, relevant = rated 4+, all unseen items ranked"
TEST_SHARE = 0.25
MIN_RATINGS = 4  # fewer ratings than this: the user stays whole in training
RELEVANT_STARS = 4.0
IMPLICIT = "implicit ALS"


def split_per_user(
    users: np.ndarray, seed: int = 0, test_share: float = TEST_SHARE, min_ratings: int = MIN_RATINGS
) -> np.ndarray:
    """Boolean mask over ratings (shape (n,)): True for the held-out ones.

    Each user with at least `min_ratings` ratings holds out `round(test_share * n)` of them
    (halves round up), chosen uniformly at random by a `numpy.random.Generator` seeded with
    `seed`; the others hold out nothing.
    """
    codes, _ = pd.factorize(np.asarray(users), sort=True)
    counts = np.bincount(codes)
    held = np.where(counts >= min_ratings, np.floor(counts * test_share + 0.5), 0).astype(int)
    keys = np.random.default_rng(seed).random(len(codes))
    order = np.lexsort((keys, codes))  # by user, then at random within the user
    ordered = codes[order]
    position = np.arange(len(codes)) - np.searchsorted(ordered, ordered, side="left")
    test = np.zeros(len(codes), dtype=bool)
    test[order] = position < held[ordered]
    return test


def ranking_metrics(
    ranked: list[list[int]], relevant: list[set[int]], k: int = 10
) -> dict[str, float]:
    """Mean precision@k and NDCG@k (binary relevance) over users, one list and one set each.

    >>> metrics = ranking_metrics([[7, 3, 9]], [{3, 5}], k=3)
    >>> round(metrics["NDCG@3"], 3), round(metrics["precision@3"], 3)  # NDCG: 0.63 / 1.63
    (0.387, 0.333)
    """
    if not ranked:
        return {f"precision@{k}": 0.0, f"NDCG@{k}": 0.0, "users": 0}
    rows = [
        (precision_at_k(r, truth, k), ndcg_at_k(r, truth, k))
        for r, truth in zip(ranked, relevant, strict=True)
    ]
    precision, ndcg = np.mean(rows, axis=0)
    return {f"precision@{k}": float(precision), f"NDCG@{k}": float(ndcg), "users": len(rows)}


def ranking_comparison(
    ratings_csv: str | Path,
    seed: int = 0,
    algorithms: Iterable[str] = ("mf", "item_knn", "popularity"),
    k: int = 10,
) -> dict[str, Any]:
    """Fit each lab algorithm (default configs) and, when installed, implicit's ALS (defaults,
    `random_state=seed`) on one per-user split of `ratings_csv`, and judge their top-k lists.

    Returns `{"protocol", "dataset", "seed", "k", "users", "items", "train ratings",
    "test ratings", "rows"}`; `rows` maps each name to `{"precision@k", "NDCG@k", "RMSE"
    (stars, None without a rating predictor), "fit s", "users"}`, or for implicit when it is
    not importable to `{"skipped": reason}`.
    """
    ratings_csv = Path(ratings_csv)
    read = read_ratings(ratings_csv)
    frame = pd.DataFrame(
        {
            "userId": read.users,
            "movieId": read.items,
            "rating": read.ratings,
            "timestamp": read.timestamps,
        }
    )
    everything = _ratings(frame)
    catalog, index = catalog_for(everything)
    catalog = _titled(catalog, index, ratings_csv.parent / "movies.csv")
    user_rows, user_ids = pd.factorize(frame["userId"].to_numpy(), sort=True)
    item_rows = np.array([index[i] for i in everything.items], dtype=np.int64)
    test = split_per_user(user_rows, seed)
    stars = frame["rating"].to_numpy()

    seen = pd.Series(item_rows[~test]).groupby(user_rows[~test]).agg(list).to_dict()
    liked = (stars >= RELEVANT_STARS) & test
    relevant = pd.Series(item_rows[liked]).groupby(user_rows[liked]).agg(set).to_dict()
    judged = sorted(relevant)  # user rows; each has training ratings (MIN_RATINGS > 1)

    train_events = rating_events(_ratings(frame[~test]), index)
    rows: dict[str, dict[str, Any]] = {}
    for name in algorithms:
        model = build_model(ModelSpec(name, seed=seed), catalog)
        started = time.perf_counter()
        model.fit(train_events, catalog)
        fit = time.perf_counter() - started
        ranked = [
            _top_k(model.score(str(user_ids[u])), seen.get(u, []), k).tolist() for u in judged
        ]
        rmse = None
        if hasattr(model, "predict"):
            guess = predict(model, user_ids[user_rows[test]].astype(object), item_rows[test])
            rmse = float(np.sqrt(np.mean((guess - stars[test]) ** 2)))
        rows[name] = _row(ranked, [relevant[u] for u in judged], k, rmse, fit)
    rows[IMPLICIT] = _implicit(
        user_rows[~test], item_rows[~test], stars[~test], (len(user_ids), catalog.n),
        judged, relevant, seed, k,
    )  # fmt: skip
    return {
        "protocol": PROTOCOL,
        "dataset": str(ratings_csv.parent.name),
        "seed": seed,
        "k": k,
        "users": len(user_ids),
        "items": catalog.n,
        "train ratings": int((~test).sum()),
        "test ratings": int(test.sum()),
        "rows": rows,
    }


def quality_table(result: dict[str, Any]) -> str:
    """The comparison as a fixed-width table, one row per algorithm."""
    k = result["k"]
    lines = [
        f"MovieLens {result['dataset']}, {result['protocol']} (seed {result['seed']}):",
        f"  {'algorithm':<14}{f'precision@{k}':>14}{f'NDCG@{k}':>10}{'RMSE':>9}{'fit s':>9}"
        f"{'users':>7}",
    ]
    for name, row in result["rows"].items():
        if "skipped" in row:
            lines.append(f"  {name:<14}  skipped: {row['skipped']}")
            continue
        rmse = "-" if row["RMSE"] is None else f"{row['RMSE']:.4f}"
        lines.append(
            f"  {name:<14}{row[f'precision@{k}']:>14.3f}{row[f'NDCG@{k}']:>10.3f}{rmse:>9}"
            f"{row['fit s']:>9.2f}{row['users']:>7}"
        )
    return "\n".join(lines)


def _ratings(frame: pd.DataFrame) -> Ratings:
    return Ratings(
        frame["userId"].tolist(),
        frame["movieId"].tolist(),
        frame["rating"].to_numpy(dtype=float),
        frame["timestamp"].to_numpy(dtype=float),
    )


def _titled(catalog: Catalog, index: dict[str, int], movies_csv: Path) -> Catalog:
    """The catalog with MovieLens titles and genres when `movies.csv` sits beside the ratings
    (placeholders `item <id>` and no genres otherwise, or for a movie it does not list)."""
    if not movies_csv.exists():
        return catalog
    movies = read_movies(movies_csv)
    titles, genres = list(catalog.titles), list(catalog.genres)
    for movie, row in index.items():
        if movie in movies.index:
            titles[row] = movies.at[movie, "title"]
            genres[row] = movies.at[movie, "genres"]
    return Catalog(titles=tuple(titles), genres=tuple(genres))


def _top_k(scores: np.ndarray, exclude: list[int], k: int) -> np.ndarray:
    """The k best items by score, the excluded ones left out; ties go to the lower item id."""
    candidates = np.asarray(scores, dtype=float).copy()
    candidates[np.asarray(exclude, dtype=np.int64)] = -np.inf
    order = np.lexsort((np.arange(len(candidates)), -candidates))[:k]
    return order[np.isfinite(candidates[order])]


def _row(
    ranked: list[list[int]], relevant: list[set[int]], k: int, rmse: float | None, fit: float
) -> dict[str, Any]:
    metrics = ranking_metrics(ranked, relevant, k)
    return {
        f"precision@{k}": metrics[f"precision@{k}"],
        f"NDCG@{k}": metrics[f"NDCG@{k}"],
        "RMSE": rmse,
        "fit s": fit,
        "users": metrics["users"],
    }


def _implicit(
    users: np.ndarray,
    items: np.ndarray,
    stars: np.ndarray,
    shape: tuple[int, int],
    judged: list[int],
    relevant: dict[int, set[int]],
    seed: int,
    k: int,
) -> dict[str, Any]:
    """implicit's `AlternatingLeastSquares` with its defaults on the (users x items) CSR matrix
    of training stars; its own `recommend` filters the user's training items."""
    try:
        from implicit.cpu.als import AlternatingLeastSquares
    except ImportError as error:
        return {"skipped": f"implicit is not installed ({error}); pip install implicit==0.7.3"}
    from scipy.sparse import csr_matrix
    from threadpoolctl import threadpool_limits

    user_items = csr_matrix((stars.astype(np.float32), (users, items)), shape=shape)
    # implicit parallelises over users itself; it checks (in the constructor) that BLAS runs
    # no thread pool of its own, and warns otherwise.
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(random_state=seed)
        started = time.perf_counter()
        model.fit(user_items, show_progress=False)
        fit = time.perf_counter() - started
        ids = np.asarray(judged, dtype=np.int64)
        found = (
            model.recommend(ids, user_items[ids], N=k, filter_already_liked_items=True)[0]
            if len(ids)
            else np.empty((0, k), dtype=np.int64)
        )
    ranked = [[int(i) for i in row if i >= 0] for row in np.atleast_2d(found)]
    return _row(ranked, [relevant[u] for u in judged], k, None, fit)
