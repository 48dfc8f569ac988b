"""How a delimited file is written, read off the file itself: its delimiter (from its first
line) and whether its first row is a header (from the names in it). Used by `recsys.data.reader`
for every file of every format, so import, preview and `evaluate --train/--test` agree.
"""

from __future__ import annotations

import csv
import re

# What people's files are separated by: Excel writes `;` where the decimal mark is a comma
# (German, French), tab-separated exports, GroupLens' ml-1m `::`, and `|` (ml-100k's u.item).
DELIMITERS = (",", ";", "\t", "::", "|")
_LINE_END = re.compile(r"\r\n?|\n")
# Names a header may give a column besides the canonical one (compared case- and
# punctuation-blind: `userId`, `User ID` and `user_id` are one name).
ALIASES = {
    "user_id": ("user", "userid", "uid", "customer", "customerid", "visitor"),
    "item_id": ("item", "itemid", "movieid", "movie", "product", "productid", "iid", "sku"),
    "rating": ("score", "stars", "value", "rate"),
    "timestamp": ("time", "ts", "date", "datetime", "unixtime", "when"),
}


def first_line(text: str) -> str:
    """The first line that is not blank ("" for none), found without splitting the whole text.
    A line ends at a newline or a carriage return (old Mac files end lines with "\r" alone)."""
    start = 0
    while start < len(text):
        end = _LINE_END.search(text, start)
        stop = len(text) if end is None else end.start()
        if text[start:stop].strip():
            return text[start:stop]
        start = stop + 1
    return ""


def sniff(text: str, usual: str, required: int, quoting: int) -> str:
    """The delimiter to read `text` with: the format's `usual` one when the first line splits by
    it into at least `required` columns, else the first of DELIMITERS that does (else `usual`).
    `quoting` is the csv module's constant the format is read with."""
    line = first_line(text)
    for delimiter in dict.fromkeys((usual, *DELIMITERS)):
        if _width(line, delimiter, quoting) >= required:
            return delimiter
    return usual


def _width(line: str, delimiter: str, quoting: int) -> int:
    if len(delimiter) > 1 or quoting == csv.QUOTE_NONE:
        return len(line.split(delimiter))
    return len(next(csv.reader([line], delimiter=delimiter, quoting=quoting), []))


def _name(field: str) -> str:
    return "".join(c for c in field.casefold() if c.isalnum())


def is_header(row: list[str], names: tuple[str, ...]) -> bool:
    """Whether a first row is a header: at least half of its fields (two at least, or its one
    field) are column `names` or their ALIASES, case- and punctuation-blind. Never by whether a
    value parses: `u1,i1,NA` is a data row with a bad rating."""
    known = {_name(n) for n in names}
    known |= {alias for n in names for alias in ALIASES.get(n, ())}
    hits = sum(_name(field) in known for field in row)
    return hits >= min(2, len(row)) and 2 * hits >= len(row)


def label(delimiter: str) -> str:
    """A delimiter as a message names it."""
    return {"\t": "tab", ",": "comma", ";": "semicolon"}.get(delimiter, f"'{delimiter}'")
