"""Recommendation algorithms behind one contract (`base.Recommender`).

`REGISTRY` (name -> class, in `registry.py`) feeds the UI, the CLI and the contract tests;
`build_model` (in `build.py`) is the one way to make a model from a name, a config and a saved
state.
"""

from __future__ import annotations

from recsys.algorithms.base import (
    SCALES,
    Catalog,
    Explanation,
    Recommender,
    UpdateInfo,
    lead_part,
)
from recsys.algorithms.build import ModelSpec, build_model, validate_config
from recsys.algorithms.config import Config
from recsys.algorithms.registry import ABSENT, DEFAULT_ALGORITHM, REGISTRY, algorithm_class

__all__ = [
    "ABSENT",
    "DEFAULT_ALGORITHM",
    "REGISTRY",
    "SCALES",
    "Catalog",
    "Config",
    "Explanation",
    "ModelSpec",
    "Recommender",
    "UpdateInfo",
    "algorithm_class",
    "build_model",
    "lead_part",
    "validate_config",
]
