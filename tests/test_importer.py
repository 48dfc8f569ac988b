"""The importer: each format reads right, and each validation rule names the file and line."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.data.importer import (
    FORMATS,
    MAX_PROBLEMS,
    Problem,
    read_dataset,
    read_path,
)
from recsys.data.preview import columns, preview
from recsys.errors import RecsysError
from recsys.events import KINDS
from tests.datafiles import (
    FIRST_MOVIE_TAGS,
    GENRES,
    genre_of,
    movie_id,
    write_lab,
    write_movielens,
    write_movielens_100k,
)

REAL_SMALL = Path(__file__).resolve().parents[2] / "shared/datasets/ml-latest-small"
WRITERS = {"lab": write_lab, "movielens": write_movielens, "movielens-100k": write_movielens_100k}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("datasets")
    return {fmt: write(root / fmt) for fmt, write in WRITERS.items()}


def load(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


# Editing written files. Latin-1 maps every byte to one character, so edits keep other bytes.


def lines(files: dict[str, bytes], name: str) -> list[str]:
    return files[name].decode("latin-1").split("\n")


def save(files: dict[str, bytes], name: str, rows: list[str]) -> None:
    files[name] = "\n".join(rows).encode("latin-1")


def separator(name: str) -> str:
    return {"u.data": "\t", "u.item": "|"}.get(name, ",")


def fields(files: dict[str, bytes], name: str, line: int) -> list[str]:
    quoting = csv.QUOTE_MINIMAL if separator(name) == "," else csv.QUOTE_NONE
    text = lines(files, name)[line - 1]
    return next(csv.reader([text], delimiter=separator(name), quoting=quoting))


def set_field(files: dict[str, bytes], name: str, line: int, index: int, value: str) -> int:
    row = fields(files, name, line)
    row[index] = value
    out = io.StringIO()
    csv.writer(out, delimiter=separator(name), lineterminator="").writerow(row)
    rows = lines(files, name)
    rows[line - 1] = out.getvalue()
    save(files, name, rows)
    return line


def add_line(files: dict[str, bytes], name: str, text: str) -> int:
    """Append a line (the files end with a newline); returns its line number."""
    rows = lines(files, name)
    rows.insert(len(rows) - 1, text)
    save(files, name, rows)
    return len(rows) - 1


def copy_line(files: dict[str, bytes], name: str, line: int) -> int:
    return add_line(files, name, lines(files, name)[line - 1])


def find(files: dict[str, bytes], name: str, test) -> int:
    """The first data line whose fields pass `test`."""
    for number in range(2, len(lines(files, name))):
        if test(fields(files, name, number)):
            return number
    raise AssertionError(f"no such line in {name}")


# The rules: each edits good files and returns the one problem expected (file, line, words).

RULES = []


def rule(fmt: str):
    def register(edit):
        RULES.append(pytest.param(fmt, edit, id=f"{fmt}-{edit.__name__}"))
        return edit

    return register


@rule("lab")
def missing_file(files):
    del files["interactions.csv"]
    return "interactions.csv", None, "missing file: the Lab CSV format needs items.csv and"


@rule("lab")
def empty_file(files):
    files["items.csv"] = b""
    return "items.csv", None, "the file is empty"


@rule("lab")
def header_without_rows(files):
    files["interactions.csv"] = b"user_id,item_id,kind,value,timestamp\n"
    return "interactions.csv", None, "a header but no rows"


@rule("lab")
def not_utf8(files):
    rows = files["interactions.csv"].split(b"\n")
    rows[3] = b"us\xe9r" + rows[3][4:]
    files["interactions.csv"] = b"\n".join(rows)
    return "interactions.csv", 4, "byte 0xe9 is not UTF-8 text: save the file as UTF-8"


@rule("lab")
def too_many_fields(files):
    rows = lines(files, "interactions.csv")
    rows[5] += ",extra"
    save(files, "interactions.csv", rows)
    return "interactions.csv", 6, "6 fields where the header has 5"


@rule("lab")
def missing_column(files):
    set_field(files, "items.csv", 1, 1, "name")
    return "items.csv", None, "missing column title; the header has item_id, name, genres"


@rule("lab")
def missing_kind_and_rating(files):
    set_field(files, "interactions.csv", 1, 2, "type")
    return "interactions.csv", None, "missing column kind (or rating); the header has user_id"


@rule("lab")
def unparsable_timestamp(files):
    line = set_field(files, "interactions.csv", 3, 4, "yesterday")
    return "interactions.csv", line, "timestamp 'yesterday' is neither Unix seconds nor an ISO"


@rule("lab")
def empty_timestamp(files):
    return "interactions.csv", set_field(files, "interactions.csv", 9, 4, ""), "empty timestamp"


@rule("lab")
def timestamp_in_milliseconds(files):
    line = set_field(files, "interactions.csv", 4, 4, "1600000000000")
    return "interactions.csv", line, "not between the years 1900 and 2200"


@rule("lab")
def fractional_year(files):
    line = set_field(files, "items.csv", 2, 4, "1995.5")
    return "items.csv", line, "year '1995.5' is not a whole number"


@rule("lab")
def text_year(files):
    return "items.csv", set_field(files, "items.csv", 5, 4, "199x"), "year '199x' is not a whole"


# The lab CSV reads its ratings' scale off the values (issue 16, kind 4): a 7 or a 3.7 is no
# longer off its scale; tests/test_scale.py checks a scale the user gives with --scale.


@rule("lab")
def rating_not_a_number(files):
    line = find(files, "interactions.csv", lambda f: f[2] == "rating")
    set_field(files, "interactions.csv", line, 3, "five")
    return "interactions.csv", line, "value 'five' is not a number"


@rule("lab")
def unknown_kind(files):
    line = set_field(files, "interactions.csv", 7, 2, "purchase")
    return "interactions.csv", line, "unknown kind 'purchase': use one of view, click, like"


@rule("lab")
def rating_without_value(files):
    line = find(files, "interactions.csv", lambda f: f[2] == "rating")
    set_field(files, "interactions.csv", line, 3, "")
    return "interactions.csv", line, "a rating needs its stars in column value"


@rule("lab")
def value_on_a_like(files):
    line = find(files, "interactions.csv", lambda f: f[2] == "like")
    set_field(files, "interactions.csv", line, 3, "4")
    return "interactions.csv", line, "a like takes no value; only a rating has stars"


@rule("lab")
def unknown_item(files):
    line = set_field(files, "interactions.csv", 8, 1, "999")
    return "interactions.csv", line, "unknown item '999': items.csv has no such item_id"


@rule("lab")
def duplicate_item(files):
    return "items.csv", copy_line(files, "items.csv", 3), "duplicate item_id '2': first on line 3"


@rule("lab")
def duplicate_interaction(files):
    line = copy_line(files, "interactions.csv", 5)
    return "interactions.csv", line, "same user, item, kind and timestamp as line 5"


@rule("lab")
def empty_user(files):
    return "interactions.csv", set_field(files, "interactions.csv", 2, 0, ""), "empty user_id"


@rule("lab")
def user_id_not_allowed(files):
    line = set_field(files, "interactions.csv", 10, 0, "x" * 129)
    return "interactions.csv", line, "is not allowed (it has 129 characters)"


@rule("lab")
def empty_item_id(files):
    return "items.csv", add_line(files, "items.csv", ",Nameless,,,,"), "empty item_id"


@rule("lab")
def empty_title(files):
    return "items.csv", set_field(files, "items.csv", 6, 1, ""), "empty title"


@rule("movielens")
def missing_movies(files):
    del files["movies.csv"]
    return "movies.csv", None, "missing file"


@rule("movielens")
def ratings_header_only(files):
    files["ratings.csv"] = b"userId,movieId,rating,timestamp\r\n"
    return "ratings.csv", None, "a header but no rows"


@rule("movielens")
def movies_not_utf8(files):
    rows = files["movies.csv"].split(b"\n")
    rows[2] = rows[2].replace(b"Film", b"Caf\xe9")
    files["movies.csv"] = b"\n".join(rows)
    return "movies.csv", 3, "save the file as UTF-8"


@rule("movielens")
def ratings_too_few_fields(files):
    rows = lines(files, "ratings.csv")
    rows[4] = rows[4].rsplit(",", 1)[0]
    save(files, "ratings.csv", rows)
    return "ratings.csv", 5, "3 fields where the header has 4"


@rule("movielens")
def ratings_missing_column(files):
    set_field(files, "ratings.csv", 1, 2, "stars")
    return "ratings.csv", None, "missing column rating; the header has userId, movieId, stars"


@rule("movielens")
def empty_rating(files):
    return "ratings.csv", set_field(files, "ratings.csv", 3, 2, ""), "empty rating"


@rule("movielens")
def rating_not_a_number_ml(files):
    line = set_field(files, "ratings.csv", 3, 2, "abc")
    return "ratings.csv", line, "rating 'abc' is not a number"


@rule("movielens")
def rating_seven(files):
    set_field(files, "ratings.csv", 7, 2, "7")
    return "ratings.csv", 7, "rating 7 is off the scale 0.5 to 5.0"


@rule("movielens")
def rating_of_unknown_movie(files):
    line = set_field(files, "ratings.csv", 4, 1, "2")
    return "ratings.csv", line, "unknown item '2': movies.csv has no such movieId"


@rule("movielens")
def tag_on_unknown_movie(files):
    line = set_field(files, "tags.csv", 3, 1, "5000")
    return "tags.csv", line, "unknown item '5000': movies.csv has no such movieId"


@rule("movielens")
def duplicate_movie(files):
    return (
        "movies.csv",
        copy_line(files, "movies.csv", 9),
        "duplicate movieId '22': first on line 9",
    )


@rule("movielens")
def duplicate_rating(files):
    user, movie = fields(files, "ratings.csv", 4)[:2]
    line = add_line(files, "ratings.csv", f"{user},{movie},3.0,1700000000")
    return "ratings.csv", line, f"user {user} rated item {movie} again: first on line 4"


@rule("movielens")
def tag_by_bad_user(files):
    line = set_field(files, "tags.csv", 2, 0, "bell\x07")
    return "tags.csv", line, r"user id 'bell\x07' is not allowed (it contains a control character)"


@rule("movielens-100k")
def missing_u_item(files):
    del files["u.item"]
    return "u.item", None, "missing file: the MovieLens 100k format needs u.data and u.item"


@rule("movielens-100k")
def empty_u_data(files):
    files["u.data"] = b"\n\n"
    return "u.data", None, "the file is empty"


@rule("movielens-100k")
def u_data_not_utf8(files):
    rows = files["u.data"].split(b"\n")
    rows[2] = rows[2] + b"\xff"
    files["u.data"] = b"\n".join(rows)
    return "u.data", 3, "byte 0xff is not UTF-8"


@rule("movielens-100k")
def u_data_three_fields(files):
    rows = lines(files, "u.data")
    rows[1] = rows[1].replace("\t", " ", 1)
    save(files, "u.data", rows)
    return "u.data", 2, "3 fields where 4 are expected"


@rule("movielens-100k")
def u_item_short(files):
    rows = lines(files, "u.item")
    rows[10] = rows[10].rsplit("|", 2)[0]
    save(files, "u.item", rows)
    return "u.item", 11, "22 fields where 24 are expected"


@rule("movielens-100k")
def zero_stars(files):
    return "u.data", set_field(files, "u.data", 6, 2, "0"), "rating 0 is off the scale 0.5 to"


@rule("movielens-100k")
def u_data_unknown_item(files):
    line = set_field(files, "u.data", 12, 1, "61")
    return "u.data", line, "unknown item '61': u.item has no such movie_id"


@rule("movielens-100k")
def u_data_bad_timestamp(files):
    line = set_field(files, "u.data", 2, 3, "noon")
    return "u.data", line, "timestamp 'noon' is neither Unix seconds"


@rule("movielens-100k")
def duplicate_u_item(files):
    return "u.item", copy_line(files, "u.item", 1), "duplicate movie_id '1': first on line 1"


@rule("movielens-100k")
def rated_twice(files):
    user, item = fields(files, "u.data", 2)[:2]
    line = add_line(files, "u.data", f"{user}\t{item}\t3\t1700000000")
    return "u.data", line, f"user {user} rated item {item} again: first on line 2"


@rule("movielens-100k")
def genre_flag_two(files):
    line = set_field(files, "u.item", 5, 6, "2")
    return "u.item", line, "genre flag Action is '2'; a flag must be 0 or 1"


@rule("movielens-100k")
def release_date_unreadable(files):
    line = set_field(files, "u.item", 5, 2, "1995/01/01")
    return "u.item", line, "release date '1995/01/01' is not a date like 01-Jan-1995"


@pytest.mark.parametrize(("fmt", "edit"), RULES)
def test_each_rule_names_file_and_line_and_rejects_everything(folders, fmt, edit):
    files = load(folders[fmt])
    file, line, words = edit(files)
    report = read_dataset(fmt, files)
    assert not report.ok and report.dataset is None and report.summary() == {}
    assert [(p.file, p.line) for p in report.problems] == [(file, line)], report.text()
    assert words in report.problems[0].message
    assert report.n_problems == 1


def test_problem_reads_as_file_line_message():
    assert str(Problem("ratings.csv", 7, "rating 7 is off the scale 0.5 to 5.0")) == (
        "ratings.csv line 7: rating 7 is off the scale 0.5 to 5.0"
    )
    assert str(Problem("items.csv", None, "missing column title")) == (
        "items.csv: missing column title"
    )


# Reading each format.


def test_lab_reads_items_and_mixed_interactions(folders):
    files = load(folders["lab"])
    report = read_path("lab", folders["lab"])
    assert report.ok, report.text()
    data = report.dataset
    assert data.name == "lab" and data.format == "lab"
    assert data.files == {f: hashlib.sha256(files[f]).hexdigest() for f in FORMATS["lab"].required}
    items = data.items.set_index("external_id")
    assert list(data.items.columns) == ["external_id", "title", "genres", "tags", "year"]
    assert list(data.items["external_id"]) == [str(i) for i in range(1, 61)]  # "10" after "9"
    assert items.loc["3", "title"] == "Love, Actually Not"
    assert items.loc["1", "genres"] == ["Action"] and items.loc["1", "tags"] == [
        "action",
        "classic",
    ]
    assert str(data.items["year"].dtype) == "Int32"
    assert items.loc["2", "year"] == 1977 and pd.isna(items.loc["13", "year"])
    events = data.interactions
    assert list(events.columns) == ["user_id", "external_id", "kind", "value", "ts"]
    assert (
        len(events) == report.rows["interactions.csv"] == len(lines(files, "interactions.csv")) - 2
    )
    assert {"view", "click", "like", "dislike", "rating"} <= set(events["kind"])
    assert events["ts"].is_monotonic_increasing and events["ts"].dtype == np.float64
    assert (events["value"].notna() == (events["kind"] == "rating")).all()
    summary = report.summary()
    assert summary["items"] == 60 and summary["users"] == 40
    assert summary["interactions"] == len(events)
    assert sum(summary["kinds"].values()) == len(events) and set(summary["kinds"]) <= set(KINDS)
    assert summary["first"] == "2020-09-13T12:26:40Z"


def test_lab_accepts_a_rating_column_iso_times_and_a_bom(folders):
    files = load(folders["lab"])
    rows = [fields(files, "interactions.csv", n) for n in range(2, 30)]
    rated = [r for r in rows if r[2] == "rating"]
    text = ["customer,item_id,rating,timestamp"] + [
        f"{u},{i},{v},{pd.Timestamp(int(t), unit='s').isoformat()}" for u, i, _, v, t in rated
    ]
    files["interactions.csv"] = b"\xef\xbb\xbf" + "\n".join(text).encode()
    files["items.csv"] = b"\xef\xbb\xbf" + files["items.csv"]
    report = read_dataset("lab", files, mapping={"interactions.csv": {"user_id": "customer"}})
    assert report.ok, report.text()
    events = report.dataset.interactions
    assert list(events["kind"].unique()) == ["rating"]
    assert events["ts"].tolist() == [float(r[4]) for r in rated]
    assert events["value"].tolist() == [float(r[3]) for r in rated]


def test_timestamps_keep_file_order_within_a_second(folders):
    files = load(folders["lab"])
    rows = lines(files, "interactions.csv")
    rows[1:-1] = [r.rsplit(",", 1)[0] + ",2024-01-01" for r in rows[1:-1]]
    save(files, "interactions.csv", rows)
    report = read_dataset("lab", files)
    assert report.ok, report.text()
    original = [fields(files, "interactions.csv", n)[:2] for n in range(2, len(rows))]
    assert report.dataset.interactions[["user_id", "external_id"]].values.tolist() == original


def test_movielens_reads_years_genres_and_top_tags(folders):
    report = read_path("movielens", folders["movielens"])
    assert report.ok, report.text()
    items = report.dataset.items.set_index("external_id")
    assert list(report.dataset.items["external_id"]) == [movie_id(i) for i in range(60)]
    assert items.loc["1", "title"] == "Action Film 1" and items.loc["1", "year"] == 1960
    assert items.loc["7", "title"] == "Love, Actually Not" and items.loc["7", "year"] == 1962
    assert items.loc["13", "title"] == "Untitled Project" and pd.isna(items.loc["13", "year"])
    assert items.loc["16", "genres"] == [] and items.loc["1", "genres"] == ["Action", "Comedy"]
    assert FIRST_MOVIE_TAGS.count("zany") == 1  # the tie that falls off the top five
    assert items.loc["1", "tags"] == ["funny", "classic", "dark", "long", "quirky"]
    assert items.loc["13", "tags"] == ["action"] and items.loc["4", "tags"] == []
    events = report.dataset.interactions
    assert set(events["kind"]) == {"rating"} and events["ts"].is_monotonic_increasing
    assert report.rows["ratings.csv"] == len(events) and report.rows["tags.csv"] > 10


def test_movielens_without_tags_is_fine(tmp_path):
    report = read_path("movielens", write_movielens(tmp_path, tags=False))
    assert report.ok, report.text()
    assert report.dataset.items["tags"].map(len).sum() == 0
    assert "tags.csv" not in report.dataset.files


def test_movielens_100k_reads_latin1_titles_and_release_years(folders):
    report = read_path("movielens-100k", folders["movielens-100k"])
    assert report.ok, report.text()
    assert report.dataset.name == "movielens-100k"
    items = report.dataset.items.set_index("external_id")
    assert items.loc["2", "title"] == "Café Society" and items.loc["2", "year"] == 1995
    assert items.loc["4", "title"] == "No Year Here" and items.loc["4", "year"] == 1994
    assert items.loc["8", "genres"] == []  # flagged "unknown" only
    assert items.loc["1", "genres"] == ["Action"] and items.loc["6", "genres"] == ["Comedy"]
    events = report.dataset.interactions
    assert set(events["value"]) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert len(events) == report.rows["u.data"] and events["ts"].is_monotonic_increasing


def test_generated_data_has_a_genre_each_user_loves(folders):
    data = read_path("movielens", folders["movielens"]).dataset
    genre = {movie_id(i): genre_of(i) for i in range(60)}
    events = data.interactions
    loved = events.assign(  # user n (1-based) loves genre (n - 1) % 4
        loved=[
            genre[i] == (int(u) - 1) % 4
            for u, i in zip(events.user_id, events.external_id, strict=True)
        ]
    )
    means = loved.groupby(["user_id", "loved"])["value"].mean().unstack()
    assert (means[True] > means[False] + 1.5).all()
    per_user = loved.groupby("user_id").size()
    assert per_user.between(15, 25).all() and len(GENRES) == 4


def test_line_numbers_count_blank_lines_and_quoted_newlines(folders):
    files = load(folders["movielens"])
    rows = lines(files, "movies.csv")
    rows[2] = rows[2].replace("Love, Actually Not", "Love,\nActually Not")  # line 3 and 4 now
    rows.insert(5, "")  # a blank line 7
    save(files, "movies.csv", rows)
    set_field(files, "movies.csv", 9, 1, "")  # the 7th movie, two lines further down
    report = read_dataset("movielens", files)
    assert [(p.file, p.line, p.message) for p in report.problems] == [
        ("movies.csv", 9, "empty title")
    ]


def test_text_ids_sort_naturally_and_crlf_files_read(folders):
    files = {
        "items.csv": b"item_id,title\r\nb1,B\r\na10,A10\r\n07,Seven\r\na2,A2\r\n7,7\r\n",
        "interactions.csv": b"user_id,item_id,kind,timestamp\r\nann,a2,view,1\r\n\r\n"
        b"bob,a10,skip,2\r\nann,a3,view,3\r\n",
    }
    report = read_dataset("lab", files)
    assert [str(p) for p in report.problems] == [
        "interactions.csv line 5: unknown item 'a3': items.csv has no such item_id"
    ]
    del files["interactions.csv"]
    files["interactions.csv"] = b"user_id,item_id,kind,timestamp\r\nann,a2,view,1\r\n"
    report = read_dataset("lab", files)
    assert report.ok, report.text()
    assert list(report.dataset.items["external_id"]) == ["07", "7", "a2", "a10", "b1"]


def test_a_file_of_only_bad_rows_is_reported_row_by_row(folders):
    files = load(folders["lab"])
    rows = lines(files, "interactions.csv")
    rows[1:-1] = [r + ",x" for r in rows[1:-1]]
    save(files, "interactions.csv", rows)
    report = read_dataset("lab", files)
    assert report.n_problems == len(rows) - 2
    assert {p.message for p in report.problems} == {"6 fields where the header has 5"}


# Mapping columns.


def test_mapping_reads_a_file_with_other_headers(folders):
    files = load(folders["lab"])
    expected = read_dataset("lab", files).dataset
    set_field(files, "items.csv", 1, 1, "name")
    rows = lines(files, "interactions.csv")
    rows[0] = "customer,sku,kind,stars,when"
    save(files, "interactions.csv", rows)
    mapping = {
        "items.csv": {"title": "name"},
        "interactions.csv": {"user_id": "customer", "item_id": "sku", "value": "stars"},
    }
    mapping["interactions.csv"]["timestamp"] = "when"
    report = read_dataset("lab", files, mapping=mapping, name="shop")
    assert report.ok, report.text()
    assert report.dataset.name == "shop"
    pd.testing.assert_frame_equal(report.dataset.interactions, expected.interactions)
    pd.testing.assert_frame_equal(report.dataset.items, expected.items)


def test_a_bad_mapping_is_a_problem(folders):
    files = load(folders["lab"])
    mapping = {
        "interactions.csv": {"user_id": "client", "stars": "value"},
        "extra.csv": {"a": "b"},
    }
    report = read_dataset("lab", files, mapping=mapping)
    assert report.dataset is None
    assert {(p.file, p.line) for p in report.problems} == {
        ("extra.csv", None),
        ("interactions.csv", None),
    }
    text = report.text()
    assert "the mapping takes user_id from column client, which the header lacks" in text
    assert "the header has user_id, item_id, kind, value, timestamp" in text
    assert "the mapping names stars, not a column of this file" in text
    assert "extra.csv: the mapping names a file the Lab CSV format lacks" in text


def test_a_headerless_file_cannot_be_mapped(folders):
    report = read_dataset(
        "movielens-100k",
        load(folders["movielens-100k"]),
        mapping={"u.data": {"user_id": "user"}},
    )
    assert [str(p) for p in report.problems] == [
        "u.data: the file has no header, so its columns cannot be mapped"
    ]


# Sizes and paths.


def test_a_file_over_the_limit_is_a_problem(folders):
    files = load(folders["movielens"])
    report = read_dataset("movielens", files, max_bytes=len(files["movies.csv"]))
    assert report.dataset is None
    problem = next(p for p in report.problems if p.file == "ratings.csv")
    assert problem.line is None
    assert f"the file is {len(files['ratings.csv']):,} bytes, over the limit of" in problem.message
    assert "ratings.csv" not in report.rows  # never parsed


def test_the_limit_is_checked_before_a_file_is_read(folders, monkeypatch):
    read = []
    original = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self.name) or original(self))
    limit = (folders["movielens"] / "movies.csv").stat().st_size
    report = read_path("movielens", folders["movielens"], max_bytes=limit)
    assert sorted(read) == ["movies.csv", "tags.csv"]
    assert [p.file for p in report.problems] == ["ratings.csv"]


def test_the_limit_comes_from_the_environment(folders, monkeypatch):
    monkeypatch.setenv("RECSYS_MAX_IMPORT_MB", "0.01")
    report = read_path("movielens", folders["movielens"])
    assert [p.file for p in report.problems] == ["ratings.csv"]
    assert "over the limit of 10,485 bytes per file (set RECSYS_MAX_IMPORT_MB" in str(
        report.problems[0]
    )
    monkeypatch.setenv("RECSYS_MAX_IMPORT_MB", "lots")
    with pytest.raises(RecsysError, match="RECSYS_MAX_IMPORT_MB"):
        read_path("movielens", folders["movielens"])


def test_a_zip_with_a_sub_folder_reads(folders, tmp_path):
    archive = tmp_path / "ml-tiny.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in folders["movielens"].iterdir():
            zf.write(path, f"ml-tiny/{path.name}")
            zf.writestr(f"__MACOSX/ml-tiny/._{path.name}", b"\x00\x05junk")
        zf.writestr("ml-tiny/README.txt", "hello")
    report = read_path("movielens", archive)
    assert report.ok, report.text()
    assert report.dataset.name == "ml-tiny" and set(report.dataset.files) == {
        "movies.csv",
        "ratings.csv",
        "tags.csv",
    }
    limited = read_path("movielens", archive, max_bytes=5000)
    assert [p.file for p in limited.problems] == ["ratings.csv"]


def test_a_folder_with_a_sub_folder_reads(folders, tmp_path):
    write_movielens_100k(tmp_path / "ml-100k")
    report = read_path("movielens-100k", tmp_path)
    assert report.ok, report.text()
    assert len(report.dataset.items) == 60


def test_a_missing_file_in_a_folder_is_a_problem(folders, tmp_path):
    write_lab(tmp_path)
    (tmp_path / "items.csv").unlink()
    report = read_path("lab", tmp_path)
    assert [(p.file, p.line) for p in report.problems] == [("items.csv", None)]


def test_read_path_raises_one_clear_error(folders, tmp_path):
    with pytest.raises(RecsysError, match="unknown import format 'csv'"):
        read_path("csv", folders["lab"])
    with pytest.raises(RecsysError, match="does not exist"):
        read_path("lab", tmp_path / "nowhere")
    with pytest.raises(RecsysError, match="holds none of the Lab CSV files"):
        read_path("lab", tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(RecsysError, match="neither a folder nor a zip archive"):
        read_path("lab", tmp_path / "notes.txt")
    write_lab(tmp_path / "a")
    write_lab(tmp_path / "b")
    with pytest.raises(RecsysError, match="more than one folder"):
        read_path("lab", tmp_path)
    with pytest.raises(RecsysError, match="unknown import format"):
        read_dataset("parquet", {})


# The report.


def test_problems_are_capped_but_all_counted(folders):
    files = load(folders["movielens"])
    rows = lines(files, "ratings.csv")
    rows[1:301] = [r.rsplit(",", 2)[0] + ",9,1600000000" for r in rows[1:301]]
    save(files, "ratings.csv", rows)
    report = read_dataset("movielens", files)
    assert len(report.problems) == MAX_PROBLEMS
    assert report.n_problems >= 300
    assert report.problems[0] == Problem("ratings.csv", 2, "rating 9 is off the scale 0.5 to 5.0")
    text = report.text().splitlines()
    assert text[0] == f"Rejected: {report.n_problems:,} problems"
    assert text[-1] == f"  … and {report.n_problems - MAX_PROBLEMS:,} more"


def test_report_text_and_json(folders):
    files = load(folders["movielens-100k"])
    report = read_dataset("movielens-100k", files)
    text = report.text()
    n = report.summary()["interactions"]
    assert text.startswith(f"OK: 60 items, 40 users, {n:,} interactions")
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["ok"] and payload["format"] == "movielens-100k" and payload["problems"] == []
    assert payload["summary"]["ratings"] == n and payload["rows"] == {"u.item": 60, "u.data": n}
    assert payload["summary"]["rating_mean"] == round(report.dataset.interactions.value.mean(), 4)
    del files["u.data"]
    rejected = json.loads(json.dumps(read_dataset("movielens-100k", files).to_dict()))
    assert rejected["ok"] is False and rejected["summary"] == {} and rejected["n_problems"] == 1
    assert rejected["problems"] == [
        {"file": "u.data", "line": None, "message": rejected["problems"][0]["message"]}
    ]


def test_columns_for_a_mapping_ui():
    assert columns("lab", "items.csv") == (("item_id", "title"), ("genres", "tags", "year"))
    # The timestamp is optional (issue 16, kind 6): without it, events keep the file's order.
    assert columns("movielens", "ratings.csv") == (("userId", "movieId", "rating"), ("timestamp",))
    required, optional = columns("movielens-100k", "u.item")
    assert len(required) == 24 and required[:2] == ("movie_id", "title") and optional == ()
    with pytest.raises(RecsysError):
        columns("lab", "ratings.csv")


def test_preview_shows_text_and_never_fails_on_bad_bytes(folders):
    files = load(folders["movielens-100k"])
    shown = preview(files["u.item"], "u.item", "movielens-100k", rows=3)
    assert shown.shape == (3, 24) and shown.loc[1, "title"] == "Café Society (1995)"
    bad = b"item_id,title\n1,Caf\xe9\n2,Ok,extra\n"
    shown = preview(bad, "items.csv", "lab")
    assert list(shown.columns) == ["item_id", "title", "column 3"]
    assert shown.loc[0, "title"] == "Caf\ufffd" and shown.loc[0, "column 3"] == ""
    assert preview(b"", "items.csv", "lab").empty
    assert len(preview(load(folders["lab"])["interactions.csv"], "interactions.csv", "lab")) == 10


@pytest.mark.skipif(not REAL_SMALL.is_dir(), reason="../shared/datasets/ml-latest-small absent")
def test_the_real_ml_latest_small_reads():
    report = read_path("movielens", REAL_SMALL)
    assert report.ok, report.text()
    summary = report.summary()
    assert summary["items"] == 9_742 and summary["ratings"] == summary["interactions"] == 100_836
    assert summary["users"] == 610
    items = report.dataset.items.set_index("external_id")
    assert items.loc["1", "title"] == "Toy Story" and items.loc["1", "year"] == 1995
    assert "pixar" in items.loc["1", "tags"]
