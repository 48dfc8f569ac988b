"""The fast path of the delimited-file reader: pyarrow's multithreaded CSV parser for a clean file.

`recsys.data.reader` decodes a file into one string and splits it line by line, so that it can
name the physical line of every problem. At MovieLens-25M's 678 MB of ratings that costs
seconds and gigabytes (the bytes, the string, the lines and the fields, all at once). Most big
files are clean: a header, no quotes, every row as wide as the header, valid UTF-8. For those,
pyarrow's reader (https://arrow.apache.org/docs/python/csv.html) gives the same columns of
stripped text directly; the reader takes them only when nothing could differ, and otherwise
reads the file the careful way, which finds and reports each problem. Files with a header
(every format's but ml-100k's `u.data` and `u.item`) come here first; `tests/test_fastread.py`
reads clean and unclean files both ways and compares the frames, problems and notes.
"""

from __future__ import annotations

import codecs
import csv
import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pacsv

from recsys.data.dialect import sniff

UTF8 = ("utf-8", "utf-8-sig")


def clean_columns(data: bytes, delimiter: str, encoding: str, required: int):
    """The header's fields (stripped) and every column as stripped text (pyarrow arrays, rows in
    file order: row r is physical line r + 2), or None when the file is not plainly clean:
    not UTF-8, a NUL byte, a quote, a lone carriage return, another delimiter than `delimiter`
    on its first line, fewer than two columns, a row of another width than the header, or a
    blank row (the careful reader skips those with a note, and reports the rest by line).
    `required`: how many columns the format needs, as `recsys.data.dialect.sniff` reads it.
    """
    if encoding not in UTF8 or b"\x00" in data or b'"' in data:
        return None
    if data.count(b"\r") != data.count(b"\r\n"):
        return None
    if data.startswith(codecs.BOM_UTF8) and encoding == "utf-8-sig":
        data = data[len(codecs.BOM_UTF8) :]
    end = data.find(b"\n")
    try:
        first = (data if end < 0 else data[:end]).decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return None
    if len(delimiter) != 1 or not first.strip():
        return None
    if sniff(first, delimiter, required, csv.QUOTE_NONE) != delimiter:
        return None
    header = [name.strip() for name in first.split(delimiter)]
    if len(header) < 2:
        return None
    names = [f"c{i}" for i in range(len(header))]
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char=False,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.large_string() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        return None
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if table.num_rows != lines - 1 or table.num_rows == 0:
        return None  # a blank line pyarrow let through, or no rows: the careful reader says
    columns = [pc.utf8_trim_whitespace(table.column(i).combine_chunks()) for i in range(len(names))]
    del table
    blank = np.ones(len(columns[0]), dtype=bool)
    for column in columns:
        blank &= pc.equal(column, "").to_numpy(zero_copy_only=False)
    if blank.any():
        return None
    return header, columns
