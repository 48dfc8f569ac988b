"""The built-in scenarios: each sets up the lab to show one behaviour, with a paragraph that
says what to look at and the claims that paragraph makes, checked after every load.
`recsys/data/scenarios.py` loads them like saved ones; `recsys/data/scenario_checks.py` checks
the claims."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MOVIES = {"pack": "movies", "seed": 42}

BUILTIN: dict[str, dict] = {
    "cold-start": {
        "title": "Cold start",
        "description": (
            "A brand-new visitor has no history, so a personalised model has nothing to go on: "
            "matrix factorisation can only rank a stranger by popularity, and the hybrid blends "
            "content and popularity only until the person has touched enough films. Open the "
            "Simulator as the fresh visitor with the hybrid, like three films of one genre and "
            "watch the before/after diff: the list turns from best-sellers to that genre within a "
            "few clicks, and the reasons name the component that lifted each item. Switch to "
            "popularity to see a model that never moves. In this scenario the hybrid keeps its "
            "cold-start blend for a visitor's first 10 films (its default is 3), because likes "
            "alone teach mf slowly: after three it still ranks the visitor almost by popularity, "
            "so at the default the third like hands half the blend to mf and the list slides back "
            "toward the best-sellers (set cold_start_items to 3 on the Parameters page to watch "
            "it). Here the same happens at the tenth film, more mildly: the genre falls back to "
            "about half the list, and less with more likes."
        ),
        "world": MOVIES,
        "algorithms": {"hybrid": {"cold_start_items": 10}},
        "open": {"page": "simulator", "algorithm": "hybrid"},
    },
    "filter-bubble": {
        "title": "Filter bubble",
        "description": (
            "Alice, the demo user with the sci-fi fan's taste, has watched five films in the lab's "
            "history: two Sci-Fi films (one a five-star favourite), a thriller, a war film and an "
            "animated comedy. She uses the content-based recommender for 20 visits on autopilot. "
            "Content-based ranks by likeness to what a person touched, so her list is Sci-Fi from "
            "the first visit, and every Sci-Fi film she picks pulls in more of the same: after 20 "
            "visits at least eight of her ten are Sci-Fi, spanning only the few genres Sci-Fi "
            "films also carry. She likes what she gets, science fiction being her favourite, and "
            "she is shown nothing else: a recommender that only exploits has closed her into one "
            "corner of the catalogue. Open Learning history as alice with content: the Journey tab "
            "shows the list holding its corner, the timeline the clicks that keep it there. Then "
            "pick item_knn or epsilon_greedy in the sidebar for the same person: item-based "
            "collaborative filtering brings in what people who chose her films also chose (its "
            "list for her spans at least four more genres), and exploration keeps other genres in "
            "view; mf, which learns her taste as a whole, leans to Sci-Fi too. A stranger would "
            "not show the bubble around a taste: content-based first gives a stranger the "
            "best-sellers, which hold no Sci-Fi in this world, and then bubbles around whatever "
            "was clicked among them."
        ),
        "world": MOVIES,
        "run": [
            {
                "autopilot": {
                    "persona": "sci-fi-fan",
                    "user": "alice",
                    "steps": 20,
                    "algorithm": "content",
                }
            }
        ],
        "open": {"page": "history", "user": "alice", "algorithm": "content"},
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
            "Two personas, the action junkie and the arthouse explorer, use the lab with mf for "
            "60 visits each; then each one's hidden taste turns into the other's, as if a family "
            "stopped watching cartoons, and they go on for 100 visits. For a few visits their "
            "lists miss: the reward stream (a like or a good rating 1, a dislike, a poor rating "
            "or a list turned down 0) falls from nearly all 1s, the Page-Hinkley detector raises "
            "an alarm and the drift policy retrains mf, and after the retrain the reward is back "
            "near its old level. mf also learns the new tastes online, event by event, so the "
            "dip is short: this scenario's detector is set sensitive (threshold 5, for a stream "
            "with little noise before the shift) and the routine retrain every 50 ratings is "
            "off, so the retrain you see is the drift policy's. Open Model versions: the Updates "
            "tab lists the alarm and the retrain, the gate says whether the new version serves, "
            "and Learning history's timeline marks the shift (black) and the alarm (red). Raise "
            "the threshold to 20 on the Policies tab, save the setup on the Data page and load "
            "it: the dip is over before the detector is sure."
        ),
        "world": MOVIES,
        "policy": {"drift_detector": "page_hinkley", "ph_threshold": 5.0, "retrain_ratings": 0},
        "run": [{"drift": {"before": 60, "after": 100, "algorithm": "mf"}}],
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
    `recsys/data/scenario_measures.py` that reads a number from the loaded lab (with `args`),
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
            "hybrid's top 10 is that genre (the median over the catalogue's genres; the "
            "scenario's hybrid keeps its cold-start blend for 10 films)",
            "likes_turn",
            ">=",
            5,
            {"algorithm": "hybrid", "likes": 3},
            "{:g} of 10",
        ),
    ),
    "filter-bubble": (
        Claim(
            "After the scripted visits, at least 8 of alice's top 10 under content are Sci-Fi, "
            "her favourite genre (she has the sci-fi fan's taste)",
            "genre_count",
            ">=",
            8,
            {"user": "alice", "algorithm": "content", "genre": "Sci-Fi"},
            "{:.0f} of 10",
        ),
        Claim(
            "Content keeps her in that corner: item_knn's top 10 for her at the same moment "
            "spans at least 4 more genres",
            "genre_spread",
            ">=",
            4,
            {"user": "alice", "algorithm": "content", "against": "item_knn"},
            "{:.0f} more",
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
            "The reward recovers: the two personas' mean reward after the retrain is above its "
            "level between the shift and the alarm",
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
