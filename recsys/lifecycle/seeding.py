"""A new world in a lab: every algorithm trained on its history and stored as its seed version.

`install_world` trains in memory first and only then writes the world and the versions in one
transaction, so a failure anywhere leaves the store as it was.

A lab generated from a pack (`Engine.create`, the first `Engine.open`), an imported dataset and
a scenario's world fit only `FIRST_PAGE`, the algorithms the first page shows: the others'
seed versions are stored *deferred* (config, seed and `trained_through_seq`, no state) and
fitted from the log when first used (`ModelHost.holding`). The fit is a function of the events
through that seq, the config and the seed, so a deferred version ends up bit for bit what
fitting it at once would have stored (`tests/test_seeding.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from recsys.algorithms import (
    DEFAULT_ALGORITHM,
    REGISTRY,
    Catalog,
    ModelSpec,
    Recommender,
    build_model,
    validate_config,
)
from recsys.errors import RecsysError
from recsys.events import WEIGHT_PRESETS, EventFrame
from recsys.store.database import Store
from recsys.world import DEFAULT_PACK, DEFAULT_SEED, World, generate_world

Fitted = list[tuple[Recommender, float]]  # each model trained on a world, with its fit seconds
# What a new lab's first page shows (the default algorithm and the models it reads).
FIRST_PAGE = (*REGISTRY[DEFAULT_ALGORITHM].components, DEFAULT_ALGORITHM)


def seeded_store(
    path: str, world: str | World, seed: int, weights: str
) -> tuple[Store, Fitted | None]:
    """The store at `path`; an empty or missing one is seeded with `world` first (a pack's
    name, generated from `seed`, or a built World such as an imported dataset). Returns the
    store and, if it was seeded, the models trained for it (to serve as they are)."""
    store = Store.open(path)
    try:
        fitted = None
        if store.is_empty():
            if isinstance(world, World):
                fitted = install_world(store, world, weights, fit=FIRST_PAGE)
            else:
                fitted = seed_world(store, world, seed, weights, fit=FIRST_PAGE)
        return store, fitted
    except BaseException:
        store.close()
        raise


def new_store(
    path: str,
    world: str,
    seed: int,
    weights: str,
    reset: bool = False,
    fit: Collection[str] | None = FIRST_PAGE,
    **sizes: Any,
) -> tuple[Store, Fitted]:
    """A new store at `path` seeded with a freshly generated world, and the models trained
    for it (`fit`: which ones now, None for all; the others are deferred). Raises
    `RecsysError` if the file exists and `reset` is false, or if another process holds it."""
    if path != ":memory:" and Path(path).exists():
        if Path(path).is_dir():
            raise RecsysError(f"{path} is a directory; give a database file path")
        if not reset:
            raise RecsysError(f"{path} already exists; add --reset to recreate it")
        Store.open(path).close()  # fails with a clear message if another process holds it
        for leftover in (Path(path), Path(path + ".wal")):
            leftover.unlink(missing_ok=True)
    store = Store.open(path)
    try:
        return store, seed_world(store, world, seed, weights, fit=fit, **sizes)
    except BaseException:
        store.close()
        raise


def seed_world(
    store: Store,
    world: str = DEFAULT_PACK,
    seed: int = DEFAULT_SEED,
    weights: str = "default",
    fit: Collection[str] | None = None,
    **sizes: Any,
) -> Fitted:
    """Generate a world into an empty store and store every algorithm trained on it as a
    version (`fit`: the algorithms to train now, None for all; the others are deferred);
    returns the trained models."""
    check_weights(weights)
    return install_world(store, generate_world(world, seed, **sizes), weights, fit=fit)


def install_world(
    store: Store,
    world: World,
    weights: str = "default",
    configs: dict[str, dict] | None = None,
    progress: Callable[[float, str], None] | None = None,
    fit: Collection[str] | None = None,
) -> Fitted:
    """Train every algorithm on `world`'s history (with `configs` by name) in memory, then
    write the world and their versions as the seed versions in one transaction, replacing
    whatever the store held: a failure anywhere leaves the store as it was. `fit`: the
    algorithms trained now (None: all); the others' seed versions are deferred, fitted when
    first used. Returns each trained model with its fit time in seconds. Raises `RecsysError`
    for unknown weights or a config out of bounds, before any work."""
    check_weights(weights)
    for name, config in (configs or {}).items():
        validate_config(name, config)  # bounds, before any work
    frame = EventFrame.from_frame(world.events)
    through = int(frame.seq[-1]) if len(frame) else 0
    seed = int(world.meta["seed"])
    names = set(REGISTRY if fit is None else fit)
    names |= {part for name in names for part in REGISTRY[name].components}
    catalog = Catalog.from_frame(world.items)
    fitted = fit_models(catalog, frame, weights, seed, configs, progress, names)
    if progress:
        progress(0.95, "writing the new lab")
    trained = {m.name: (m.state(), s) for m, s in fitted}
    seed_versions = []  # in registry order; no parent; metrics are measured when first asked for
    for name in REGISTRY:
        config = validate_config(name, (configs or {}).get(name, {})).to_dict()
        state, seconds = trained.get(name, (None, None))  # None: deferred
        seed_versions.append((name, config, seed, through, through, state, "seed", seconds))
    seed_versions = [(*row, None, None) for row in seed_versions]
    store.replace_world(
        world.meta | {"weights": weights},
        world.items,
        world.personas,
        world.users,
        world.events,
        world.holdout,
        seed_versions=seed_versions,
    )
    return fitted


def fit_models(
    catalog: Catalog,
    events: EventFrame,
    weights: str,
    seed: int,
    configs: dict[str, dict] | None = None,
    progress: Callable[[float, str], None] | None = None,
    names: Collection[str] | None = None,
) -> Fitted:
    """Every registered algorithm (of `names`, if given) fitted on `events` (with `configs`
    by name where given), with its fit time in seconds. Holdout metrics are measured when
    first asked for (Lifecycle.measured): the first start of the app should not wait for ten
    evaluations."""
    models: dict[str, Recommender] = {}
    for name in REGISTRY:  # the registry lists a blend after its parts
        if names is not None and name not in names:
            continue
        spec = ModelSpec(name, (configs or {}).get(name, {}), seed, WEIGHT_PRESETS[weights])
        # a blend reads these models: no private copies to fit
        models[name] = build_model(spec, catalog, components=models)
    fitted = []
    for i, model in enumerate(models.values()):
        if progress:
            progress(i / len(models), f"training {model.name}")
        started = time.perf_counter()
        model.fit(events, catalog)
        fitted.append((model, time.perf_counter() - started))
    return fitted


def check_weights(weights: str) -> None:
    """Raises `RecsysError` unless `weights` names a preset of `WEIGHT_PRESETS`."""
    if weights not in WEIGHT_PRESETS:
        raise RecsysError(f"unknown weights {weights!r}; choose one of {', '.join(WEIGHT_PRESETS)}")
