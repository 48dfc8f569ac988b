"""A look at a file before it is imported: its first rows as the import would split them, and
the columns a format's file has, for the Data page's preview and column mapping."""

from __future__ import annotations

import dataclasses

import pandas as pd

from recsys.data.dialect import sniff
from recsys.data.importer import _file_spec
from recsys.data.reader import records

PREVIEW_BYTES = 256 * 1024


def columns(fmt: str, file: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(required, optional) canonical columns of a format's file, for a column-mapping UI.

    A headerless file (u.data, u.item) gives its positional names as required. In the lab's
    interactions.csv one of kind or rating is required as well; both are listed as optional.
    """
    spec = _file_spec(fmt, file)
    return spec.required, spec.optional


def preview(data: bytes, file: str, fmt: str, rows: int = 10) -> pd.DataFrame:
    """The first rows as text, decoded as the import decodes that file; bad bytes are replaced
    and ragged rows padded, so a person can look at a file the import rejects."""
    spec = _file_spec(fmt, file)
    head = bytes(data[:PREVIEW_BYTES])
    if len(data) > PREVIEW_BYTES and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    text = head.decode(spec.encoding, errors="replace")
    wanted = rows + (1 if spec.header else 0)
    delimiter = sniff(text, spec.delimiter, len(spec.required), spec.quoting)
    spec = dataclasses.replace(spec, delimiter=delimiter)
    found = records(text, spec, limit=wanted)[0].to_pylist()
    if spec.header and found:
        header, body = [name.strip() for name in found[0]], found[1:]
    else:
        header, body = list(spec.required), found
    width = max([len(header), *map(len, body)])
    names: list[str] = []
    for i in range(width):
        name = header[i] if i < len(header) and header[i] else f"column {i + 1}"
        names.append(name if name not in names else f"{name} ({i + 1})")
    body = [row + [""] * (width - len(row)) for row in body]
    return pd.DataFrame(body, columns=names, dtype="str")
