"""The reader's fast path (`recsys.data.fastread`, pyarrow's CSV parser) against its careful
path: on a clean file both give the same frame, line numbers and all; on anything else the fast
path declines, so problems are still found and reported by line."""

import codecs

import pandas as pd
import pytest

import recsys.data.reader as reader
from recsys.data.fastread import clean_columns
from recsys.data.formats import SPECS
from recsys.data.reader import Intake

RATINGS = SPECS["movielens"]["ratings.csv"]
MOVIES = SPECS["movielens"]["movies.csv"]

CLEAN = {
    "plain": b"userId,movieId,rating,timestamp\n1,10,4.0,964982703\n1,20,5,964981247\n2,10,0.5,1\n",
    "no final newline": b"userId,movieId,rating,timestamp\n1,10,4.0,1\n2,10,3,2",
    "windows line ends": b"userId,movieId,rating,timestamp\r\n1,10,4.0,1\r\n2,10,3,2\r\n",
    "byte order mark": codecs.BOM_UTF8 + b"userId,movieId,rating,timestamp\n1,10,4,1\n",
    "spaces around fields": b" userId , movieId,rating ,timestamp\n 1 ,10\t, 4.5 ,1\n",
    "columns reordered": b"timestamp,rating,movieId,userId\n1,4,10,7\n2,3,11,7\n",
    "no timestamp": b"userId,movieId,rating\n1,10,4\n",
    "bad values stay text": b"userId,movieId,rating,timestamp\n,10,NA,yesterday\n1,x,9,1\n",
    "non-ascii": "userId,movieId,rating,timestamp\nzoë,10,4,1\n".encode(),
}

UNCLEAN = {
    "blank line": b"userId,movieId,rating\n1,10,4\n\n2,10,3\n",
    "delimiters only": b"userId,movieId,rating\n1,10,4\n,,\n2,10,3\n",
    "blank last line": b"userId,movieId,rating\n1,10,4\n  \n",
    "a quote": b'userId,movieId,rating\n"1",10,4\n',
    "lone carriage return": b"userId,movieId,rating\r1,10,4\r",
    "a row too wide": b"userId,movieId,rating\n1,10,4,9\n",
    "a row too short": b"userId,movieId,rating\n1,10\n",
    "trailing empty field": b"userId,movieId,rating\n1,10,4,\n",
    "not utf-8": b"userId,movieId,rating\n\xff,10,4\n",
    "a NUL byte": b"userId,movieId,rating\n1\x00,10,4\n",
    "semicolons": b"userId;movieId;rating\n1;10;4\n",
    "header only": b"userId,movieId,rating\n",
}


def _table(data: bytes, spec=RATINGS, careful: bool = False, monkeypatch=None):
    if careful:
        monkeypatch.setattr(reader, "clean_columns", lambda *args: None)
    intake = Intake({"ratings.csv": spec}, None, 50)
    intake.files["ratings.csv"] = data
    return intake.table("ratings.csv"), intake


@pytest.mark.parametrize("name", CLEAN)
def test_a_clean_file_reads_the_same_both_ways(name, monkeypatch):
    data = CLEAN[name]
    assert clean_columns(data, ",", RATINGS.encoding, 3) is not None  # the fast path reads it
    fast, fast_intake = _table(data)
    careful, careful_intake = _table(data, careful=True, monkeypatch=monkeypatch)
    pd.testing.assert_frame_equal(fast, careful)
    assert fast.attrs == careful.attrs
    assert fast_intake.rows == careful_intake.rows
    assert fast_intake.problems == careful_intake.problems
    assert fast_intake.notes == careful_intake.notes


def test_the_fast_path_numbers_lines_from_two():
    frame, _ = _table(CLEAN["plain"])
    assert frame["line"].tolist() == [2, 3, 4]
    assert frame["userId"].tolist() == ["1", "1", "2"]
    assert frame["rating"].tolist() == ["4.0", "5", "0.5"]


@pytest.mark.parametrize("name", UNCLEAN)
def test_anything_else_goes_the_careful_way(name, monkeypatch):
    data = UNCLEAN[name]
    assert clean_columns(data, ",", RATINGS.encoding, 3) is None
    fast, fast_intake = _table(data)
    careful, careful_intake = _table(data, careful=True, monkeypatch=monkeypatch)
    assert fast_intake.problems == careful_intake.problems
    assert fast_intake.notes == careful_intake.notes
    if careful is None:
        assert fast is None
    else:
        pd.testing.assert_frame_equal(fast, careful)


def test_a_missing_column_is_reported_once():
    frame, intake = _table(b"userId,film,rating\n1,10,4\n")
    assert frame is None
    assert [p.message.split(";")[0] for p in intake.problems] == ["missing column movieId"]


def test_movies_with_a_header_naming_a_column_twice():
    data = b"movieId,title,title\n1,Alien,Alien\n"
    fast, intake = _table(data, MOVIES)
    assert fast is None
    assert any("twice" in p.message for p in intake.problems)
