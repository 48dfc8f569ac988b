"""What the explanations of several algorithms share: the popularity prior of the similarity
scorers and the wording of a reason with no positive part.

item-kNN and content-based score on a similarity scale; a person with no history would get all
zeros there. Both therefore add a small popularity prior, the same function of the item's count
of positive events before and after the first event, so a cold list is sensible and the first
like moves items on the scale they were already on:

    prior(i) = weight * log(1 + n_i) / (log(1 + n_i) + log(1 + PRIOR_HALF))

It rises with n_i alone (no maximum over the catalog, no number of users), so an event on one
item never moves another item's prior: feedback keeps its direction.

>>> round(float(popularity_prior(np.array([PRIOR_HALF]), 0.2)[0]), 3)
0.1
"""

from __future__ import annotations

import numpy as np

PRIOR_PART = "popularity prior"
PRIOR_HALF = 20  # positive events at which the prior reaches half its weight
# Said when no part of a score is positive (Explanation.lead is None).
NOTHING_POSITIVE = "no part of its score is positive"


def popularity_prior(counts: np.ndarray, weight: float) -> np.ndarray:
    """The prior of items with `counts` positive events, in [0, weight)."""
    spread = np.log1p(counts)
    return weight * spread / (spread + np.log1p(PRIOR_HALF))


def prior_reason(value: float, count: int, rest: str) -> str:
    """The reason of an item whose largest positive part is the popularity prior."""
    people = f"{count} positive event{'s' if count != 1 else ''}"
    return f"{PRIOR_PART} {value:+.2f} ({people} from everyone); {rest}"
