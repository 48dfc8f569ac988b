"""Bad import files (issue 17): every import format, folder and zip, and the size limits. One
line on stderr and exit 2 (a rejected import's report on stdout names the problem with its file
and line), the lab unchanged table by table, no file written."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from tests.badinput import assert_bad_input, case
from tests.datafiles import write_lab, write_movielens, write_movielens_100k

IT, EV, ML, ML100K = "items.csv", "interactions.csv", "movielens", "movielens-100k"
GOOD = b"user_id,item_id,rating\nu1,i1,4\nu1,i2,3\nu2,i1,5\nu2,i3,2\nu3,i2,4\n"


def imported(edit, fmt="lab", writer=write_lab, *extra):
    """Args importing a dataset of `fmt` written by `writer`, after `edit(folder)`."""

    def make(tmp: Path) -> list[str]:
        folder = writer(tmp / "data")
        edit(folder)
        return ["import", "--format", fmt, str(folder), *extra]

    return make


def put(name, data):
    return lambda folder: (folder / name).write_bytes(data)


def swap(name, old, new):
    def edit(folder):
        data = (folder / name).read_bytes()
        assert old in data
        (folder / name).write_bytes(data.replace(old, new, 1))

    return edit


def add(name, row):
    return lambda folder: (folder / name).write_bytes((folder / name).read_bytes() + row)


def utf16(name):
    return lambda folder: (folder / name).write_bytes((folder / name).read_text().encode("utf-16"))


def zipped(craft):
    """Args importing a zip of a lab dataset, its bytes then changed by `craft(zip path)`."""

    def make(tmp: Path) -> list[str]:
        folder, archive = write_lab(tmp / "data"), tmp / "in.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for name in (IT, EV):
                out.write(folder / name, name)
        craft(archive)
        return ["import", "--format", "lab", str(archive)]

    return make


def headers(archive: Path, local: tuple[int, bytes], central: tuple[int, bytes]) -> None:
    """Write `local` (offset, bytes) into every local file header and `central` into every
    central directory entry of `archive`."""
    data = bytearray(archive.read_bytes())
    for magic, (offset, value) in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        at = data.find(magic)
        while at >= 0:
            data[at + offset : at + offset + len(value)] = value
            at = data.find(magic, at + 4)
    archive.write_bytes(bytes(data))


def encrypted(archive):  # general purpose flag bit 0: "encrypted"
    headers(archive, (6, b"\x01\x00"), (8, b"\x01\x00"))


def method_99(archive):  # a compression method no unzipper knows
    headers(archive, (8, struct.pack("<H", 99)), (10, struct.pack("<H", 99)))


def truncated(archive):
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])


def two_folders(archive):
    with zipfile.ZipFile(archive, "w") as out:
        for folder in ("a", "b"):
            out.writestr(f"{folder}/items.csv", "item_id,title\n1,A\n")
            out.writestr(f"{folder}/interactions.csv", "user_id,item_id,kind\nu,1,like\n")


def traversal(archive):
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("../../items.csv", "item_id,title\n1,A\n")


def empty(archive):
    zipfile.ZipFile(archive, "w").close()


def bad_crc(archive):
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(IT)
    start = info.header_offset + 30 + len(info.filename)
    data[start + 5] ^= 0xFF
    archive.write_bytes(bytes(data))


def two_datasets(tmp: Path) -> list[str]:
    write_lab(tmp / "data" / "a")
    write_lab(tmp / "data" / "b")
    return ["import", "--format", "lab", str(tmp / "data")]


IMPORTS = [
    case("items-empty", imported(put(IT, b"")), "items.csv: the file is empty"),
    case("items-header-only", imported(put(IT, b"item_id,title\n")), "a header but no rows"),
    case("items-no-title", imported(put(IT, b"item_id,genres\n1,Drama\n")), "missing column title"),
    case("items-no-id", imported(put(IT, b"title,genres\nA,Drama\n")), "missing column item_id"),
    case(
        "items-same-id-twice",
        imported(add(IT, b"1,Again,Drama,,1999,Dir\n")),
        "duplicate item_id '1'",
    ),
    case(
        "items-same-column-twice",
        imported(swap(IT, b"item_id,title,genres", b"item_id,title,title")),
        "the header names column title twice",
    ),
    case(
        "items-ragged-long",
        imported(add(IT, b"999,X,Drama,x,1999,Dir,a,b\n")),
        "8 fields where the header has 6",
    ),
    case("items-ragged-short", imported(add(IT, b"999\n")), "1 fields where the header has 6"),
    case(
        "items-binary",
        imported(put(IT, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)),
        "a NUL byte",
    ),
    case("items-utf16", imported(utf16(IT)), "items.csv line 1: a NUL byte"),
    case(
        "items-latin1",
        imported(swap(IT, b"Love, Actually Not", b"Caf\xe9 \xff")),
        "byte 0xe9 is not UTF-8",
    ),
    case(
        "items-nul-in-title", imported(swap(IT, b"Love, Actually Not", b"Love\x00")), "a NUL byte"
    ),
    case(
        "items-bell-in-title",
        imported(swap(IT, b"Love, Actually Not", b"Love\x07")),
        "holds a control character",
    ),
    case(
        "items-escape-in-title",
        imported(swap(IT, b"Love, Actually Not", b"\x1b[31mRed")),
        "title '\\x1b[31mRed' holds a control character",
    ),
    case(
        "items-escape-in-genre",
        imported(swap(IT, b",Action,", b",Act\x1bion,")),
        "genres 'Act\\x1bion' holds",
    ),
    case(
        "items-id-over-128",
        imported(add(IT, b"x" * 300 + b",Long Id,Drama,,1999,Dir\n")),
        "item id 'xxxx",
    ),
    case(
        "items-id-with-tab",
        imported(add(IT, b"99\x0b8,Tabbed,Drama,,1999,Dir\n")),
        "item id '99\\x0b8'",
    ),
    case("items-id-empty", imported(add(IT, b",No Id,Drama,,1999,Dir\n")), "empty item_id"),
    case("items-title-empty", imported(add(IT, b"998,,Drama,,1999,Dir\n")), "empty title"),
    case(
        "items-year-text",
        imported(add(IT, b"998,Y,Drama,,nineteen,Dir\n")),
        "year 'nineteen' is not",
    ),
    case(
        "items-year-huge",
        imported(add(IT, b"998,Y,Drama,,99999999999,Dir\n")),
        "from -9999 to 9999",
    ),
    case(
        "items-unclosed-quote",
        imported(add(IT, b'998,"Unclosed,Drama,,1999,Dir\n')),
        "2 fields where",
    ),
    case(
        "items-field-over-limit",
        imported(add(IT, b"998," + b"T" * 200_000 + b",D,,1999,Dir\n")),
        "field larger than field limit",
    ),
    case("items-blank-lines", imported(put(IT, b"\n\n\n")), "items.csv: the file is empty"),
    case("items-only-bom", imported(put(IT, b"\xef\xbb\xbf")), "items.csv: the file is empty"),
    case(
        "items-a-folder", imported(lambda f: ((f / IT).unlink(), (f / IT).mkdir())), "missing file"
    ),
    case("events-empty", imported(put(EV, b"")), "interactions.csv: the file is empty"),
    case(
        "events-header-only", imported(put(EV, b"user_id,item_id,kind\n")), "a header but no rows"
    ),
    case("events-no-user", imported(put(EV, b"item_id,kind\n1,like\n")), "missing column user_id"),
    case("events-no-kind", imported(put(EV, b"user_id,item_id\nu1,1\n")), "missing column kind"),
    case(
        "events-unknown-kind",
        imported(add(EV, b"user01,1,love,,1600000000\n")),
        "unknown kind 'love'",
    ),
    case(
        "events-unknown-item",
        imported(add(EV, b"user01,9999,like,,1600000000\n")),
        "unknown item '9999'",
    ),
    case(
        "events-rating-text",
        imported(add(EV, b"user01,1,rating,great,1600000000\n")),
        "'great' is not a number",
    ),
    case(
        "events-rating-nan",
        imported(add(EV, b"user01,1,rating,nan,1600000000\n")),
        "'nan' is not a number",
    ),
    case(
        "events-rating-inf",
        imported(add(EV, b"user01,1,rating,inf,1600000000\n")),
        "'inf' is not a number",
    ),
    case(
        "events-rating-empty",
        imported(add(EV, b"user01,1,rating,,1600000000\n")),
        "a rating needs its stars",
    ),
    case(
        "events-like-with-value",
        imported(add(EV, b"user01,1,like,4,1600000000\n")),
        "a like takes no value",
    ),
    case(
        "events-user-over-128",
        imported(add(EV, b"u" * 300 + b",1,like,,1600000000\n")),
        "300 characters",
    ),
    case("events-user-empty", imported(add(EV, b",1,like,,1600000000\n")), "empty user_id"),
    case("events-user-blank", imported(add(EV, b'"   ",1,like,,1600000000\n')), "empty user_id"),
    case(
        "events-user-control",
        imported(add(EV, b"us\x01er,1,like,,1600000000\n")),
        "contains a control",
    ),
    case("events-user-nul", imported(add(EV, b"us\x00er,1,like,,1600000000\n")), "a NUL byte"),
    case(
        "events-time-text",
        imported(add(EV, b"user01,1,like,,yesterday\n")),
        "'yesterday' is neither",
    ),
    case(
        "events-time-huge",
        imported(add(EV, b"user01,1,like,,99999999999999999999\n")),
        "not between the years 1900 and 2200",
    ),
    case("events-time-nan", imported(add(EV, b"user01,1,like,,nan\n")), "'nan' is neither Unix"),
    case("events-time-bad-date", imported(add(EV, b"user01,1,like,,2024-13-45\n")), "'2024-13-45'"),
    case(
        "events-ragged-long",
        imported(add(EV, b"user01,1,like,,1600000000,x,y\n")),
        "7 fields where",
    ),
    case("events-ragged-short", imported(add(EV, b"user01\n")), "1 fields where the header has 5"),
    case("events-binary", imported(put(EV, bytes(range(256)) * 10)), "a NUL byte"),
    case("events-utf16", imported(utf16(EV)), "interactions.csv line 1: a NUL byte"),
    case(
        "events-latin1",
        imported(add(EV, b"us\xe9r,1,like,,1600000000\n")),
        "byte 0xe9 is not UTF-8",
    ),
    case(
        "events-same-column-twice",
        imported(swap(EV, b"user_id,item_id,kind", b"user_id,user_id,kind")),
        "the header names column user_id twice",
    ),
    case("events-file-missing", imported(lambda f: (f / EV).unlink()), "missing file"),
    case("events-kind-empty", imported(add(EV, b"user01,1,,,1600000000\n")), "empty kind"),
    case(
        "events-unclosed-quote",
        imported(add(EV, b'"user01,1,like,,1600000000\n')),
        "1 fields where",
    ),
    case("two-datasets-in-one-folder", two_datasets, "in more than one folder (a, b)"),
    case(
        "map-a-file-not-in-the-format",
        imported(lambda f: None, "lab", write_lab, "--map", "users.csv:user_id=customer"),
        "the mapping names a file the Lab CSV format lacks",
    ),
    case(
        "map-a-column-not-there",
        imported(lambda f: None, "lab", write_lab, "--map", "interactions.csv:user_id=customer"),
        "which the header lacks",
    ),
    case(
        "map-an-unknown-column",
        imported(lambda f: None, "lab", write_lab, "--map", "interactions.csv:colour=user_id"),
        "the mapping names colour",
    ),
    case(
        "movielens-rating-7",
        imported(add("ratings.csv", b"1,1,7.0,1600000000\n"), ML, write_movielens),
        "rating 7.0 is off the scale 0.5 to 5.0",
    ),
    case(
        "movielens-rating-0",
        imported(add("ratings.csv", b"1,4,0,1600000000\n"), ML, write_movielens),
        "rating 0 is off the scale",
    ),
    case(
        "movielens-rating-off-step",
        imported(add("ratings.csv", b"1,4,3.33,1600000000\n"), ML, write_movielens),
        "not on the scale 0.5 to 5.0 in steps of 0.5",
    ),
    case(
        "movielens-no-rating-column",
        imported(put("ratings.csv", b"userId,movieId,timestamp\n1,1,1\n"), ML, write_movielens),
        "missing column rating",
    ),
    case(
        "movielens-tags-ragged",
        imported(add("tags.csv", b"1,1\n"), ML, write_movielens),
        "tags.csv line",
    ),
    case(
        "movielens-tags-binary",
        imported(put("tags.csv", bytes(range(256))), ML, write_movielens),
        "tags.csv line 1: a NUL byte",
    ),
    case(
        "movielens-tag-with-escape",
        imported(add("tags.csv", b"1,1,\x1b[2J,1600000000\n"), ML, write_movielens),
        "tag '\\x1b[2J' holds a control character",
    ),
    case(
        "movielens-unknown-movie",
        imported(add("ratings.csv", b"1,2,4.0,1600000000\n"), ML, write_movielens),
        "unknown item '2'",
    ),
    case(
        "movielens-same-movie-twice",
        imported(add("movies.csv", b"1,Dup (1999),Drama\n"), ML, write_movielens),
        "duplicate movieId '1'",
    ),
    case(
        "movielens-no-movies",
        imported(lambda f: (f / "movies.csv").unlink(), ML, write_movielens),
        "movies.csv: missing file",
    ),
    case(
        "100k-three-fields",
        imported(add("u.data", b"1\t1\t4\n"), ML100K, write_movielens_100k),
        "3 fields where 4 are expected",
    ),
    case(
        "100k-rating-6",
        imported(add("u.data", b"1\t1\t6\t881250949\n"), ML100K, write_movielens_100k),
        "rating 6 is off the scale",
    ),
    case(
        "100k-rating-text",
        imported(add("u.data", b"1\t1\tx\t881250949\n"), ML100K, write_movielens_100k),
        "rating 'x' is not a number",
    ),
    case(
        "100k-short-item",
        imported(add("u.item", b"999|Short\n"), ML100K, write_movielens_100k),
        "2 fields where 24 are expected",
    ),
    case(
        "100k-unknown-item",
        imported(add("u.data", b"1\t999\t4\t881250949\n"), ML100K, write_movielens_100k),
        "unknown item '999'",
    ),
    case(
        "100k-empty",
        imported(put("u.data", b""), ML100K, write_movielens_100k),
        "u.data: the file is empty",
    ),
    case(
        "100k-nul",
        imported(add("u.data", b"1\t1\x00\t4\t881250949\n"), ML100K, write_movielens_100k),
        "a NUL byte",
    ),
    case("zip-encrypted-member", zipped(encrypted), "it is encrypted in the zip"),
    case("zip-unknown-compression", zipped(method_99), "compression method 99"),
    case("zip-truncated", zipped(truncated), "neither a folder nor a zip archive"),
    case("zip-bad-crc", zipped(bad_crc), "items.csv: cannot read the file"),
    case("zip-two-folders", zipped(two_folders), "in more than one folder"),
    case("zip-path-traversal", zipped(traversal), "holds none of the Lab CSV files"),
    case("zip-empty", zipped(empty), "holds none of the Lab CSV files"),
]


@pytest.mark.parametrize("args, expected", IMPORTS)
def test_a_bad_import_changes_nothing(capsys, db_path, small_world_print, args, expected):
    assert_bad_input(capsys, args, expected, db_path, small_world_print)


@pytest.mark.parametrize(
    "limit, expected",
    [
        ("abc", "not 'abc'"), ("0", "not '0'"), ("-5", "not '-5'"), ("nan", "not 'nan'"),
        ("inf", "not 'inf'"), ("1e400", "not '1e400'"), ("0.001", "over the limit of 1,048 bytes"),
    ],
)  # fmt: skip
def test_import_size_limits(capsys, db_path, small_world_print, monkeypatch, limit, expected):
    monkeypatch.setenv("RECSYS_MAX_IMPORT_MB", limit)
    args = imported(lambda folder: None)
    assert_bad_input(capsys, args, expected, db_path, small_world_print)
