import math

import numpy as np
import pytest

from recsys.errors import RecsysError
from recsys.events import (
    CLASSIC_WEIGHTS,
    DEFAULT_WEIGHTS,
    EventFrame,
    validate_context,
    validate_kind,
    validate_user,
    validate_value,
)


def test_classic_preset_matches_the_tourism_design():
    assert CLASSIC_WEIGHTS.weight("view") == 0.1
    assert CLASSIC_WEIGHTS.weight("click") == 0.3
    assert CLASSIC_WEIGHTS.weight("favorite") == 0.5
    assert CLASSIC_WEIGHTS.weight("rating", 4.0) == 1.0 + 2 * 4.0


def test_default_pushes_low_ratings_and_dislikes_down_where_classic_pushes_up():
    assert CLASSIC_WEIGHTS.weight("rating", 1.0) > 0
    assert CLASSIC_WEIGHTS.weight("dislike") >= 0
    assert DEFAULT_WEIGHTS.weight("rating", 1.0) < 0 < DEFAULT_WEIGHTS.weight("rating", 5.0)
    assert DEFAULT_WEIGHTS.weight("dislike") < 0 < DEFAULT_WEIGHTS.weight("like")


def test_default_ratings_count_against_the_users_own_average():
    # At or above the average: positive (having chosen the item counts as much as a like).
    for mean, stars in ((4.5, 4.5), (4.5, 5.0), (2.0, 2.0), (None, 3.0)):
        assert DEFAULT_WEIGHTS.weight("rating", stars, mean) >= DEFAULT_WEIGHTS.weight("like")
    # More than 1.25 stars below it: negative; the same 3 stars praise from a harsh rater.
    harsh, generous = 2.0, 4.5
    assert DEFAULT_WEIGHTS.weight("rating", 3.0, generous) < 0
    assert DEFAULT_WEIGHTS.weight("rating", 3.0, harsh) > 0
    assert DEFAULT_WEIGHTS.weight("rating", 1.5, None) < 0  # before any rating: against 3 stars
    # The classic preset ignores the average: a 1-star rating still pushes up.
    assert CLASSIC_WEIGHTS.weight("rating", 1.0, 4.5) == CLASSIC_WEIGHTS.weight("rating", 1.0)


def test_frame_weights_match_single_event_weights():
    kinds = np.array(["view", "rating", "dislike", "rating", "rating", "skip"], dtype=object)
    values = np.array([np.nan, 4.5, np.nan, 1.0, 2.0, np.nan])
    users = np.array(["a", "a", "a", "a", "b", "a"], dtype=object)
    frame = EventFrame(np.arange(6), np.zeros(6), users, np.arange(6), kinds, values)
    means = [None, None, None, 4.5, None, None]  # each user's earlier ratings, one by one
    pairs = list(zip(kinds, values, strict=True))
    expected = [
        DEFAULT_WEIGHTS.weight(k, None if math.isnan(v) else v, m)
        for k, v, m in zip(kinds, values, means, strict=True)
    ]
    assert frame.weights(DEFAULT_WEIGHTS).tolist() == pytest.approx(expected)
    classic = [CLASSIC_WEIGHTS.weight(k, None if math.isnan(v) else v) for k, v in pairs]
    assert frame.weights(CLASSIC_WEIGHTS).tolist() == pytest.approx(classic)


# Ids people really have (issue 16, kind 5): accents, spaces, a leading dash, any script,
# and text that would be markup or SQL elsewhere (stored as a parameter, shown literally).
@pytest.mark.parametrize(
    "user",
    [
        "alice", "sim-0001", "persona:sci-fi", "a.b@c", "x" * 128, "José", "ana maria",
        "-leading", "ユーザー42", "Ørjan Ødegård", "'; DROP TABLE events; --",
        "<script>alert(1)</script>", "**bold** [x](y)", "😀",
    ],
)  # fmt: skip
def test_valid_user_ids(user):
    assert validate_user(user) == user


@pytest.mark.parametrize(
    ("user", "problem"),
    [
        ("", "empty"),
        ("x" * 129, "129 characters"),
        ("x" * 10_000, "10000 characters"),
        ("tab\there", "control character"),
        ("line\nbreak", "control character"),
        ("nul\x00", "control character"),
        ("bidi\u202eoverride", "control character"),
        ("zero\u200bwidth", "control character"),
        (None, "not text"),
        (17, "not text"),
    ],
)
def test_invalid_user_ids(user, problem):
    with pytest.raises(RecsysError, match=f"invalid user id .*{problem}.*1 to 128 printable"):
        validate_user(user)


@pytest.mark.parametrize("value", [0.5, "4.5", 5, 3.0])
def test_valid_ratings(value):
    assert validate_value("rating", value) == float(value)


@pytest.mark.parametrize(
    "value", [7, 0, -1, 4.25, "NaN", float("nan"), float("inf"), "four", None, True]
)
def test_invalid_ratings(value):
    with pytest.raises(RecsysError):
        validate_value("rating", value)


def test_only_ratings_take_values():
    assert validate_value("like", None) is None
    with pytest.raises(RecsysError, match="takes no value"):
        validate_value("like", 3)


def test_unknown_kind():
    with pytest.raises(RecsysError, match="unknown event kind"):
        validate_kind("poke")


def test_context_must_be_small_and_flat():
    assert validate_context({"device": "mobile", "hour": 9}) == {"device": "mobile", "hour": 9}
    with pytest.raises(RecsysError):
        validate_context({"nested": {"a": 1}})
    with pytest.raises(RecsysError):
        validate_context({"long": "x" * 1000})
