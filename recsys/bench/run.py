"""python -m recsys bench: latency and throughput on the default world and a 10,000-item world.

Both worlds are built in a temporary directory (the lab database is never touched) and measured
in one run, so their figures compare side by side. Medians and tail percentiles, never means.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.algorithms import REGISTRY, ModelSpec, Recommender, build_model
from recsys.bench.populations import TARGET_PEOPLE, big_run
from recsys.bench.reopen import reopen_seconds, tour_rehearsal_seconds
from recsys.engine import Engine
from recsys.lifecycle.background import settle

WORLDS = {
    "default": {},
    "10k items": {"n_items": 10_000, "n_users": 1_000, "sessions_per_user": 40},
}
QUICK_WORLDS = {
    "default": {"n_users": 100, "sessions_per_user": 20},
    "10k items": {"n_items": 10_000, "n_users": 200, "sessions_per_user": 20},
}
BUDGETS = {  # (world, metric): budget in ms
    ("default", "interact p50"): 5.0,
    ("default", "interact p99"): 20.0,
    ("10k items", "interact p99"): 30.0,
    ("default", "page rerun after like p50"): 150.0,
    ("default", "app interact max"): 50.0,  # policy retrains run in the background
}
FLOORS = {  # (world, metric): at least this much
    ("default", "A/B sim impressions/s"): 20_000.0,
    ("10k items", "A/B sim impressions/s"): 20_000.0,
}
FLOOR_NAMES = tuple(m for _, m in FLOORS)
REPLAY_EVENTS = 10_000
MOVIELENS = Path(__file__).resolve().parents[3] / "shared/datasets/ml-latest-small"
KIND_MIX = ["view"] * 4 + ["click"] * 3 + ["like"] * 2 + ["dislike", "favorite", "skip"]
KIND_MIX += ["rating"] * 2


def run_bench(
    quick: bool = False,
    seed: int = 0,
    worlds: dict[str, dict] | None = None,
    repetitions: int | None = None,
    extras: bool | None = None,
    population: int = TARGET_PEOPLE,
) -> dict[str, Any]:
    """Latency and throughput on each world (the first also runs `population` simulated people);
    `extras` (default: unless `quick`) adds MovieLens comparisons and the live loop (minutes)."""
    extras = not quick if extras is None else extras
    worlds = worlds or (QUICK_WORLDS if quick else WORLDS)
    repetitions = repetitions or (200 if quick else 1000)
    results = {}
    with tempfile.TemporaryDirectory(prefix="recsys-bench-") as folder:
        for i, (name, sizes) in enumerate(worlds.items()):
            path = Path(folder) / f"{name}.duckdb"
            results[name] = _measure(path, sizes, repetitions, seed)
            if i == 0:  # a built-in brings its own world: the same load from any lab
                results[name] |= big_run(path, population, seed) | _scenario_loads(path)
    report = {"quick": quick, "results": results, "text": _table(results)}
    movielens = MOVIELENS
    try:
        import surprise  # optional: pip install scikit-surprise
    except ImportError:
        surprise = None
    if surprise is not None and (movielens / "ratings.csv").exists() and extras:
        ours, theirs = movielens_comparison(movielens / "ratings.csv", surprise)
        report["movielens"] = {"mf": ours, "surprise SVD": theirs}
        report["text"] += "\n\nMovieLens ml-latest-small, random 80/20 (seed 0):\n" + "\n".join(
            f"  {name:<13} RMSE {m['RMSE']:.4f}  MAE {m['MAE']:.4f}  fit {m['fit s']:.2f} s"
            for name, m in report["movielens"].items()
        )
    if (movielens / "ratings.csv").exists() and extras:
        quality = ranking_quality(movielens, seed)
        report["ranking quality"] = quality["ranking quality"]
        report["text"] += "\n\n" + quality["text"]
    if extras:
        page = first_page(3)
        report["first page"] = {k: v for k, v in page.items() if k != "text"}
        report["text"] += "\n\n" + page["text"]
        loop = live_loop()
        report["live loop"] = {n: v for n, v in loop.items() if n != "text"}
        report["text"] += "\n\n" + loop["text"]
    return report


def first_page(rounds: int = 5, against: str | None = None) -> dict[str, Any]:
    """`streamlit run app.py` to the first card in headless Chromium, on an existing and a new
    lab, beside a hello-world app (`recsys.bench.firstpage`); with `against` (another tree,
    such as a worktree of older code) that tree's app too, taking turns. Skipped, saying why,
    where Chromium or Playwright is missing."""
    from recsys.bench import firstpage

    if why := firstpage.available():
        return {"skipped": why, "text": f"App first page: skipped ({why})"}
    apps = {"new": firstpage.ROOT / "app.py"}
    if against:
        apps["old"] = Path(against).resolve() / "app.py"
    return firstpage.compare(rounds, apps)


def live_loop(visits: int | None = None, seeds: list[int] | None = None) -> dict[str, Any]:
    """Fresh users of every persona on autopilot with every algorithm on the default world,
    measured against the hidden taste (`recsys.bench_loop`); alone: `bench --loop`."""
    from recsys.bench.loop import SEEDS, VISITS, live_loop_table

    visits, seeds = (VISITS if visits is None else visits), (SEEDS if seeds is None else seeds)
    return live_loop_table(visits=visits, seeds=seeds)


def ranking_quality(folder: Path = MOVIELENS, seed: int = 0) -> dict[str, Any]:
    """Top-10 quality of mf, item_knn, popularity and implicit's ALS (when installed) on one
    per-user 75/25 split of MovieLens (`recsys.bench_quality`); alone: `bench --quality`."""
    from recsys.bench.quality import quality_table, ranking_comparison
    from recsys.errors import RecsysError

    if not (folder / "ratings.csv").exists():
        raise RecsysError(f"{folder / 'ratings.csv'} not found: the quality bench needs it")
    result = ranking_comparison(folder / "ratings.csv", seed)
    return {"ranking quality": result, "text": quality_table(result)}


def _measure(path: Path, sizes: dict, repetitions: int, seed: int) -> dict[str, float]:
    started = time.perf_counter()
    engine = Engine.create(path, **sizes)
    build = time.perf_counter() - started
    rng = np.random.default_rng(seed)
    known = [u for u, kind in engine.users().items() if kind == "simulated"]
    n_items, n_events = engine.catalog.n, engine.last_seq
    for _ in range(20):  # warm-up: first calls pay for imports and allocations
        engine.interact(known[0], int(rng.integers(n_items)), "view")

    interact = _interactions(engine, rng, known, repetitions, "bench")

    # The same mix as the app runs it: policy retrains on the background worker, so no click
    # waits for one (the loop above is the command line's: each retrain inside its click).
    retrains = engine.version_store.updates("mf")
    policy_retrains = int((retrains["trigger"] == "every N ratings").sum())
    engine.retrainer.enabled = True
    settle()  # as `recsys.ui.state.engine_for` does
    app_interact = _interactions(engine, rng, known, repetitions, "bench-app")
    engine.retrainer.wait()
    engine.retrainer.enabled = False
    retrains = engine.version_store.updates("mf")
    background_retrains = int((retrains["trigger"] == "every N ratings").sum()) - policy_retrains

    # The lifecycle: a gated retrain (fit + holdout metrics), rollback, time travel, a journey.
    mark = time.perf_counter()
    engine.lifecycle.train("mf", "manual", "always")
    train = time.perf_counter() - mark
    mark = time.perf_counter()
    engine.lifecycle.rollback("mf")
    rollback = time.perf_counter() - mark
    from recsys.lifecycle.timetravel import journey, recommend_as_of

    live = engine.store.served_events("mf")
    travel = []
    for seq, user in live.sample(min(20, len(live)), random_state=seed)[["seq", "user_id"]].values:
        mark = time.perf_counter()
        recommend_as_of(engine, user, int(seq), 10, "mf")
        travel.append((time.perf_counter() - mark) * 1000)
    mark = time.perf_counter()
    journey(engine, known[0], "mf")
    walk = time.perf_counter() - mark

    # A simulated A/B run end to end: create, rank, play, log impressions, ground truth, report.
    from recsys.experiments.simulation import simulate

    runs = []
    for run in range(3):
        mark = time.perf_counter()
        result = simulate(engine, "mf,popularity", sessions=20, seed=seed + run)
        runs.append(sum(a["impressions"] for a in result["arms"]) / (time.perf_counter() - mark))

    recommend = []
    for _ in range(repetitions):
        user = known[rng.integers(len(known))]
        engine.host.cache.clear()  # measure the ranking itself, not the per-state cache
        mark = time.perf_counter()
        engine.recommend(user, 10)
        recommend.append((time.perf_counter() - mark) * 1000)

    mark = time.perf_counter()
    engine.reset_lab()  # drops the bench's interactions again: back to the seeded world
    reset = time.perf_counter() - mark
    rehearse = tour_rehearsal_seconds(engine)  # ends on the seeded world and a fresh visitor
    for i in range(repetitions):  # the log to replay: the history plus live events
        engine.interact(known[i % len(known)], int(rng.integers(n_items)), "like")

    # Replay: what catching up costs each algorithm, on the newest REPLAY_EVENTS of the log,
    # with fresh models wired as in the engine (a blend reads the others, learns nothing twice).
    events = list(engine.store.events(after_seq=max(engine.last_seq - REPLAY_EVENTS, 0)).rows())
    models: dict[str, Recommender] = {}
    for name in REGISTRY:  # the registry lists a blend after its parts
        spec = ModelSpec(name, weights=engine.weights)
        models[name] = build_model(spec, engine.catalog, components=models)
    replay = {}
    for name, model in models.items():
        mark = time.perf_counter()
        for event in events:
            model.learn_one(event)
        replay[name] = len(events) / (time.perf_counter() - mark)
    validate, load = _import(engine)
    engine.close()
    reopen = reopen_seconds(path)["reopen s"]  # a fresh process, up to the first list
    engine = Engine.open(path)  # the first event of a process: the policy counters start
    engine.recommend(known[0])  # caught up first: the replay is the reopen's cost, not its
    first_event = engine.interact(known[0], 0, "view").timings["total"]
    engine.close()
    # The page as a person sees it (Streamlit lives in recsys.ui; imported only here).
    from recsys.ui.headless import rerun_after_like_ms

    page = rerun_after_like_ms(str(path), clicks=10 if repetitions >= 200 else 3)

    figures = {
        "items": n_items,
        "events": n_events,
        "build s": build,
        "interact p50": _p(interact, 50),
        "interact p95": _p(interact, 95),
        "interact p99": _p(interact, 99),
        "interact max": max(interact),
        "policy retrains": policy_retrains,
        "app interact p50": _p(app_interact, 50),
        "app interact p99": _p(app_interact, 99),
        "app interact max": max(app_interact),
        "background retrains": background_retrains,
        "recommend p50": _p(recommend, 50),
        "recommend p99": _p(recommend, 99),
        "page rerun after like p50": _p(page, 50),
        "page rerun after like p95": _p(page, 95),
        "reopen s": reopen,
        "first interact after open": first_event,
        "reset lab s": reset,
        "tour: rehearse again s": rehearse,
        "train + holdout mf s": train,
        "rollback mf s": rollback,
        "time travel p50": _p(travel, 50),
        "time travel max": max(travel),
        "journey s": walk,
        "A/B sim impressions/s": float(np.median(runs)),
        "import: validate s": validate,
        "import: load s": load,
    }
    figures |= {f"replay {name} ev/s": rate for name, rate in replay.items()}
    figures["replay all ev/s"] = 1.0 / sum(1.0 / r for r in replay.values())
    return figures


def _interactions(engine: Engine, rng, known: list[str], n: int, fresh: str) -> list[float]:
    """`n` interactions of KIND_MIX on random items, a tenth by fresh users (`fresh`-i);
    returns each one's milliseconds."""
    timings = []
    for i in range(n):
        user = f"{fresh}-{i}" if rng.random() < 0.1 else known[rng.integers(len(known))]
        kind = KIND_MIX[rng.integers(len(KIND_MIX))]
        value = float(rng.integers(1, 11)) / 2 if kind == "rating" else None
        step = engine.interact(user, int(rng.integers(engine.catalog.n)), kind, value)
        timings.append(step.timings["total"])
    return timings


def _import(engine: Engine) -> tuple[float, float]:
    """The world's own catalog and log written as the lab's CSV files, then imported back:
    validation (parse and every check), and loading (fitting the semi-synthetic truth,
    training every algorithm, writing the new lab in one transaction, reopening the models)."""
    from recsys.data.importer import read_dataset
    from recsys.data.lab import load_dataset

    items = engine.items.assign(
        genres=engine.items["genres"].map("|".join), tags=engine.items["tags"].map("|".join)
    )[["item_id", "title", "genres", "tags", "year"]]
    events = engine.store.events()
    log = pd.DataFrame(
        {
            "user_id": events.user,
            "item_id": events.item,
            "kind": events.kind,
            "value": events.value,
            "timestamp": events.ts + 1.7e9,
        }
    )
    files = {
        "items.csv": items.to_csv(index=False).encode(),
        "interactions.csv": log.to_csv(index=False).encode(),
    }
    mark = time.perf_counter()
    report = read_dataset("lab", files)
    validate = time.perf_counter() - mark
    with tempfile.TemporaryDirectory(prefix="recsys-bench-import-") as folder:
        Path(folder, "items.csv").write_bytes(files["items.csv"])
        mark = time.perf_counter()
        load_dataset(engine, report, path=folder)
        load = time.perf_counter() - mark
    return validate, load


SCENARIOS = {"scenario: bubble s": "filter-bubble", "scenario: drift s": "taste-drift"}


def _scenario_loads(path: Path) -> dict[str, float]:
    """Seconds to load a short built-in scenario (filter bubble: 20 autopilot visits) and the
    longest (taste drift: 320 visits, a drift alarm and its retrain), as `scenario load` does:
    the world swap, the runs and the claims' checks, in one transaction. Each replaces the
    lab at `path`."""
    from recsys.data import scenarios

    seconds = {}
    engine = Engine.open(path)
    for row, name in SCENARIOS.items():
        mark = time.perf_counter()
        scenarios.load(engine, scenarios.get(engine.store, name))
        seconds[row] = time.perf_counter() - mark
    engine.close()
    return seconds


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def _table(results: dict[str, dict[str, float]]) -> str:
    names = list(results)
    metrics = list(results[names[0]])
    lines = [f"{'metric (ms unless noted)':<26}" + "".join(f"{n:>14}" for n in names) + "   budget"]
    for metric in metrics:
        row = f"{metric:<26}"
        for name in names:
            value = results[name].get(metric)
            if value is None:  # measured on the first world only
                row += f"{'':>14}"
                continue
            row += (
                f"{value:>14,.0f}"
                if value >= 1000
                or metric
                in ("items", "events", "policy retrains", "background retrains", *FLOOR_NAMES)
                else (f"{value:>14.2f}")
            )
        budgets = [
            f"{n} <= {b:g} ms {'ok' if results[n][metric] <= b else 'MISSED'}"
            for (n, m), b in BUDGETS.items()
            if m == metric and n in results
        ]
        budgets += [
            f"{n} >= {b:,.0f} {'ok' if results[n][metric] >= b else 'MISSED'}"
            for (n, m), b in FLOORS.items()
            if m == metric and n in results
        ]
        lines.append(row + ("   " + "; ".join(budgets) if budgets else ""))
    return "\n".join(lines)


def movielens_comparison(ratings_csv, surprise, seed: int = 0) -> tuple[dict, dict]:
    """Our MF against scikit-surprise's SVD (both defaults) on one random 80/20 split of a
    MovieLens ratings file: RMSE, MAE and fit seconds of each."""
    from recsys.data.ratings import catalog_for, rating_events, read_ratings
    from recsys.evaluation import predict

    ratings = read_ratings(ratings_csv)
    order = np.random.default_rng(seed).permutation(len(ratings.users))
    cut = int(0.8 * len(order))
    train, test = ratings.take(order[:cut]), ratings.take(order[cut:])
    catalog, index = catalog_for(train, test)
    model = build_model(ModelSpec("mf", seed=seed), catalog)
    started = time.perf_counter()
    model.fit(rating_events(train, index), catalog)
    ours_fit = time.perf_counter() - started
    guess = predict(
        model,
        np.array(test.users, dtype=object),
        np.array([index[i] for i in test.items], dtype=np.int64),
    )

    frame = pd.DataFrame({"u": train.users, "i": train.items, "r": train.ratings})
    data = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(0.5, 5.0)))
    svd = surprise.SVD(random_state=seed)
    started = time.perf_counter()
    svd.fit(data.build_full_trainset())
    theirs_fit = time.perf_counter() - started
    theirs = np.array([svd.predict(u, i).est for u, i in zip(test.users, test.items, strict=True)])

    def errors(predicted: np.ndarray, seconds: float) -> dict:
        error = predicted - test.ratings
        return {
            "RMSE": float(np.sqrt(np.mean(error**2))),
            "MAE": float(np.mean(np.abs(error))),
            "fit s": seconds,
        }

    return errors(guess, ours_fit), errors(theirs, theirs_fit)
