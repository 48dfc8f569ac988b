"""Hybrid: a weighted blend of other algorithms, with cold-start switching.

Each component's scores for the user are standardised over the catalog (z-scores), so that
stars, co-occurrence sums and activity logs can be added, then blended with the configured
weights. A user who has touched fewer than `cold_start_items` items gets content and popularity
only: collaborative signals know nothing about them yet. A newcomer gets the same blend of the
two components' own cold-start scores, so the first event changes the blend, not its scale.

Which way does feedback move a blend? Each component moves the item its way (the contract), but
the z-scores are taken afresh on every request: after a like, the liked item's neighbours can
rise less than the rest and slip. So the direction is measured in a fixed frame: the same
weights, means and spreads before and after the event (`standardisation`, `blend`).

In the lab the components are the engine's own models (`attach`), so nothing is learned twice;
built on its own (tests, offline evaluation) the hybrid owns and trains its components.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recsys.algorithms.base import Explanation, Recommender, UpdateInfo, lead_part
from recsys.algorithms.config import Config, param
from recsys.algorithms.reasons import NOTHING_POSITIVE
from recsys.events import Event, EventFrame

COMPONENTS = ("mf", "item_knn", "content", "popularity", "trending")
COLD_START = ("content", "popularity")
COLD_USER = ""  # no valid user id: every component scores it as a newcomer


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
    scale = "blend"
    components = COMPONENTS
    # Set by the algorithm registry (`recsys.algorithms`), which imports this module: the
    # classes of private components for a hybrid built on its own.
    component_classes: ClassVar[dict[str, type[Recommender]]] = {}
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
            classes = self.component_classes
            self._own = {
                name: classes[name](catalog=self.catalog, weights=self.weights, seed=self.seed)
                for name in COMPONENTS
            }
        return self._own

    def attach(self, models: Mapping[str, Recommender]) -> None:
        """Use the engine's models (a live mapping: a reconfigured model is picked up) as
        components instead of private copies."""
        self._owns = False
        self._attached = models

    def depends_on(self) -> tuple[str, ...]:
        return COMPONENTS if not self._owns else ()

    def _weights(self, user: int) -> dict[str, float]:
        if self._seen.size(user) < self.config.cold_start_items:
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

    def standardisation(self, user: str) -> dict[str, tuple[float, float, float]]:
        """Per component, the (weight, mean, spread) that turn its scores for `user` into
        their share of the blend now. The blend re-standardises on every request, so after a
        like an item can slip while everything else rises more; held fixed (`blend`), the
        frame shows what the like itself did: each component moves the item its way."""
        return self._blend(user)[2]

    def blend(self, user: str, frame: dict[str, tuple[float, float, float]] | None = None):
        """The blended scores of `user` in `frame` (their current one if None)."""
        return self._blend(user, frame)[0]

    def _blend(self, user: str, frame: dict[str, tuple[float, float, float]] | None = None):
        """The blend, each component's share of it (z-scores times weights) and the frame."""
        if frame is None:
            row = self._users.get(user)
            weights = dict.fromkeys(COLD_START, 0.5) if row is None else self._weights(row)
            scores = {n: self._components[n].score(user) for n in weights}
            frame = {
                n: (w, float(scores[n].mean()), float(scores[n].std())) for n, w in weights.items()
            }
        else:
            scores = {n: self._components[n].score(user) for n in frame}
        shares = {}
        for name, (weight, mean, spread) in frame.items():
            z = (scores[name] - mean) / spread if spread > 0 else np.zeros_like(scores[name])
            shares[name] = weight * z
        return sum(shares.values()), shares, frame

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        return self.blend(self._user_ids[user])

    def _cold_scores(self) -> np.ndarray:
        return self.blend(COLD_USER)

    def _explanations(self, user: str, items: list[int]) -> list[Explanation]:
        """Each item's shares, led by the component that lifts it most, whose own reason
        (about its own lead part) follows."""
        total, shares, frame = self._blend(user)
        mix = ", ".join(f"{n} {w:.0%}" for n, (w, _, _) in frame.items())
        labels = {f"{n} ({w:.0%})": n for n, (w, _, _) in frame.items()}
        parts = [{label: float(shares[n][i]) for label, n in labels.items()} for i in items]
        leads = [lead_part(p) for p in parts]
        reasons: dict[int, str] = {}
        for label, name in labels.items():  # one batch of reasons per leading component
            chosen = [i for i, lead in zip(items, leads, strict=True) if lead == label]
            if chosen:
                texts = self._components[name].reasons(user, chosen)
                reasons |= {i: f"{label}: {t}" for i, t in zip(chosen, texts, strict=True)}
        return [
            Explanation(
                float(total[i]),
                p,
                f"{reasons.get(i, NOTHING_POSITIVE + ': below average in every component')}"
                f" · blend: {mix}",
                lead=lead,
            )
            for i, p, lead in zip(items, parts, leads, strict=True)
        ]

    def _explain(self, user: int, item: int) -> Explanation:
        return self._explanations(self._user_ids[user], [item])[0]

    def _cold_explain(self, item: int) -> Explanation:
        return self._explanations(COLD_USER, [item])[0]

    def _reasons(self, user: int, items: list[int]) -> list[str]:
        return [e.reason for e in self._explanations(self._user_ids[user], items)]

    def _state(self) -> dict[str, np.ndarray]:
        if not self._owns:
            return {}  # the engine saves the components' states themselves
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
