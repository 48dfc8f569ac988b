"""Why mf scores an item as it does: its score split exactly into parts a person can read.

A score is what the average person's vector m gives the item plus one contribution per item j
of the user's history, y_i' A^-1 y_j [c_j (p_j - s_j) + w0 s_j] (Hu, Koren & Volinsky 2008,
section 5; the notation of `recsys/algorithms/mf.py`). An explanation names the three largest
contributions, and "the rest of your history" closes the sum exactly (it also holds whatever the
exact solve does not: a held-back update, an item's online step, rounding).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from recsys.algorithms.base import Explanation, UpdateInfo, lead_part
from recsys.algorithms.reasons import NOTHING_POSITIVE

EVERYONE = "everyone's preference"
REST = "the rest of your history"
STARS = "predicted stars"
LIKED, DISLIKED = " (you chose it)", " (you turned it down)"
EXPLICIT = (
    "trained on Spark on explicit ratings: it learns when trained again "
    "(spark-train, or Retrain in the lab)"
)


def held_update(algorithm: str, score: float, weight: float) -> UpdateInfo:
    """The update of a version imported from explicit ALS (`mf_factors`): its vectors score
    stars, which mf's online solve (a preference from -1 to 1) would overwrite, so nothing
    moves and the learning log says why (details' `held back because`)."""
    details = {"weight": weight, "held back": True, "held back because": EXPLICIT}
    return UpdateInfo(algorithm, score_before=score, score_after=score, details=details)


def explanations(
    scores: np.ndarray,
    average: np.ndarray,
    history: np.ndarray,
    contributions: np.ndarray,
    label: Callable[[int, dict[str, float]], str],
) -> list[Explanation]:
    """One explanation per candidate: `scores` and `average` (m's part) per candidate,
    `contributions[m, j]` what history item `history[j]` adds to candidate m's score, and
    `label(item, taken)` the part's name for a history item (unique among `taken`)."""
    out = []
    for m in range(len(scores)):
        order = np.argsort(-np.abs(contributions[m]), kind="stable")[:3]
        parts = {EVERYONE: float(average[m])}
        related = []
        for j in order.tolist():
            name = label(int(history[j]), parts)
            parts[name] = float(contributions[m, j])
            related.append((int(history[j]), float(contributions[m, j])))
        parts[REST] = float(scores[m] - sum(parts.values()))
        lead = lead_part(parts)
        out.append(Explanation(float(scores[m]), parts, _reason(lead, parts, None), related, lead))
    return out


def label(catalog, item: int, summed: float, taken: dict[str, float]) -> str:
    """A history item's part: its title and whether the user chose it (`summed`, the pair's
    summed weight, above 0) or turned it down; its id added if the name is `taken` already."""
    verb = LIKED if summed > 0 else DISLIKED
    name = f"“{catalog.titles[item]}”{verb}"
    return name if name not in taken else f"“{catalog.titles[item]}” #{item}{verb}"


def cold_explanation(score: float) -> Explanation:
    """A user with no history: the score is all the average person's."""
    parts = {EVERYONE: score}
    lead = lead_part(parts)
    return Explanation(score, parts, _reason(lead, parts, "no history of yours yet"), [], lead)


def cold_explanations(cold: np.ndarray, items, stars: bool = False) -> list[Explanation]:
    """`cold_explanation` of each of `items` from the catalog's cold scores `cold` (items,),
    computed once for a whole list (`star_explanations` for a version scoring stars)."""
    if stars:
        return star_explanations(cold[np.asarray(items, dtype=np.int64)], "the average person")
    return [cold_explanation(float(cold[i])) for i in items]


def star_explanations(scores: np.ndarray, whose: str = "your vector") -> list[Explanation]:
    """A version imported from explicit ALS (`mf_factors`): each score (`scores`, per item)
    is Spark's x_u . y_i in stars, one part, as no event of the history moved the vectors
    (`held_update`), so none has a share of it."""
    out = []
    for score in map(float, scores):
        parts = {STARS: score}
        lead = lead_part(parts)
        reason = (
            f"{STARS} {score:.2f} from Spark's ALS ({whose})"
            if lead
            else f"{NOTHING_POSITIVE} ({STARS} {score:.2f})"
        )
        out.append(Explanation(score, parts, reason, [], lead))
    return out


def _reason(lead: str | None, parts: dict[str, float], note: str | None) -> str:
    """The one-line reason, always about the explanation's lead part, with its value."""
    if lead is None:
        text = f"{NOTHING_POSITIVE}: little else scores higher"
    elif lead == EVERYONE:
        text = f"{EVERYONE} {parts[lead]:+.2f}: popular with people overall"
    elif lead == REST:
        text = f"{REST} {parts[lead]:+.2f}: it matches what you chose as a whole"
    elif lead.endswith(LIKED):
        text = f"because you chose {lead.removesuffix(LIKED)} ({parts[lead]:+.2f})"
    else:
        text = f"unlike {lead.removesuffix(DISLIKED)}, which you turned down ({parts[lead]:+.2f})"
    return f"{text} ({note})" if note else text


def description(deviation: np.ndarray, seen: dict[int, float], rating_bias: float) -> dict:
    """What the model panel says of a user: their vector's distance from the average person
    (`deviation`: theirs minus the average), how many items shape it (`seen`: item to summed
    weight) and their rating bias in stars."""
    return {
        "distance from the average person": float(np.linalg.norm(deviation)),
        "items that shape your taste": float(sum(w != 0 for w in seen.values())),
        "your rating bias (stars)": float(rating_bias),
    }
