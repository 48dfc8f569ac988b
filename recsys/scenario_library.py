"""The built-in scenarios: each sets up the lab to show one behaviour, with a paragraph that
says what to look at and the claims that paragraph makes, checked after every load.
`recsys/scenarios.py` loads them like saved ones; `recsys/scenario_checks.py` measures the
claims."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MOVIES = {"pack": "movies", "seed": 42}

BUILTIN: dict[str, dict] = {
    "cold-start": {
        "title": "Cold start",
        "description": (
            "A brand-new visitor has no history, so a personalised model has nothing to go on: "
            "matrix factorisation can only rank by item bias, and the hybrid switches to "
            "popularity and content until the person has acted. Open the Simulator as the fresh "
            "visitor with the hybrid, like three films of one genre and watch the before/after "
            "diff: the list turns from best-sellers to that genre within a few clicks, and the "
            "reasons name the component that lifted each item. Switch to popularity to "
            "see a model that never moves."
        ),
        "world": MOVIES,
        "open": {"page": "simulator", "algorithm": "hybrid"},
    },
    "filter-bubble": {
        "title": "Filter bubble",
        "description": (
            "The sci-fi fan uses the content-based recommender for 40 visits on autopilot. "
            "Content-based ranks by likeness to what the person clicked, and a stranger first "
            "gets the best-sellers: whatever the fan clicks among them pulls in more of the "
            "same, and within about 25 visits eight or more of the ten items of its list share "
            "one genre. That genre comes from those first clicks, not from the fan's taste: in "
            "this scenario hardly a Sci-Fi film is left in view, although science fiction is "
            "what it likes most. A filter bubble built from nothing but its own clicks. Open "
            "Learning history as sci-fi-fan with content: the Journey tab shows the list "
            "converging, the timeline the clicks that did it. Then pick mf or epsilon_greedy in "
            "the sidebar for the same person: collaborative filtering brings in what similar "
            "people liked, and exploration keeps other genres in view."
        ),
        "world": MOVIES,
        "run": [{"autopilot": {"persona": "sci-fi-fan", "steps": 40, "algorithm": "content"}}],
        "open": {"page": "history", "user": "sci-fi-fan", "algorithm": "content"},
    },
    "popularity-bias": {
        "title": "Popularity bias",
        "description": (
            "The world's exposure is long-tailed: a few films are shown everywhere, so they "
            "collect most clicks, and a model that learns from clicks shows them even more. "
            "Open Evaluation and compare popularity, mf and item_knn on coverage and novelty: "
            "popularity recommends a sliver of the catalogue, the most familiar part of it, "
            "while the personalised models reach far more of it. In the Simulator, popularity "
            "gives every visitor the same list; the A/B test in this scenario shows what that "
            "costs in true click-through against mf."
        ),
        "world": MOVIES,
        "experiments": [
            {
                "name": "popularity vs mf",
                "mode": "simulated",
                "arms": ["popularity", "mf"],
                "users": 300,
                "sessions": 10,
                "seed": 3,
            }
        ],
        "open": {"page": "evaluation", "algorithm": "popularity"},
    },
    "taste-drift": {
        "title": "Taste drift",
        "description": (
            "Two personas use the lab, then each one's hidden taste turns into that of the "
            "persona least like it, as if a family stopped watching cartoons. The reward stream "
            "drops, the Page-Hinkley detector raises an alarm and the drift policy retrains mf; "
            "the new version recovers. Open Model versions: the Updates tab lists the alarm and "
            "the retrain, and Learning history's timeline marks the shift (black) and the alarm "
            "(red). Lower the detector's threshold on the Policies tab and load the scenario "
            "again to see it fire sooner."
        ),
        "world": MOVIES,
        "policy": {"drift_detector": "page_hinkley"},
        "run": [{"drift": {"before": 150, "after": 250, "algorithm": "mf"}}],
        "open": {"page": "versions", "algorithm": "mf"},
    },
    "ab-mf-vs-popularity": {
        "title": "A/B test: MF against popularity",
        "description": (
            "A simulated A/B test: 400 people with a hidden taste are split 50/50 between "
            "popularity (the control) and matrix factorisation, and visit 20 times each. Open "
            "A/B tests: the verdict, each arm's click-through with its interval, the lift, the "
            "p-value and the chance to beat control, and, because the lab knows every person's "
            "true taste, whether the test picked the arm that is truly better. Try the A/A tab "
            "next to see how often a test with no real difference still calls a winner when "
            "you peek."
        ),
        "world": MOVIES,
        "experiments": [
            {
                "name": "mf vs popularity",
                "mode": "simulated",
                "arms": ["popularity", "mf"],
                "users": 400,
                "sessions": 20,
                "seed": 1,
            }
        ],
        "open": {"page": "experiments", "algorithm": "mf"},
    },
}


@dataclass(frozen=True)
class Claim:
    """One thing a built-in's paragraph promises, as a check: `measure` names a function of
    `recsys/scenario_checks.py` that reads a number from the loaded lab (called with `args`),
    and the claim holds when `measured <op> threshold`. `fmt` shows the number and the
    threshold (a `str.format` pattern)."""

    text: str
    measure: str
    op: str  # one of >=, <=, >, <, ==
    threshold: float
    args: dict[str, Any] = field(default_factory=dict)
    fmt: str = "{:g}"


# What each built-in claims, checked after it loads (`scenario check NAME`, the Data page).
# Every number is measured in the lab through the engine; a threshold is the paragraph's
# promise, not what one run happened to give.
CLAIMS: dict[str, tuple[Claim, ...]] = {
    "cold-start": (
        Claim(
            "A fresh visitor's top 10 under the hybrid is the best-sellers: at least 8 of "
            "popularity's top 10",
            "fresh_overlap",
            ">=",
            8,
            {"algorithm": "hybrid", "baseline": "popularity"},
            "{:.0f} of 10",
        ),
        Claim(
            "After a fresh visitor likes three films of one genre, at least half of the "
            "hybrid's top 10 is that genre (the median over the catalogue's genres)",
            "likes_turn",
            ">=",
            5,
            {"algorithm": "hybrid", "likes": 3},
            "{:g} of 10",
        ),
    ),
    "filter-bubble": (
        Claim(
            "After the scripted visits, at least 8 of the sci-fi fan's top 10 under content "
            "share one genre",
            "genre_share",
            ">=",
            8,
            {"user": "sci-fi-fan", "algorithm": "content"},
            "{:.0f} of 10",
        ),
        Claim(
            "Hardly any of them is Sci-Fi, the fan's favourite genre: at most 2 of the 10",
            "genre_count",
            "<=",
            2,
            {"user": "sci-fi-fan", "algorithm": "content", "genre": "Sci-Fi"},
            "{:.0f} of 10",
        ),
    ),
    "popularity-bias": (
        Claim(
            "Popularity's top 10s for the world's simulated people cover at most a quarter of "
            "the catalogue that mf's cover",
            "coverage_ratio",
            "<=",
            0.25,
            {"algorithm": "popularity", "against": "mf"},
            "{:.2f}",
        ),
        Claim(
            "They are the most familiar part of it: mf's lists are at least half a bit more "
            "novel (the Evaluation page's novelty)",
            "novelty_gap",
            ">=",
            0.5,
            {"algorithm": "popularity", "against": "mf"},
            "{:.2f} bits",
        ),
        Claim(
            "The scenario's A/B test shows the cost: mf's true click-through is higher than "
            "popularity's",
            "true_ctr_gap",
            ">",
            0,
            {"experiment": "popularity vs mf", "arm": "mf"},
            "{:+.2f} points",
        ),
    ),
    "taste-drift": (
        Claim(
            "The detector raises no alarm before the taste shift",
            "drift_alarms",
            "==",
            0,
            {"when": "before"},
            "{:.0f}",
        ),
        Claim(
            "It raises an alarm after the shift",
            "drift_alarms",
            ">=",
            1,
            {"when": "after"},
            "{:.0f}",
        ),
        Claim(
            "The drift policy retrains mf after that alarm",
            "drift_retrains",
            ">=",
            1,
            {"algorithm": "mf"},
            "{:.0f}",
        ),
        Claim(
            "The retrained model recovers: the two personas' mean reward after the retrain is "
            "above its level between the shift and the alarm",
            "drift_recovery",
            ">",
            0,
            {},
            "{:+.2f}",
        ),
    ),
    "ab-mf-vs-popularity": (
        Claim(
            "The test finds a difference in click-through between mf and popularity at p < 0.05",
            "ab_p_value",
            "<",
            0.05,
            {"experiment": "mf vs popularity", "arm": "mf"},
            "{:.2g}",
        ),
        Claim(
            "The arm it calls better is the truly better one (1 = yes): the lab knows every "
            "person's taste",
            "ab_right_call",
            "==",
            1,
            {"experiment": "mf vs popularity"},
            "{:.0f}",
        ),
    ),
}
