"""The Data page's upload checks say one thing, the thing to fix first (issue 17, kind 6).

The page itself is driven in the browser (`tests/test_browser_uploads.py`): AppTest cannot
upload files."""

from __future__ import annotations

from recsys.data.importer import FORMATS
from recsys.data.uploads import default_parts, size_text, upload_problem

MOVIELENS, LAB = FORMATS["movielens"], FORMATS["lab"]
LIMIT = 100 * 2**20


def test_files_start_in_the_part_of_their_name_whatever_the_case_or_order():
    chosen = default_parts(MOVIELENS, ["Ratings.CSV", "tags.csv", "movies.csv"])
    assert chosen == {
        "movies.csv": "movies.csv",
        "ratings.csv": "Ratings.CSV",
        "tags.csv": "tags.csv",
    }


def test_other_names_fill_the_required_parts_in_upload_order_never_one_file_twice():
    assert default_parts(LAB, ["b.csv", "a.csv"]) == {
        "items.csv": "b.csv",
        "interactions.csv": "a.csv",
    }
    assert default_parts(LAB, ["interactions.csv", "x.csv"]) == {
        "items.csv": "x.csv",
        "interactions.csv": "interactions.csv",
    }
    # One upload for a two-part format: the other part has none (it used to get the same file).
    assert default_parts(MOVIELENS, ["ratings.csv"]) == {
        "movies.csv": None,
        "ratings.csv": "ratings.csv",
        "tags.csv": None,
    }
    assert default_parts(MOVIELENS, ["mine.csv"])["tags.csv"] is None  # optional: by name only


def test_a_file_over_the_limit_is_the_only_thing_said():
    sizes = {"ratings.csv": 107 * 2**20}
    chosen = default_parts(MOVIELENS, list(sizes))
    assert upload_problem(MOVIELENS, sizes, chosen, LIMIT) == (
        "ratings.csv is 107 MB, over the import limit of 100 MB per file: upload a smaller "
        "file, or start the lab with RECSYS_MAX_IMPORT_MB set higher."
    )


def test_a_missing_part_is_named_with_what_did_arrive():
    sizes = {"ratings.csv": 2_000}
    chosen = default_parts(MOVIELENS, list(sizes))
    assert upload_problem(MOVIELENS, sizes, chosen, LIMIT) == (
        "MovieLens (ml-latest-small) needs 2 files (movies.csv, ratings.csv); nothing is picked "
        "for movies.csv (uploaded: ratings.csv). Add it, or pick the upload that holds it."
    )
    both = upload_problem(LAB, {}, default_parts(LAB, []), LIMIT)
    assert "nothing is picked for items.csv and interactions.csv (uploaded: none)" in both
    assert both.endswith("Add them, or pick the upload that holds each.")


def test_one_file_picked_for_two_parts_by_hand_is_named():
    sizes = {"items.csv": 10, "interactions.csv": 10}
    chosen = {"items.csv": "items.csv", "interactions.csv": "items.csv"}
    assert upload_problem(LAB, sizes, chosen, LIMIT) == (
        "items.csv is picked for both items.csv and interactions.csv: each part needs its own "
        "file; pick another upload for one of them."
    )


def test_uploads_that_fit_have_no_problem():
    sizes = {"items.csv": LIMIT, "interactions.csv": 1}  # the limit itself is allowed
    assert upload_problem(LAB, sizes, default_parts(LAB, list(sizes)), LIMIT) is None


def test_sizes_read_as_a_person_reads_them():
    assert [size_text(n) for n in (107 * 2**20, 2.5 * 2**20, 40 * 2**10, 2560, 3)] == [
        "107 MB",
        "2.5 MB",
        "40 KB",
        "2.5 KB",
        "0.1 KB",
    ]
