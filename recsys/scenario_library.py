"""The built-in scenarios: each sets up the lab to show one behaviour, with a paragraph that
says what to look at. `recsys/scenarios.py` loads them like saved ones."""

from __future__ import annotations

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
            "Content-based ranks by likeness to what the person liked, so every science-fiction "
            "film it likes pulls in more of the same: within about 25 visits all ten items of "
            "its list are Sci-Fi, although its hidden taste also enjoys action, thrillers and "
            "adventure. A filter bubble built from nothing but its own clicks. Open Learning "
            "history as sci-fi-fan with content: the Journey tab shows the list converging, the "
            "timeline the likes that did it. Then pick mf or epsilon_greedy in the sidebar for "
            "the same person: collaborative filtering brings in what similar people liked, and "
            "exploration keeps other genres in view."
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
