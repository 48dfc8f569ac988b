"""Bad files other than imports (issue 17): a scenario or a parameters file, an evaluate file.
One line on stderr and exit 2, the lab unchanged table by table, no file written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.badinput import assert_bad_input, case

GOOD = b"user_id,item_id,rating\nu1,i1,4\nu1,i2,3\nu2,i1,5\nu2,i3,2\nu3,i2,4\n"


def written(content: bytes | str, *args: str, name: str = "s.json"):
    def make(tmp: Path) -> list[str]:
        path = tmp / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return [part.replace("FILE", str(path)) for part in args]

    return make


def scenario(text: str):
    return written(text, "scenario", "load", "FILE")


def config(text: str | bytes):
    return written(text, "configure", "--algorithm", "mf", "--config", "FILE", name="c.json")


W = '"name": "x", "world": {"pack": "movies", "sizes": {%s}}'


def sized(sizes: str):
    return scenario("{" + W % sizes + "}")


def with_field(field: str):
    return scenario("{" + W % "" + ", " + field + "}")


def ratings(train: bytes, test: bytes = b"u1,i1,4\n"):
    def make(tmp: Path) -> list[str]:
        (tmp / "train.csv").write_bytes(train)
        (tmp / "test.csv").write_bytes(test)
        return ["evaluate", "--train", str(tmp / "train.csv"), "--test", str(tmp / "test.csv")]

    return make


OTHER_FILES = [
    case("scenario-not-json", scenario("{not json"), "is not valid JSON"),
    case("scenario-empty-file", scenario(""), "is not valid JSON"),
    case("scenario-a-list", scenario("[1, 2]"), "a scenario is a JSON object"),
    case("scenario-a-number", scenario("42"), "a scenario is a JSON object"),
    case("scenario-binary", scenario(bytes(range(128, 256))), "cannot read"),
    case(
        "scenario-utf16",
        written('{"name": "x"}'.encode("utf-16"), "scenario", "load", "FILE"),
        "cannot read",
    ),
    case(
        "scenario-nested-objects",
        scenario('{"a":' * 5000 + "1" + "}" * 5000),
        "nests its JSON too deeply",
    ),
    case("scenario-nested-lists", scenario("[" * 5000 + "]" * 5000), "nests its JSON too deeply"),
    case("scenario-no-name", scenario('{"world": {}}'), "a scenario name is 1 to 60"),
    case("scenario-bad-name", scenario('{"name": "Bad Name", "world": {}}'), "got 'Bad Name'"),
    case(
        "scenario-unknown-field",
        scenario('{"name": "x", "world": {}, "colour": 1}'),
        "unknown scenario field(s): colour",
    ),
    case(
        "scenario-world-text",
        scenario('{"name": "x", "world": "big"}'),
        "world must be a JSON object",
    ),
    case(
        "scenario-unknown-pack", scenario('{"name": "x", "world": {"pack": "mars"}}'), "got 'mars'"
    ),
    case(
        "scenario-items-too-few", sized('"n_items": 10'), "n_items must be a whole number from 50"
    ),
    case("scenario-items-huge", sized('"n_items": 1000000000'), "to 20000, got 1000000000"),
    case("scenario-items-negative", sized('"n_items": -5'), "got -5"),
    case("scenario-items-nan", sized('"n_items": NaN'), "got nan"),
    case("scenario-items-fraction", sized('"n_items": 12.5'), "got 12.5"),
    case("scenario-items-text", sized('"n_items": "many"'), "got 'many'"),
    case("scenario-items-400-digits", sized('"n_items": ' + "9" * 400), "n_items must be"),
    case("scenario-unknown-size", sized('"colour": 3'), "unknown world size 'colour'"),
    case(
        "scenario-escape-title",
        with_field('"title": "a\\u001bb"'),
        "title holds a control character",
    ),
    case(
        "scenario-long-description",
        with_field('"description": "' + "d" * 6000 + '"'),
        "keep it to 5,000",
    ),
    case("scenario-unknown-weights", with_field('"weights": "heavy"'), "unknown weights 'heavy'"),
    case("scenario-experiments-text", with_field('"experiments": "lots"'), "must be a JSON list"),
    case(
        "scenario-one-arm",
        with_field('"experiments": [{"name": "e", "arms": ["mf"]}]'),
        "at least two arms",
    ),
    case(
        "scenario-unknown-page",
        with_field('"open": {"page": "nowhere"}'),
        "open page must be one of",
    ),
    case("scenario-unknown-run-step", with_field('"run": [{"dance": {}}]'), "a run step is"),
    case("scenario-format-99", with_field('"format": 99'), "scenario format 99 is not"),
    case("config-not-json", config("{nope"), "cannot read"),
    case("config-empty", config(""), "cannot read"),
    case("config-a-list", config("[1]"), "must hold a JSON object of parameters"),
    case("config-binary", config(bytes(range(128, 256))), "cannot read"),
    case("config-utf16", config('{"factors": 8}'.encode("utf-16")), "cannot read"),
    case("config-unknown-parameter", config('{"colour": 8}'), "unknown parameter 'colour'"),
    case("config-nan", config('{"reg": NaN}'), "reg must be between 0.0 and 10000.0, got nan"),
    case("config-infinity", config('{"reg": Infinity}'), "got inf"),
    case("config-text-number", config('{"factors": "8"}'), "factors must be an integer, got '8'"),
    case("config-null", config('{"factors": null}'), "got None"),
    case("config-400-digits", config('{"factors": ' + "9" * 400 + "}"), "factors must be between"),
    case(
        "config-nested-thousands-deep", config("[" * 5000 + "]" * 5000), "nests its JSON too deeply"
    ),
    case("config-an-object-value", config('{"factors": {"a": 1}}'), "got {'a': 1}"),
    case("evaluate-empty", ratings(b""), "train.csv holds no ratings (the file is empty)"),
    case("evaluate-header-only", ratings(b"user_id,item_id,rating\n"), "a header but no rows"),
    case("evaluate-binary", ratings(bytes(range(128, 256))), "is not UTF-8 text"),
    case("evaluate-utf16", ratings(GOOD.decode().encode("utf-16")), "a NUL byte"),
    case("evaluate-latin1", ratings(GOOD + b"u\xe9,i1,3\n"), "line 7: byte 0xe9 is not UTF-8"),
    case("evaluate-ragged", ratings(GOOD + b"u4,i1\n"), "line 7: 2 fields"),
    case("evaluate-rating-nan", ratings(GOOD + b"u4,i1,nan\n"), "rating 'nan' is not a number"),
    case("evaluate-rating-text", ratings(GOOD + b"u4,i1,good\n"), "rating 'good' is not a number"),
    case("evaluate-no-rating", ratings(b"user_id,item_id\nu1,i1\n"), "2 fields; expected"),
    case("evaluate-test-empty", ratings(GOOD, b""), "test.csv holds no ratings"),
    case("evaluate-test-binary", ratings(GOOD, bytes(range(256))), "a NUL byte"),
    case("evaluate-nul-in-test", ratings(GOOD, b"u1,i\x001,4\n"), "test.csv line 1: a NUL byte"),
    case("evaluate-nul-in-train", ratings(GOOD + b"u2,i\x002,5\n"), "train.csv line 7: a NUL byte"),
]


@pytest.mark.parametrize("args, expected", OTHER_FILES)
def test_a_bad_scenario_config_or_ratings_file(capsys, db_path, small_world_print, args, expected):
    assert_bad_input(capsys, args, expected, db_path, small_world_print)


def test_a_bad_evaluate_file_writes_no_predictions(capsys, db_path, small_world_print):
    def make(tmp):
        return [*ratings(GOOD + b"u9,i\x009,1\n")(tmp), "--predictions-out", str(tmp / "p.csv")]

    assert_bad_input(capsys, make, "a NUL byte", db_path, small_world_print)
    assert not (db_path.parent / "p.csv").exists()
