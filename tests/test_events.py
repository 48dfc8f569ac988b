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
    assert DEFAULT_WEIGHTS.weight("rating", 3.0) == pytest.approx(0.0)


def test_default_targets_keep_a_rating_as_itself():
    for stars in (0.5, 1.0, 2.5, 3.0, 4.5, 5.0):
        assert DEFAULT_WEIGHTS.target("rating", stars) == pytest.approx(stars)
    assert DEFAULT_WEIGHTS.target("like") > 4 and DEFAULT_WEIGHTS.target("dislike") < 2


def test_frame_weights_match_single_event_weights():
    kinds = np.array(["view", "rating", "dislike", "rating", "skip"], dtype=object)
    values = np.array([np.nan, 4.5, np.nan, 1.0, np.nan])
    frame = EventFrame(
        np.arange(5), np.zeros(5), np.array(["a"] * 5, dtype=object), np.arange(5), kinds, values
    )
    expected = [
        DEFAULT_WEIGHTS.weight(k, None if math.isnan(v) else v)
        for k, v in zip(kinds, values, strict=True)
    ]
    assert frame.weights(DEFAULT_WEIGHTS).tolist() == pytest.approx(expected)


@pytest.mark.parametrize("user", ["alice", "sim-0001", "persona:sci-fi", "a.b@c", "x" * 64])
def test_valid_user_ids(user):
    assert validate_user(user) == user


@pytest.mark.parametrize(
    "user",
    [
        "",
        "x" * 65,
        "x" * 10_000,
        "'; DROP TABLE events; --",
        "<script>alert(1)</script>",
        "a b",
        "-leading",
        None,
        17,
    ],
)
def test_invalid_user_ids(user):
    with pytest.raises(RecsysError, match="invalid user id"):
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
