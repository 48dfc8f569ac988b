"""What an experiment reports: its metrics, their labels and the units of analysis.

Plain constants, apart from the statistics, so the command line can offer them as choices
without importing scipy.
"""

RATES = {"ctr": "clicks", "like_rate": "likes", "rating_rate": "ratings"}  # rate -> outcome
METRICS = (*RATES, "avg_rating")
LABELS = {
    "ctr": "click-through rate",
    "like_rate": "like rate",
    "rating_rate": "rating rate",
    "avg_rating": "average rating",
    "impressions": "impressions",
}
# The same, short enough for a table's header (every column of the A/B tables fits 1440 px).
SHORT_LABELS = LABELS | {"ctr": "CTR", "avg_rating": "avg rating"}
UNITS = ("user", "impression")  # what is analysed as independent: a person, or a shown item
