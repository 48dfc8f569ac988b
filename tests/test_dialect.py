"""One reader for every file (issue 16, kinds 2 and 3): import and `evaluate --train/--test`
detect the delimiter and the header the same way, skip empty rows, and say so."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from recsys.cli.main import main
from recsys.data.dialect import first_line, is_header, sniff
from recsys.data.importer import read_dataset
from recsys.data.ratings import RATINGS_FILE, read_ratings
from recsys.errors import RecsysError
from tests.datafiles import write_lab


def ratings_file(tmp_path: Path, text: str, name: str = "r.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize(
    ("first", "delimiter"),
    [
        ("user_id,item_id,rating", ","),
        ("user_id;item_id;rating", ";"),
        ("user_id\titem_id\trating", "\t"),
        ("1::1193::5::978300760", "::"),
        ('"Müller, A.";item;4,5', ";"),  # a German Excel row: decimal comma, quoted name
        ("just one column", ","),  # nothing splits it: the format's own, and its error
    ],
)
def test_the_delimiter_is_read_off_the_first_line(first, delimiter):
    assert sniff(f"\n  \n{first}\nmore\n", ",", 3, csv.QUOTE_MINIMAL) == delimiter


@pytest.mark.parametrize(
    ("row", "header"),
    [
        (["user_id", "item_id", "rating"], True),
        (["userId", "movieId", "rating", "timestamp"], True),  # MovieLens
        (["User ID", "Item", "Score"], True),
        (["u1", "i1", "NA"], False),  # a bad rating is a bad row, not a header
        (["u1", "i1", "4,5"], False),
        (["user", "i1", "4"], False),  # one name among three values: a user called "user"
    ],
)
def test_a_header_is_known_by_its_names_not_by_a_value_that_does_not_parse(row, header):
    assert is_header(row, RATINGS_FILE.names) is header


@pytest.mark.parametrize("bad", ["NA", '"4,5"'])
def test_a_first_row_with_a_bad_rating_is_an_error_on_line_1(tmp_path, bad):
    path = ratings_file(tmp_path, f"u1,i1,{bad}\nu2,i2,4\n")
    with pytest.raises(RecsysError, match=r"r\.csv line 1: rating .* is not a number"):
        read_ratings(path)


def test_rows_of_only_delimiters_and_a_trailing_empty_field_are_fine(tmp_path):
    path = ratings_file(tmp_path, "user_id,item_id,rating\nu1,i1,4,\nu2,i2,3\n,,,\n,,\n\n")
    got = read_ratings(path)
    assert got.users == ["u1", "u2"] and got.ratings.tolist() == [4.0, 3.0]
    assert got.notes == (f"{path}: skipped 3 empty rows (blank, or only delimiters)",)


def test_a_semicolon_file_is_read_and_the_note_says_so(tmp_path):
    path = ratings_file(tmp_path, "\ufeffUser ID;Movie;Score\nu1;i1;4\nu2;i2;3.5\n")
    got = read_ratings(path)
    assert got.users == ["u1", "u2"] and got.items == ["i1", "i2"]  # no BOM in the first id
    assert got.notes == (
        f"{path}: read as semicolon-separated (its first line has no comma between columns)",
    )


def test_evaluate_prints_the_notes_and_quotes_ids_in_its_predictions(tmp_path, capsys):
    rows = [f"u{u},m{i},{1 + (u + i) % 5}" for u in range(12) for i in range(8)]
    train = ratings_file(tmp_path, "\ufeff" + "\n".join(["user;item;rating", *[
        r.replace(",", ";") for r in rows[:80]]]) + "\n;;\n", "train.csv")  # fmt: skip
    test = ratings_file(tmp_path, '"a, b",m1,4\n' + "\n".join(rows[80:]) + "\n", "test.csv")
    out = tmp_path / "p.csv"
    args = ["evaluate", "--train", str(train), "--test", str(test), "--algorithms", "mf"]
    assert main([*args, "--predictions-out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "note: " + f"{train}: read as semicolon-separated" in text
    assert f"note: {train}: skipped 1 empty row (blank, or only delimiters)" in text
    written = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert written[0] == ["user_id", "item_id", "rating", "prediction"]
    assert written[1][:3] == ["a, b", "m1", "4"]  # one field, quoted


def test_an_import_reads_semicolon_files_with_trailing_empty_rows(tmp_path):
    folder = write_lab(tmp_path / "lab")
    files = {}
    for path in folder.iterdir():
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        rows[1:] = [[*row, ""] for row in rows[1:]]  # `a;b;c;`: a trailing empty field
        out = io.StringIO()
        csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
        files[path.name] = (out.getvalue() + ";;;;\r\n;;;;\r\n").encode("utf-8")
    report = read_dataset("lab", files)
    assert report.ok, report.text()
    reference = read_dataset("lab", {p.name: p.read_bytes() for p in folder.iterdir()})
    assert report.summary() == reference.summary()
    read = [note for note in report.notes if "ratings on the scale" not in note]
    assert sorted(read) == sorted(
        [f"{name}: read as semicolon-separated (its first line has no comma between columns)"
         for name in files]
        + [f"{name}: skipped 2 empty rows (blank, or only delimiters)" for name in files]
    )  # fmt: skip
    assert "note: items.csv: read as semicolon-separated" in report.text()
    assert report.to_dict()["notes"] == report.notes


@pytest.mark.parametrize("fmt", ["lab", "movielens"])
def test_an_import_without_timestamps_keeps_the_file_order_and_says_so(tmp_path, fmt):
    """Issue 16, kind 6: a log with no time column is in file order."""
    from tests.datafiles import write_movielens

    folder = (write_lab if fmt == "lab" else write_movielens)(tmp_path / fmt)
    name = "interactions.csv" if fmt == "lab" else "ratings.csv"
    rows = list(csv.reader(io.StringIO((folder / name).read_text(encoding="utf-8"))))
    drop = rows[0].index("timestamp")
    kept = [[v for i, v in enumerate(row) if i != drop] for row in rows]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(kept)
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    files[name] = out.getvalue().encode("utf-8")
    report = read_dataset(fmt, files)
    assert report.ok, report.text()
    events = report.dataset.interactions
    user = "user_id" if fmt == "lab" else "userId"
    column = [row[rows[0].index(user)] for row in rows[1:]]
    assert events["user_id"].tolist() == column  # file order, not sorted by a time
    assert events["ts"].tolist() == [float(i) for i in range(len(rows) - 1)]
    assert f"{name}: no timestamp column, so the events keep the file's order" in report.text()


def test_old_mac_line_ends_read_like_any_other():
    # "\r" alone ended lines on classic Mac OS; the sniffer read such a file as one line and
    # the csv module raised (a traceback on import) before this was fixed.
    assert first_line("user_id,item_id,kind\rann,1,like\r") == "user_id,item_id,kind"
    assert first_line("\r\n \r\na,b\r\nc,d") == "a,b"
    report = read_dataset(
        "lab",
        {
            "items.csv": b"item_id,title\r1,Alien\r2,Heat\r",
            "interactions.csv": b"user_id,item_id,kind\rann,1,like\rann,2,click\r",
        },
    )
    assert report.ok, report.text()
    assert report.summary()["interactions"] == 2


def test_old_mac_line_ends_in_files_without_a_header():
    # GroupLens' ml-100k files have no header and no quotes: they are split without the csv
    # module, which once took a file of lone "\r" line ends for one line of many fields.
    genres = "|0" * 19
    item = (
        f"1|Toy Story (1995)|01-Jan-1995||http://x{genres}\r2|Heat (1995)|01-Jan-1995||h{genres}\r"
    )
    data = "1\t1\t5\t874965758\r1\t2\t3\t876893171\r2\t1\t4\t878542960\r"
    report = read_dataset("movielens-100k", {"u.data": data.encode(), "u.item": item.encode()})
    assert report.ok, report.text()
    assert report.summary()["interactions"] == 3
    bad = read_dataset(
        "movielens-100k",
        {"u.data": data.replace("\t3\t", "\t3\tx\t").encode(), "u.item": item.encode()},
    )
    assert [str(p) for p in bad.problems] == ["u.data line 2: 5 fields where 4 are expected"]
