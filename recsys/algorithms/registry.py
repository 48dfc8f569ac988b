"""The algorithm registry: one mapping from name to class feeds the UI, the CLI and the tests.

Adding an algorithm is one module under `recsys/algorithms/` and one line in `REGISTRY`.
"""

from __future__ import annotations

from recsys.algorithms.base import Recommender
from recsys.algorithms.content import ContentBased
from recsys.algorithms.epsilon_greedy import EpsilonGreedy
from recsys.algorithms.hybrid import Hybrid
from recsys.algorithms.item_knn import ItemKNN
from recsys.algorithms.linucb import LinUCB
from recsys.algorithms.mf import MatrixFactorization
from recsys.algorithms.popularity import Popularity
from recsys.algorithms.thompson import Thompson
from recsys.algorithms.trending import Trending
from recsys.algorithms.ucb1 import UCB1
from recsys.errors import RecsysError

REGISTRY: dict[str, type[Recommender]] = {
    cls.name: cls
    for cls in (
        MatrixFactorization,
        ItemKNN,
        ContentBased,
        Popularity,
        Trending,
        EpsilonGreedy,
        UCB1,
        Thompson,
        LinUCB,
        Hybrid,
    )
}
DEFAULT_ALGORITHM = "mf"
Hybrid.component_classes = REGISTRY
# Algorithms an open lab has versions of that are not registered: plugins not loaded this time
# (filled by the model host on open), named as such where one is asked for.
ABSENT: set[str] = set()


def algorithm_class(name: str) -> type[Recommender]:
    try:
        return REGISTRY[name]
    except KeyError:
        if name in ABSENT:
            raise RecsysError(
                f"the algorithm {name!r} is a plugin this lab used that is not loaded now: put "
                "its file in the plugins/ folder or name it with --plugin PATH (docs/plugins.md)"
            ) from None
        raise RecsysError(
            f"unknown algorithm {name!r}; choose one of {', '.join(REGISTRY)}"
        ) from None
