"""The items an algorithm ranks: titles, genres, tags and the facts shown on cards.

Item ids are dense row numbers 0..n-1, the same in every model, frame and table of a lab.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from recsys.errors import RecsysError


@dataclass(frozen=True)
class Catalog:
    """The items an algorithm ranks; item ids are dense row numbers 0..n-1."""

    titles: tuple[str, ...]
    genres: tuple[tuple[str, ...], ...]
    tags: tuple[tuple[str, ...], ...] = ()
    years: tuple[int | None, ...] = ()  # shown on cards; empty where unknown
    regions: tuple[str | None, ...] = ()

    @property
    def n(self) -> int:
        return len(self.titles)

    def item(self, item: int) -> int:
        """`item` if it is a row of this catalog; raises `RecsysError` otherwise."""
        if not 0 <= item < self.n:
            raise RecsysError(f"unknown item {item}: item ids run from 0 to {self.n - 1}")
        return item

    def genre_affinity(self, taste: np.ndarray) -> pd.Series:
        """The mean of `taste` (one number per item) over each genre's items, centred on the
        mean over all items: which genres a user's personal scores favour, by genre name."""
        names, genres = self.genre_matrix
        affinity = (genres.T @ taste) / np.maximum(genres.sum(axis=0), 1) - taste.mean()
        return pd.Series(affinity, index=names).sort_values(ascending=False)

    @cached_property
    def genre_matrix(self) -> tuple[list[str], np.ndarray]:
        """The genre names (sorted) and an (n, genres) 0/1 matrix of each item's genres."""
        names = sorted({g for gs in self.genres for g in gs})
        index = {g: i for i, g in enumerate(names)}
        matrix = np.zeros((self.n, len(names)))
        for item, gs in enumerate(self.genres):
            matrix[item, [index[g] for g in gs]] = 1.0
        return names, matrix

    @classmethod
    def from_frame(cls, items: pd.DataFrame) -> Catalog:
        ids = items["item_id"].to_numpy()
        if not np.array_equal(ids, np.arange(len(ids))):
            raise ValueError("item ids must be dense 0..n-1 in order")
        return cls(
            titles=tuple(items["title"]),
            genres=tuple(tuple(g) for g in items["genres"]),
            tags=tuple(tuple(t) for t in items["tags"]) if "tags" in items else (),
            years=tuple(None if pd.isna(y) else int(y) for y in items["year"])
            if "year" in items
            else (),
            regions=tuple(None if pd.isna(r) else str(r) for r in items["region"])
            if "region" in items
            else (),
        )
