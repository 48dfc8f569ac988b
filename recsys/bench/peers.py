"""python -m recsys bench --peers: our MF beside River (online) and Surprise (batch) in one run.

Online, against River's `reco.BiasedMF`: the ratings replayed once in time order with
progressive validation (each rating is predicted, then learned). Ours learns through
`learn_one` on `Event` objects, the engine's own per-event path (the implicit head and the
rating head together), and predicts with `predict_one`; River through its `predict_one` and
`learn_one`. Both predictions are clipped to the star scale. Figures: events per second of the
whole loop (median of `repeats` fresh replays, by the wall clock and by the process's CPU time,
which a busy machine disturbs less) and the progressive RMSE, beside a running mean's (what a
model that learned nothing would score). The contenders take turns, repeat by repeat.

River runs twice: with its defaults (10 factors, SGD 0.01, no L2) and with the configuration of
its own `BiasedMF` docstring example (10 factors, SGD 0.025 for biases and latents, latents
drawn from N(0, 0.1)), the stronger of the two on MovieLens.

Batch, against scikit-surprise's `SVD` (defaults): one random 80/20 split, fit seconds (median of
`repeats` fresh fits) and test RMSE. Either peer, or the dataset, may be absent: its part is
skipped with a line saying so. `os.getloadavg()` at the start and the end tells how busy the
machine was.
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from recsys.algorithms import ModelSpec, build_model
from recsys.data.ratings import Ratings, catalog_for, rating_events, read_ratings
from recsys.events import NEUTRAL_STARS, RATING_MAX, RATING_MIN

MOVIELENS = Path(__file__).resolve().parents[3] / "shared/datasets/ml-latest-small"
RIVER_CONFIGS = {
    "River BiasedMF (defaults)": lambda optim: {"n_factors": 10, "seed": 0},
    "River BiasedMF (docs example)": lambda optim: {
        "n_factors": 10,
        "bias_optimizer": optim.SGD(0.025),
        "latent_optimizer": optim.SGD(0.025),
        "latent_initializer": optim.initializers.Normal(mu=0.0, sigma=0.1, seed=71),
    },
}


def peers(folder: Path = MOVIELENS, repeats: int = 3, seed: int = 0) -> dict[str, Any]:
    """Both comparisons on `folder`/ratings.csv, each skipped (with a line) when its peer or
    the dataset is absent; `text` is the side-by-side table."""
    report: dict[str, Any] = {"load at start": os.getloadavg()}
    lines = [f"load average at start: {_load(report['load at start'])}"]
    path = Path(folder) / "ratings.csv"
    if not path.exists():
        lines.append(f"peers skipped: {path} not found")
        ratings = None
    else:
        ratings = read_ratings(path)
        lines.append(f"{path.parent.name}: {len(ratings.users):,} ratings")
    for name, module, compare in (
        ("online", "river", online_comparison),
        ("batch", "surprise", batch_comparison),
    ):
        if ratings is None:
            continue
        try:
            peer = importlib.import_module(module)
            for part in ("reco", "optim") if module == "river" else ():
                importlib.import_module(f"river.{part}")
        except ImportError:
            lines.append(f"{name} comparison skipped: {module} is not installed")
            continue
        report[name] = compare(ratings, peer, repeats, seed)
        lines.append(report[name]["text"])
    report["load at end"] = os.getloadavg()
    lines.append(f"load average at end: {_load(report['load at end'])}")
    report["text"] = "\n".join(lines)
    return report


def online_comparison(ratings: Ratings, river, repeats: int = 3, seed: int = 0) -> dict:
    """Progressive validation in time order: ours (`mf` defaults) and River's BiasedMF."""
    catalog, index = catalog_for(ratings)
    events = list(rating_events(ratings, index).rows())
    stars = np.array([e.value for e in events])
    runs = {"mf (ours)": lambda: _ours(catalog, events, seed)}
    for name, config in RIVER_CONFIGS.items():
        runs[name] = lambda c=config: _river(river, c(river.optim), events)  # fresh per run
    rows = _interleaved(runs, repeats)
    running = np.cumsum(stars) / np.arange(1, len(stars) + 1)
    baseline = np.concatenate([[NEUTRAL_STARS], running[:-1]])
    result: dict[str, Any] = {"events": len(events), "rows": {}}
    for name, (wall, cpu, predicted) in rows.items():
        result["rows"][name] = {
            "events/s": len(events) / wall,
            "events/CPU s": len(events) / cpu,
            "progressive RMSE": _rmse(predicted, stars),
        }
    result["rows"]["running mean"] = {
        "events/s": None,
        "events/CPU s": None,
        "progressive RMSE": _rmse(baseline, stars),
    }
    result["text"] = _table(
        f"online, {len(events):,} ratings in time order, predict then learn (median of {repeats})",
        result["rows"],
        ("events/s", "events/CPU s", "progressive RMSE"),
    )
    return result


def batch_comparison(ratings: Ratings, surprise, repeats: int = 3, seed: int = 0) -> dict:
    """A random 80/20 split: `mf`'s full fit against Surprise's SVD (both defaults)."""
    from recsys.evaluation import predict

    order = np.random.default_rng(seed).permutation(len(ratings.users))
    cut = int(0.8 * len(order))
    train, test = ratings.take(order[:cut]), ratings.take(order[cut:])
    catalog, index = catalog_for(train, test)
    events = rating_events(train, index)
    items = np.array([index[i] for i in test.items], dtype=np.int64)

    def ours() -> np.ndarray:
        model = build_model(ModelSpec("mf", seed=seed), catalog)
        model.fit(events, catalog)
        return lambda: predict(model, np.array(test.users, dtype=object), items)

    import pandas as pd

    frame = pd.DataFrame({"u": train.users, "i": train.items, "r": train.ratings})
    reader = surprise.Reader(rating_scale=(RATING_MIN, RATING_MAX))
    trainset = surprise.Dataset.load_from_df(frame, reader).build_full_trainset()

    def theirs():
        svd = surprise.SVD(random_state=seed)
        svd.fit(trainset)
        pairs = zip(test.users, test.items, strict=True)
        return lambda: np.array([svd.predict(u, i).est for u, i in pairs])

    rows = {
        name: {"fit s": wall, "fit CPU s": cpu, "RMSE": _rmse(predictor(), test.ratings)}
        for name, (wall, cpu, predictor) in _interleaved(
            {"mf (ours)": ours, "Surprise SVD": theirs}, repeats
        ).items()
    }
    text = _table(
        f"batch, random 80/20 split (seed {seed}), {len(train.users):,} ratings to fit "
        f"(median of {repeats})",
        rows,
        ("fit s", "fit CPU s", "RMSE"),
    )
    return {"rows": rows, "text": text}


def _ours(catalog, events, seed: int) -> list[float]:
    model = build_model(ModelSpec("mf", seed=seed), catalog)
    predicted = []
    for event in events:
        predicted.append(model.predict_one(event.user, event.item))
        model.learn_one(event)
    return predicted


def _river(river, config: dict, events) -> list[float]:
    model = river.reco.BiasedMF(**config)
    predicted = []
    for event in events:
        guess = model.predict_one(event.user, event.item)
        predicted.append(min(max(guess, RATING_MIN), RATING_MAX))
        model.learn_one(event.user, event.item, event.value)
    return predicted


def _interleaved(runs: dict[str, Any], repeats: int) -> dict[str, tuple[float, float, Any]]:
    """Each run `repeats` times, taking turns (so that a change of the machine's load falls on
    all alike): the median wall-clock and CPU seconds of each, and its last result."""
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    results = {}
    for _ in range(repeats):
        for name, run in runs.items():
            started, used = time.perf_counter(), time.process_time()
            results[name] = run()
            cpu[name].append(time.process_time() - used)
            wall[name].append(time.perf_counter() - started)
    return {n: (float(np.median(wall[n])), float(np.median(cpu[n])), results[n]) for n in runs}


def _rmse(predicted, actual) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(actual)) ** 2)))


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in load) + " (1, 5, 15 min)"


def _table(title: str, rows: dict[str, dict], columns: tuple[str, ...]) -> str:
    lines = [title, f"  {'':<30}" + "".join(f"{c:>18}" for c in columns)]
    for name, row in rows.items():
        cells = []
        for column in columns:
            value = row[column]
            if value is None:
                cells.append("")
            elif "RMSE" in column:
                cells.append(f"{value:.4f}")
            else:
                cells.append(f"{value:,.0f}" if value >= 100 else f"{value:.2f}")
        lines.append(f"  {name:<30}" + "".join(f"{c:>18}" for c in cells))
    return "\n".join(lines)
