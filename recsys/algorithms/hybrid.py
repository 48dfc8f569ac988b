"""Hybrid: a weighted blend of other algorithms, with cold-start switching.

Each component's scores for the user are standardised over the catalog (z-scores), so that
stars, co-occurrence sums and activity logs can be added, then blended with the configured
weights. A user who has touched fewer than `cold_start_items` items gets content and popularity
only: collaborative signals know nothing about them yet.

In the lab the components are the engine's own models (`attach`), so nothing is learned twice;
built on its own (tests, offline evaluation) the hybrid owns and trains its components.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.algorithms.base import Explanation, Recommender, UpdateInfo
from recsys.algorithms.config import Config, param
from recsys.events import Event, EventFrame

COMPONENTS = ("mf", "item_knn", "content", "popularity", "trending")
COLD_START = ("content", "popularity")


@dataclass(frozen=True)
class HybridConfig(Config):
    mf_weight: float = param(0.5, 0.0, 1.0, "share of matrix factorisation in the blend")
    item_knn_weight: float = param(0.2, 0.0, 1.0, "share of item-kNN in the blend")
    content_weight: float = param(0.2, 0.0, 1.0, "share of content-based in the blend")
    popularity_weight: float = param(0.1, 0.0, 1.0, "share of all-time popularity")
    trending_weight: float = param(0.0, 0.0, 1.0, "share of trending")
    cold_start_items: int = param(3, 0, 100, "below this many items touched: content+popularity")


class Hybrid(Recommender):
    name = "hybrid"
    config_class = HybridConfig
    summary = "Weighted blend of mf, item-kNN, content and popularity; cold-start switching."
    config: HybridConfig

    def _reset(self) -> None:
        if not getattr(self, "_owns", True):
            return  # attached: the engine's models stay the components
        self._owns = True
        self._own: dict[str, Recommender] | None = None

    @property
    def _components(self) -> dict[str, Recommender]:
        """The engine's models when attached, else private copies, built on first use: the
        engine attaches right after construction, so building copies up front (content's
        TF-IDF among them) would be wasted work on every open."""
        if not self._owns:
            return self._attached
        if self._own is None:
            from recsys.algorithms import REGISTRY  # the registry imports this module

            self._own = {
                name: REGISTRY[name](catalog=self.catalog, weights=self.weights, seed=self.seed)
                for name in COMPONENTS
            }
        return self._own

    def attach(self, models: dict[str, Recommender]) -> None:
        """Use the engine's models (its live dict: a reconfigured model is picked up) as
        components instead of private copies."""
        self._owns = False
        self._attached = models

    def depends_on(self) -> tuple[str, ...]:
        return COMPONENTS if not self._owns else ()

    def _weights(self, user: int) -> dict[str, float]:
        if len(self._seen[user]) < self.config.cold_start_items:
            return dict.fromkeys(COLD_START, 0.5)
        chosen = {name: getattr(self.config, f"{name}_weight") for name in COMPONENTS}
        total = sum(chosen.values())
        return {n: w / total for n, w in chosen.items() if w > 0} if total else {"popularity": 1.0}

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        if self._owns:
            for component in self._components.values():
                component.fit(events, self.catalog)

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        # The components learn (here, or in the engine when attached); scoring the whole blend
        # before and after would make catching up on many events slow, so it is not logged.
        if self._owns:
            for component in self._components.values():
                component.learn_one(event)
        return UpdateInfo(self.name, details={"weights": self._weights(user)})

    def _standardised(self, name: str, user: str) -> np.ndarray:
        scores = self._components[name].score(user)
        spread = scores.std()
        return (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)

    def _blend(self, user: int, parts: bool = False):
        user_id = self._user_ids[user]
        shares = {n: w * self._standardised(n, user_id) for n, w in self._weights(user).items()}
        total = sum(shares.values())
        return (total, shares) if parts else total

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        return self._blend(user)

    def _explain(self, user: int, item: int) -> Explanation:
        total, shares = self._blend(user, parts=True)
        weights = self._weights(user)
        parts = {f"{n} ({weights[n]:.0%})": float(s[item]) for n, s in shares.items()}
        leader = max(shares, key=lambda n: shares[n][item])
        mix = ", ".join(f"{n} {w:.0%}" for n, w in weights.items())
        reason = self._components[leader].explain(self._user_ids[user], item).reason
        return Explanation(float(total[item]), parts, f"{reason} · blend: {mix}")

    def _reasons(self, user: int, items: list[int]) -> list[str]:
        """Each item's reason is the reason of the component that lifted it most."""
        _, shares = self._blend(user, parts=True)
        names = list(shares)
        leaders = [names[int(np.argmax([shares[n][i] for n in names]))] for i in items]
        mix = ", ".join(f"{n} {w:.0%}" for n, w in self._weights(user).items())
        reasons = {}
        for name in set(leaders):
            chosen = [i for i, leader in zip(items, leaders, strict=True) if leader == name]
            texts = self._components[name].reasons(self._user_ids[user], chosen)
            reasons.update(zip(chosen, texts, strict=True))
        return [f"{reasons[i]} · blend: {mix}" for i in items]

    def _state(self) -> dict[str, np.ndarray]:
        if not self._owns:
            return {}  # the engine snapshots the components themselves
        return {
            f"{name}/{key}": value
            for name, component in self._components.items()
            for key, value in component.state().items()
        }

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        if not state:
            return
        for name, component in self._components.items():
            prefix = f"{name}/"
            component.load_state(
                {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            )
