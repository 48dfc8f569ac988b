"""The one reader of delimited text: a file's bytes in, a frame of stripped text out, with its
problems. The importer reads every file of every format through it, and so does
`recsys.data.ratings.read_ratings` (the `evaluate --train/--test` files).

Nothing here knows a format: decoding, physical line numbers, the header (required, absent, or
optional and detected) and the user's column mapping, and field counts. The `Intake` collects
the problems of one reading (capped, all counted); the checks on values are in
`recsys.data.checks`. Big files without quotes are split by pyarrow, so ml-latest-small's
100,836 ratings read in a fraction of a second.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recsys.data.dialect import is_header, label, sniff
from recsys.data.fastread import clean_columns
from recsys.data.scale import Scale
from recsys.errors import RecsysError

READ_PROBLEMS = 100  # kept by `read_table` to find the first by line; its error counts all


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file; `line` is the 1-based physical line, None = whole file."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file} line {self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class FileSpec:
    """How a file is laid out.

    `header`: True, the first row names the columns (matched by name, case-insensitively, after
    the user's mapping); False, there is none; None, optional: the first row is a header when it
    names columns (`recsys.data.dialect.is_header`: by the names, never by whether a value
    parses, so a first row whose rating is `NA` is a bad data row, as it would be on line 2).
    Without a header the columns are positional (`names`, in order), and a row may leave out
    trailing optional columns (they read as ""). `delimiter` is what the format uses; a file
    whose first line does not split by it but does by another of `dialect.DELIMITERS` is read
    by that one, with a note.
    """

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    header: bool | None = True
    delimiter: str = ","
    encoding: str = "utf-8-sig"

    @property
    def names(self) -> tuple[str, ...]:
        return self.required + self.optional

    @property
    def quoting(self) -> int:
        # The GroupLens files without a header never quote, and titles there hold stray quotes.
        return csv.QUOTE_NONE if self.header is False else csv.QUOTE_MINIMAL


def records(
    text: str, spec: FileSpec, limit: int | None = None
) -> tuple[pa.ListArray, np.ndarray, tuple[int, str] | None, int]:
    """Rows with a value as lists of fields, the physical line each starts on, where csv gave
    up if it did, and how many rows were skipped for holding nothing: blank lines and rows of
    only delimiters (the `,,,` Excel leaves below a table). Text without quotes (most big
    ratings files) is split by pyarrow, fast."""
    lone_cr = "\r" in text and "\r\n" not in text  # old Mac line ends: either ends a line
    if spec.quoting == csv.QUOTE_NONE or ('"' not in text and not lone_cr):
        return _split_plain(text, spec.delimiter, limit, lone_cr)
    return _split_csv(text, spec, limit)


def _split_plain(
    text: str, delimiter: str, limit: int | None, lone_cr: bool = False
) -> tuple[pa.ListArray, np.ndarray, None, int]:
    whole = pa.array([text], pa.large_string())
    split = pc.split_pattern_regex(whole, "\r|\n") if lone_cr else pc.split_pattern(whole, "\n")
    lines = pc.list_flatten(split)
    lines = pc.utf8_rtrim(lines, characters="\r")
    empty = f"^(?:\\s|{re.escape(delimiter)})*$"
    blank = pc.match_substring_regex(lines, empty).to_numpy(zero_copy_only=False)
    numbers = np.flatnonzero(~blank)[:limit] + 1
    skipped = int(blank.sum()) - (1 if len(blank) and blank[-1] else 0)  # the final newline
    return pc.split_pattern(lines.take(pa.array(numbers - 1)), delimiter), numbers, None, skipped


def _split_csv(
    text: str, spec: FileSpec, limit: int | None
) -> tuple[pa.ListArray, np.ndarray, tuple[int, str] | None, int]:
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=spec.delimiter, quoting=spec.quoting
    )
    rows: list[list[str]] = []
    lines: list[int] = []
    start, failure, skipped = 1, None, 0
    try:
        for row in reader:
            if any(field.strip() for field in row):
                rows.append(row)
                lines.append(start)
                if limit is not None and len(rows) >= limit:
                    break
            else:
                skipped += 1
            start = reader.line_num + 1
    except csv.Error as error:
        failure = (start, str(error))
    parts = pa.array(rows, type=pa.list_(pa.large_string()))
    return parts, np.asarray(lines, dtype=np.int64), failure, skipped


class Intake:
    """What one reading (an import, a ratings file) has found so far: the files, problems
    (capped, all counted), row counts."""

    def __init__(
        self,
        specs: dict[str, FileSpec],
        mapping: dict[str, dict[str, str]] | None,
        cap: int,
    ) -> None:
        self.specs = specs
        self.mapping = mapping or {}
        self.cap = cap
        self.files: dict[str, bytes] = {}
        self.problems: list[Problem] = []
        self.n_problems = 0
        self.rows: dict[str, int] = {}
        self.notes: list[str] = []  # how a file was read where it differs from its format
        self.scale: Scale | None = None  # the ratings' scale when the user gave it (--scale)

    def add(self, file: str, line: int | None, message: str) -> None:
        self.n_problems += 1
        if len(self.problems) < self.cap:
            self.problems.append(Problem(file, line, message))

    def each(
        self, file: str, frame: pd.DataFrame, mask: object, message: Callable[[dict], str]
    ) -> None:
        """A problem for every masked row; messages are built only for the ones kept."""
        mask = np.asarray(mask, dtype=bool)
        count = int(mask.sum())
        if not count:
            return
        room = max(0, self.cap - len(self.problems))
        for row in frame[mask].head(room).to_dict("records"):
            self.problems.append(Problem(file, int(row["line"]), message(row)))
        self.n_problems += count

    def table(self, file: str) -> pd.DataFrame | None:
        """The file's rows as stripped text in canonical columns plus `line`; None if unusable.

        A missing file gives None without a problem: the caller decided whether it is required.
        """
        data = self.files.get(file)
        if data is None:
            return None
        spec = self.specs[file]
        if spec.header is True:
            clean = clean_columns(data, spec.delimiter, spec.encoding, len(spec.required))
            if clean is not None:
                return self._clean_frame(file, spec, *clean)
        text = self._decode(file, data, spec.encoding)
        if text is None:
            return None
        delimiter = sniff(text, spec.delimiter, len(spec.required), spec.quoting)
        if delimiter != spec.delimiter:
            usual = label(spec.delimiter)
            spec = dataclasses.replace(spec, delimiter=delimiter)
            self.notes.append(
                f"{file}: read as {label(delimiter)}-separated (its first line has no "
                f"{usual} between columns)"
            )
        parts, lines, failure, skipped = records(text, spec)
        if skipped:
            plural = "s" if skipped > 1 else ""
            self.notes.append(
                f"{file}: skipped {skipped:,} empty row{plural} (blank, or only delimiters)"
            )
        if failure:
            self.add(file, failure[0], f"cannot split into fields: {failure[1]}")
            return None
        if not len(parts):
            self.add(file, None, "the file is empty")
            return None
        named = spec.header is True
        headed = named or (spec.header is None and is_header(parts[0].as_py(), spec.names))
        if named:
            header = [name.strip() for name in parts[0].as_py()]
            positions = self._positions(file, spec, header)
        else:
            header = list(spec.names)
            positions = {name: i for i, name in enumerate(header)}
            if self.mapping.get(file):
                self.add(file, None, "the file has no header, so its columns cannot be mapped")
        if headed:
            parts, lines = parts[1:], lines[1:]
        self.rows[file] = len(parts)
        if positions is None:
            return None
        if not len(parts):
            self.add(file, None, "the file has a header but no rows")
            return None
        return self._frame(file, spec, header, positions, parts, lines)

    def _clean_frame(self, file: str, spec: FileSpec, header: list[str], columns: list):
        """`table` of a file `recsys.data.fastread` read whole: the same frame, or None."""
        self.rows[file] = len(columns[0])
        positions = self._positions(file, spec, header)
        if positions is None:
            return None
        frame = pd.DataFrame(
            {name: pd.Series(columns[i], dtype="str") for name, i in positions.items()}
        )
        frame["line"] = np.arange(2, len(columns[0]) + 2, dtype=np.int64)
        frame.attrs["header"] = header
        frame.attrs["partial"] = {}
        return frame

    def _decode(self, file: str, data: bytes, encoding: str) -> str | None:
        nul = data.find(b"\x00")
        if nul >= 0:  # no text file holds one: a binary file, or UTF-16 saved by mistake
            line = data.count(b"\n", 0, nul) + 1
            self.add(file, line, "a NUL byte: this is not a text file (save it as UTF-8 CSV)")
            return None
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            self.add(
                file,
                line,
                f"byte 0x{data[error.start]:02x} is not UTF-8 text: save the file as UTF-8",
            )
            return None

    def _positions(self, file: str, spec: FileSpec, header: list[str]) -> dict[str, int] | None:
        """Where each canonical column sits in the header, after the user's mapping."""
        mapping = {k: v.strip() for k, v in self.mapping.get(file, {}).items() if v}
        has = ", ".join(header[:30]) + (", ..." if len(header) > 30 else "")
        usable = True
        unknown = [name for name in mapping if name not in spec.names]
        if unknown:
            usable = False
            self.add(
                file,
                None,
                f"the mapping names {', '.join(unknown)}, not a column of this file; "
                f"use {', '.join(spec.names)}",
            )
        folded = [name.casefold() for name in header]
        positions, missing = {}, []
        for name in spec.names:
            wanted = mapping.get(name, name)
            if wanted in header:
                positions[name] = header.index(wanted)
            elif wanted.casefold() in folded:
                positions[name] = folded.index(wanted.casefold())
            elif name in mapping:
                usable = False
                self.add(
                    file,
                    None,
                    f"the mapping takes {name} from column {wanted}, which the header lacks; "
                    f"the header has {has}",
                )
            elif name in spec.required:
                missing.append(name)
        for at in positions.values():  # which of two same-named columns would be meant?
            if folded.count(folded[at]) > 1:
                usable = False
                self.add(file, None, f"the header names column {header[at]} twice: keep one")
        if missing:
            plural = "s" if len(missing) > 1 else ""
            self.add(
                file, None, f"missing column{plural} {', '.join(missing)}; the header has {has}"
            )
        return positions if usable and not missing else None

    def _frame(
        self,
        file: str,
        spec: FileSpec,
        header: list[str],
        positions: dict[str, int],
        parts: pa.ListArray,
        lines: np.ndarray,
    ) -> pd.DataFrame:
        width = len(header)
        lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
        named = spec.header is True
        shortest = width if named else len(spec.required)
        bad = (lengths < shortest) | (lengths > width)
        extra = np.flatnonzero(lengths == width + 1)
        if len(extra):  # `a,b,c,` as a spreadsheet may save it: a trailing empty field is fine
            last = pc.list_element(parts.take(pa.array(extra)), width)
            empty = pc.equal(pc.utf8_trim_whitespace(last), "").to_numpy(zero_copy_only=False)
            bad[extra[empty]] = False
        partial: dict[str, list[str]] = {}
        if bad.any():
            counts = pd.DataFrame({"line": lines, "n": lengths})
            self.each(file, counts, bad, lambda r: f"{r['n']} fields{_expected(spec, width)}")
            cut = parts.filter(pa.array(bad)).to_pylist()
            partial = {  # what the bad rows still say, so their ids do not look "unknown"
                name: [row[i].strip() for row in cut if len(row) > i]
                for name, i in positions.items()
            }
            parts = parts.filter(pa.array(~bad))
        lengths = lengths[~bad]
        frame = pd.DataFrame(
            {
                name: pd.Series(pc.utf8_trim_whitespace(_field(parts, lengths, i)), dtype="str")
                for name, i in positions.items()
            }
        )
        frame["line"] = lines[~bad]
        frame.attrs["header"] = header
        frame.attrs["partial"] = partial
        return frame


def _expected(spec: FileSpec, width: int) -> str:
    if spec.header is True:
        return f" where the header has {width}"
    if not spec.optional:
        return f" where {width} are expected"
    return "; expected " + ",".join(spec.required) + "".join(f"[,{n}]" for n in spec.optional)


def _field(parts: pa.ListArray, lengths: np.ndarray, i: int) -> pa.Array:
    """Field `i` of every row; "" where a row without a header leaves out an optional column."""
    if (lengths > i).all():
        return pc.list_element(parts, i)
    has = lengths > i
    out = np.full(len(parts), "", dtype=object)
    out[has] = pc.list_element(parts.filter(pa.array(has)), i).to_numpy(zero_copy_only=False)
    return pa.array(out, pa.large_string())


def read_table(
    path: str | Path,
    spec: FileSpec,
    check: Callable[[Intake, str, pd.DataFrame], None] | None = None,
    what: str = "rows",
) -> pd.DataFrame:
    """One delimited file read through the importer's reader against `spec`: its rows as text
    in the spec's columns plus `line`. `check` may add problems of its own (values that must
    be numbers...). How it was read (another delimiter, empty rows skipped) is in
    `attrs["notes"]`.

    Raises RecsysError naming the file if it cannot be read or holds no rows, else naming its
    first bad line and counting the others.
    """
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise RecsysError(f"cannot read {path}: {error.strerror}") from None
    intake = Intake({file: spec}, None, READ_PROBLEMS)
    intake.files[file] = data
    table = intake.table(file)
    if table is not None and check is not None:
        check(intake, file, table)
    if intake.n_problems:
        located = sorted((p for p in intake.problems if p.line is not None), key=lambda p: p.line)
        if not located:  # the file is empty, or a header alone
            raise RecsysError(f"{path} holds no {what} ({intake.problems[0].message})")
        more = intake.n_problems - 1
        also = f" (and {more:,} more problem{'s' if more > 1 else ''})" if more else ""
        raise RecsysError(f"{located[0]}{also}")
    assert table is not None
    table.attrs["notes"] = intake.notes
    return table
