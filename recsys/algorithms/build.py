"""The one way to make a model: validate its config, construct it, wire its components, load
its state.

Every place that turns (algorithm, config, seed) plus maybe saved parameters into a model (the
engine's served models, retrains, time travel, the A/B simulator, evaluation, the bench) calls
`build_model`, so validation and composition are written once.

>>> from recsys.algorithms.base import Catalog
>>> catalog = Catalog(("a", "b", "c"), (("x",), ("y",), ("x",)))
>>> model = build_model(ModelSpec("popularity", seed=3), catalog)
>>> (model.name, model.seed, model.catalog.n)
('popularity', 3, 3)
>>> build_model(ModelSpec("mf", {"factors": 0}), catalog)
Traceback (most recent call last):
...
recsys.errors.RecsysError: factors must be between 2 and 256, got 0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recsys.algorithms.base import Catalog, Recommender
from recsys.algorithms.config import Config
from recsys.algorithms.registry import algorithm_class
from recsys.events import DEFAULT_WEIGHTS, EventWeights


@dataclass(frozen=True)
class ModelSpec:
    """What a model is, apart from what it learned: the algorithm's name, its config (a
    partial dict: missing fields take their defaults), the seed of its random draws and the
    event weights it learns with."""

    algorithm: str
    config: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    weights: EventWeights = DEFAULT_WEIGHTS


def validate_config(algorithm: str, config: Mapping[str, Any]) -> Config:
    """`algorithm`'s config with the values of `config` (a partial dict) over its defaults.
    Raises `RecsysError` for an unknown algorithm or parameter, or a value out of bounds."""
    return algorithm_class(algorithm).config_class.from_dict(dict(config))


def build_model(
    spec: ModelSpec,
    catalog: Catalog,
    state: Mapping[str, np.ndarray] | None = None,
    *,
    components: Mapping[str, Recommender] | None = None,
) -> Recommender:
    """A model for `spec` over `catalog`, holding `state` (a dict of arrays from `state()`)
    if given, else untrained.

    `components` (name -> model) is passed to `attach` for an algorithm that reads other
    models (its `components` class attribute); without it such a model trains private copies.

    Raises `RecsysError` for an unknown algorithm or a config value out of its bounds, and
    `KeyError`/`ValueError` for a state saved with another layout of arrays.
    """
    cls = algorithm_class(spec.algorithm)
    config = validate_config(spec.algorithm, spec.config)
    model = cls(config, catalog=catalog, weights=spec.weights, seed=int(spec.seed))
    if components is not None and cls.components:
        model.attach(components)
    if state is not None:
        model.load_state(dict(state))
    return model
