"""Content-based: TF-IDF over each item's genres, tags and title words (scikit-learn).

A user's profile sums the vectors of the items they touched, each times the event's signed
weight: likes and high ratings pull the profile towards an item, dislikes and low ratings push
it away (by `negative_weight`). An item's score is its vector's dot product with the profile
(a sum of cosines with what you touched) plus a small popularity prior
(`recsys/algorithms/reasons.py`), so a newcomer's list is on the same scale; the explanation
names the genres, tags and title words that matched.

The profile is a sum, not an average: an average pulls every item towards its similarity with
the newest one, so liking a Sci-Fi film would lower the Dramas you love. With a sum a like only
adds and a dislike only subtracts (TF-IDF weights are never negative), and the ranking is the
same as an average's but for the prior, whose share shrinks as the history grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy import sparse

from recsys.algorithms.base import Explanation, Recommender, UpdateInfo, lead_part
from recsys.algorithms.config import Config, param
from recsys.algorithms.reasons import NOTHING_POSITIVE, PRIOR_PART, popularity_prior, prior_reason
from recsys.events import Event, EventFrame

SHOWN = 5  # terms named in an explanation; the rest are summed
REST = "other terms"
KINDS = {"genre": "genre", "tag": "tag", "title": "title word"}


@dataclass(frozen=True)
class ContentConfig(Config):
    title_weight: float = param(0.3, 0.0, 5.0, "weight of title words against genres and tags")
    negative_weight: float = param(1.0, 0.0, 5.0, "how hard dislikes and low ratings push away")
    popularity_prior: float = param(0.3, 0.0, 5.0, "weight of the prior a newcomer's list shows")


def _tokens(document: tuple) -> list[str]:
    genres, tags, title = document
    words = [w.strip(".,:;!?'\"()").lower() for w in title.split()]
    return (
        [f"genre:{g}" for g in genres]
        + [f"tag:{t}" for t in tags]
        + [f"title:{w}" for w in words if len(w) > 2]
    )


class ContentBased(Recommender):
    name = "content"
    config_class = ContentConfig
    summary = "Content-based: TF-IDF of genres, tags and titles against your taste profile."
    scale = "similarity"
    config: ContentConfig

    def _reset(self) -> None:
        # The item vectors depend on the catalog and config only: rebuilt, never stored, and
        # kept across resets of this model (a fit resets it right after construction).
        built = getattr(self, "_vectors_of", None)
        if built is None or built[0] is not self.catalog or built[1] != self.config:
            self._items, self._labels = self._item_vectors()
            self._vectors_of = (self.catalog, self.config)
        # Each user's profile (the signed sum of their items' vectors) as a sparse row: its
        # terms (sorted) and values. A dense users x terms matrix grows with users times the
        # catalog's vocabulary (a 50,000-title import: 3.8 GB for 10,000 users).
        self._terms: list[np.ndarray] = []
        self._values: list[np.ndarray] = []

    def _item_vectors(self) -> tuple[sparse.csr_matrix, list[str]]:
        """Unit TF-IDF rows of the items (items x terms) and each term's label."""
        documents = [
            (g, t, title)
            for g, t, title in zip(
                self.catalog.genres,
                self.catalog.tags or [()] * self.catalog.n,
                self.catalog.titles,
                strict=True,
            )
        ]
        # Sparse: a real catalogue's titles bring thousands of words (MovieLens: 10,500 terms
        # over 9,742 films), and a dense matrix of them took seconds to build on every open.
        # scikit-learn is imported here: it costs about half a second, which every command
        # line call (`--help` included) would otherwise pay before it knows it needs a model.
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(analyzer=_tokens, sublinear_tf=True, norm=None)
        matrix = vectorizer.fit_transform(documents).tocsr().astype(np.float64)
        terms = vectorizer.get_feature_names_out().astype(str)
        kind, _, word = np.char.partition(terms, ":").T
        labels = [f"{KINDS.get(k, k)} {w}" for k, w in zip(kind, word, strict=True)]
        title = np.char.startswith(terms, "title:")
        matrix = matrix @ sparse.diags(np.where(title, self.config.title_weight, 1.0))
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        items = sparse.csr_matrix(sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix)
        return items, labels

    def _grow(self, n_users: int) -> None:
        while len(self._terms) < n_users:
            self._terms.append(np.empty(0, dtype=np.int32))
            self._values.append(np.empty(0))

    def _profile(self, user: int) -> np.ndarray:
        """The user's profile as a dense vector over the terms."""
        profile = np.zeros(self._items.shape[1])
        profile[self._terms[user]] = self._values[user]
        return profile

    def _add(self, user: int, terms: np.ndarray, values: np.ndarray) -> None:
        """Add a sparse row to the user's profile, term by term as a dense row would add."""
        order = np.argsort(terms, kind="stable")  # an item's terms need not be sorted
        terms, values = terms[order], values[order]
        have, sums = self._terms[user], self._values[user].copy()
        pos = np.searchsorted(have, terms)
        found = pos < len(have)
        found[found] = have[pos[found]] == terms[found]
        sums[pos[found]] += values[found]
        new = ~found
        self._terms[user] = np.insert(have, pos[new], terms[new])
        self._values[user] = np.insert(sums, pos[new], values[new])

    def _signed(self, weights: np.ndarray) -> np.ndarray:
        return np.where(weights < 0, self.config.negative_weight * weights, weights)

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        n_users = len(self._user_ids)
        by_user = sparse.csr_matrix(
            (self._signed(weights), (user_rows, events.item)), shape=(n_users, self.catalog.n)
        )
        profiles = sparse.csr_matrix(by_user @ self._items)
        profiles.sort_indices()
        for user in range(n_users):
            lo, hi = profiles.indptr[user], profiles.indptr[user + 1]
            self._add(user, profiles.indices[lo:hi].astype(np.int32), profiles.data[lo:hi])

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        item = event.item
        signed = float(self._signed(np.array([weight]))[0])
        row = self._row(item)
        before = float(row @ self._profile(user))
        start, end = self._items.indptr[item], self._items.indptr[item + 1]
        self._add(
            user,
            self._items.indices[start:end].astype(np.int32),
            signed * row[self._items.indices[start:end]],
        )
        count, prior = self._popularity[item], self.config.popularity_prior
        return UpdateInfo(
            self.name,
            user_change=float(abs(signed) * np.linalg.norm(row)),
            score_before=before + float(popularity_prior(count - (weight > 0), prior)),
            score_after=float(row @ self._profile(user)) + float(popularity_prior(count, prior)),
            details={"signed_weight": signed},
        )

    def _row(self, item: int) -> np.ndarray:
        # Straight from the CSR arrays: scipy's row indexing costs ~100 us, a replay's budget.
        items = self._items
        start, end = items.indptr[item], items.indptr[item + 1]
        row = np.zeros(items.shape[1])
        row[items.indices[start:end]] = items.data[start:end]
        return row

    def _prior(self, items: slice | int = slice(None)) -> np.ndarray:
        return popularity_prior(self._popularity[items], self.config.popularity_prior)

    def _cold_scores(self) -> np.ndarray:
        return self._prior()

    def _taste(self, user: int) -> np.ndarray:
        return self._items @ self._profile(user)

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        return self._taste(user) + self._prior()

    def _explanation(self, item: int, contribution: np.ndarray | None) -> Explanation:
        """The score of `item` for a profile whose term-by-term products with the item's
        vector are `contribution` (None: no history)."""
        parts: dict[str, float] = {}
        matched = 0.0
        if contribution is not None:
            order = np.argsort(-np.abs(contribution), kind="stable")
            shown = [t for t in order[:SHOWN].tolist() if contribution[t] != 0]
            parts = {self._labels[t]: float(contribution[t]) for t in shown}
            matched = float(contribution.sum())
            if rest := matched - sum(parts.values()):
                parts[REST] = rest
        prior = float(self._prior(item))
        parts[PRIOR_PART] = prior
        lead = lead_part(parts)
        if lead is None:
            reason = (
                f"{NOTHING_POSITIVE}: its genres and tags are ones you did not like"
                f" ({matched:+.2f})"
                if matched < 0
                else f"{NOTHING_POSITIVE}: nothing in common with what you liked, nobody "
                "liked it yet"
            )
        elif lead == PRIOR_PART:
            rest = (
                "no history of yours yet"
                if contribution is None
                else f"little in common with what you touched ({matched:+.2f})"
            )
            reason = prior_reason(prior, int(self._popularity[item]), rest)
        elif lead == REST:
            reason = f"matches your taste in many small ways: {REST} {parts[REST]:+.2f}"
        else:
            others = [p for p, v in parts.items() if v > 0 and p not in (lead, REST, PRIOR_PART)]
            also = f", also {', '.join(others[:2])}" if others else ""
            reason = f"matches your taste for {lead} ({parts[lead]:+.2f}){also}"
        return Explanation(matched + prior, parts, reason, lead=lead)

    def _explain(self, user: int, item: int) -> Explanation:
        return self._explanation(item, self._row(item) * self._profile(user))

    def _cold_explain(self, item: int) -> Explanation:
        return self._explanation(item, None)

    def _state(self) -> dict[str, np.ndarray]:
        n_users = len(self._user_ids)
        lengths = np.array([len(t) for t in self._terms[:n_users]], dtype=np.int64)
        return {
            "profile_lengths": lengths,
            "profile_terms": np.concatenate([np.empty(0, np.int32), *self._terms[:n_users]]),
            "profile_values": np.concatenate([np.empty(0), *self._values[:n_users]]),
        }

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        # (States saved before the profile was a sum also hold "profile_mass": not needed;
        # those saved before it was sparse hold it dense, as "profile_sum".)
        self._terms, self._values = [], []
        if "profile_sum" in state:
            for row in state["profile_sum"]:
                terms = np.flatnonzero(row).astype(np.int32)
                self._terms.append(terms)
                self._values.append(row[terms].astype(np.float64))
        else:
            bounds = np.concatenate([[0], np.cumsum(state["profile_lengths"])]).tolist()
            for lo, hi in pairwise(bounds):
                self._terms.append(state["profile_terms"][lo:hi].astype(np.int32))
                self._values.append(state["profile_values"][lo:hi].astype(np.float64))
        self._grow(len(self._user_ids))
