"""Importing a dataset from files: parse, validate everything, and accept all of it or nothing.

Pure: bytes in, an `ImportReport` out; no database and no Streamlit. Three formats are read
(the lab's own CSVs, MovieLens ml-latest-small, MovieLens 100k); the file layouts and readers
live in `recsys.data.formats`, the reading in `recsys.data.reader`, the checks in
`recsys.data.checks`. A person fixing a file needs every problem at once, each with its file and
line, so nothing stops at the first problem; and a half-imported dataset would teach models from
a log nobody checked, so any problem rejects the whole import (`dataset` is None).

>>> report = read_dataset("lab", {"items.csv": b"item_id,title\\n1,Alien\\n",
...     "interactions.csv": b"user_id,item_id,kind,timestamp\\nann,1,like,2024-05-01\\n"})
>>> report.ok, report.summary()["interactions"]
(True, 1)
>>> print(read_dataset("lab", {"items.csv": b"item_id,title\\n1,Alien\\n",
...     "interactions.csv": b"user_id,item_id,kind,timestamp\\nann,2,like,0\\n"}).text())
Rejected: 1 problem
  interactions.csv line 2: unknown item '2': items.csv has no such item_id
"""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from recsys.data.formats import READERS, SPECS
from recsys.data.reader import FileSpec, Intake, Problem
from recsys.data.scale import Scale
from recsys.errors import RecsysError
from recsys.events import KINDS

__all__ = [
    "FORMATS",
    "MAX_IMPORT_BYTES",
    "MAX_PROBLEMS",
    "Dataset",
    "FormatSpec",
    "ImportReport",
    "Problem",
    "read_dataset",
    "read_path",
]

MAX_IMPORT_BYTES = 100 * 1024 * 1024  # per file; $RECSYS_MAX_IMPORT_MB (megabytes) overrides it
MAX_PROBLEMS = 200  # problems kept; the report still counts all of them
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


@dataclass(frozen=True)
class FormatSpec:
    name: str
    label: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    description: str


FORMATS: dict[str, FormatSpec] = {
    "lab": FormatSpec(
        "lab",
        "Lab CSV",
        ("items.csv", "interactions.csv"),
        (),
        "items.csv: item_id,title[,genres,tags,year] (genres and tags |-separated); "
        "interactions.csv: user_id,item_id,kind[,value][,timestamp] or user_id,item_id,rating"
        "[,timestamp]; timestamps in Unix seconds or ISO 8601 (UTC unless it says otherwise), "
        "none meaning file order; ratings on any scale (read off the values); comma, "
        "semicolon or tab; UTF-8. A lab export (its holdout column included) imports back.",
    ),
    "movielens": FormatSpec(
        "movielens",
        "MovieLens (ml-latest-small)",
        ("movies.csv", "ratings.csv"),
        ("tags.csv",),
        "movies.csv (movieId,title,genres), ratings.csv (userId,movieId,rating[,timestamp]) "
        "and optionally tags.csv (userId,movieId,tag,timestamp), as in ml-latest-small.zip; "
        "ratings 0.5 to 5 unless a scale is given.",
    ),
    "movielens-100k": FormatSpec(
        "movielens-100k",
        "MovieLens 100k",
        ("u.data", "u.item"),
        (),
        "u.data (user, item, rating, timestamp; tab-separated) and u.item (|-separated, "
        "latin-1), as in ml-100k.zip.",
    ),
}


@dataclass
class Dataset:
    """An accepted import. Items: external_id, title, genres, tags, year (Int32), in natural id
    order. Interactions: user_id, external_id, kind, value (NaN unless a rating), ts (Unix
    seconds; the row's position when the file has no timestamps), in time order, and `holdout`
    (bool) when the file is a lab export that marks its holdout."""

    name: str
    format: str
    items: pd.DataFrame
    interactions: pd.DataFrame
    files: dict[str, str]  # file name -> sha256 of its bytes, to recognise a re-import


@dataclass
class ImportReport:
    """What an import found: rows read per file, the first MAX_PROBLEMS problems and how many
    there were in all, and the dataset, which exists only when there was no problem."""

    format: str
    rows: dict[str, int]
    problems: list[Problem]
    n_problems: int
    dataset: Dataset | None
    notes: list[str] = field(default_factory=list)  # how files were read, what was skipped

    @property
    def ok(self) -> bool:
        return self.dataset is not None and self.n_problems == 0

    def summary(self) -> dict[str, Any]:
        """Counts, kinds, time span and mean rating of an accepted import; {} when rejected."""
        if not self.ok:
            return {}
        assert self.dataset is not None
        events = self.dataset.interactions
        counts = events["kind"].value_counts()
        stars = events.loc[events["kind"] == "rating", "value"]
        return {
            "items": len(self.dataset.items),
            "users": int(events["user_id"].nunique()),
            "interactions": len(events),
            "ratings": len(stars),
            "kinds": {k: int(counts[k]) for k in KINDS if k in counts},
            "first": _iso(events["ts"].min()) if len(events) else None,
            "last": _iso(events["ts"].max()) if len(events) else None,
            "rating_mean": round(float(stars.mean()), 4) if len(stars) else None,
        }

    def text(self) -> str:
        """A readable report for the CLI and the page."""
        if not self.ok:
            lines = [f"Rejected: {self.n_problems:,} problem{'s' if self.n_problems != 1 else ''}"]
            lines += [f"  {problem}" for problem in self.problems]
            if self.n_problems > len(self.problems):
                lines.append(f"  … and {self.n_problems - len(self.problems):,} more")
            return "\n".join(lines + [f"  note: {note}" for note in self.notes])
        s = self.summary()
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in s["kinds"].items())
        lines = [
            f"OK: {s['items']:,} items, {s['users']:,} users, {s['interactions']:,} interactions",
            f"  kinds: {kinds}",
            f"  from {s['first']} to {s['last']}",
        ]
        if s["rating_mean"] is not None:
            lines.insert(2, f"  mean rating: {s['rating_mean']:.2f} over {s['ratings']:,}")
        lines.append("  rows read: " + ", ".join(f"{f} {n:,}" for f, n in self.rows.items()))
        return "\n".join(lines + [f"  note: {note}" for note in self.notes])

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "ok": self.ok,
            "rows": dict(self.rows),
            "n_problems": self.n_problems,
            "problems": [asdict(problem) for problem in self.problems],
            "notes": list(self.notes),
            "summary": self.summary(),
        }


def read_dataset(
    fmt: str,
    files: dict[str, bytes],
    *,
    mapping: dict[str, dict[str, str]] | None = None,
    name: str | None = None,
    max_bytes: int | None = None,
    scale: Scale | None = None,
) -> ImportReport:
    """Validate and read files held in memory (file name -> bytes); names not in the format
    are ignored, and a path-like name ('ml-100k/u.data') is matched by its last part. `scale`
    (`recsys.data.scale.parse_scale`) says what the ratings are on; by default the lab's CSV
    reads it off the values and MovieLens uses its own 0.5 to 5."""
    by_name = {PurePosixPath(key.replace("\\", "/")).name: key for key in files}
    sources = {}
    for file in SPECS[_format(fmt).name]:
        key = file if file in files else by_name.get(file)
        if key is not None:
            sources[file] = (len(files[key]), lambda key=key: bytes(files[key]))
    return _import(fmt, sources, mapping, name, max_bytes, scale)


def read_path(
    fmt: str,
    path: str | Path,
    *,
    mapping: dict[str, dict[str, str]] | None = None,
    max_bytes: int | None = None,
    scale: Scale | None = None,
) -> ImportReport:
    """Read a folder holding the format's files, or a .zip of them; either may keep them in one
    sub-folder (as ml-latest-small.zip and ml-100k.zip do). Sizes are checked before reading.

    Raises RecsysError for an unknown format, a missing path, or a place without the files.
    """
    spec = _format(fmt)
    path = Path(path)
    if not path.exists():
        raise RecsysError(f"{path} does not exist")
    limit = _limit(max_bytes)
    try:
        if path.is_dir():
            found = _locate(spec, path, _folder_names(path))
            sources = {
                file: (p.stat().st_size, p.read_bytes)
                for file, p in ((f, path / member) for f, member in found.items())
            }
            return _import(fmt, sources, mapping, path.name, limit, scale)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                infos = {i.filename: i for i in archive.infolist() if not i.is_dir()}
                found = _locate(spec, path, list(infos))
                sources = {
                    file: (infos[member].file_size, _unzipper(archive, infos[member], limit))
                    for file, member in found.items()
                }
                return _import(fmt, sources, mapping, path.stem, limit, scale)
    except (OSError, zipfile.BadZipFile) as error:
        raise RecsysError(f"cannot read {path}: {error}") from None
    raise RecsysError(f"{path} is neither a folder nor a zip archive")


def max_import_bytes() -> int:
    """The per-file limit: $RECSYS_MAX_IMPORT_MB megabytes if set, else MAX_IMPORT_BYTES."""
    text = os.environ.get("RECSYS_MAX_IMPORT_MB", "").strip()
    if not text:
        return MAX_IMPORT_BYTES
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = -1.0
    if not 0 < megabytes < 2**40:  # inf and 1e400 too: a limit must be a number of bytes
        raise RecsysError(
            f"RECSYS_MAX_IMPORT_MB must be a positive number of MB below 2**40, not {text[:40]!r}"
        )
    return int(megabytes * 1024 * 1024)


Source = tuple[int, Callable[[], bytes]]  # the size, and how to read the bytes if it is allowed


def _import(
    fmt: str,
    sources: dict[str, Source],
    mapping: dict[str, dict[str, str]] | None,
    name: str | None,
    max_bytes: int | None,
    scale: Scale | None = None,
) -> ImportReport:
    spec = _format(fmt)
    limit = _limit(max_bytes)
    intake = Intake(SPECS[fmt], mapping, MAX_PROBLEMS)
    intake.scale = scale
    for file in mapping or {}:
        if file not in SPECS[fmt]:
            intake.add(file, None, f"the mapping names a file the {spec.label} format lacks")
    for file in spec.required + spec.optional:
        if file not in sources:
            if file in spec.required:
                needs = " and ".join(spec.required)
                intake.add(file, None, f"missing file: the {spec.label} format needs {needs}")
            continue
        size, read = sources[file]
        raise_it = "(set RECSYS_MAX_IMPORT_MB to raise it)"
        if size > limit:
            over = f"over the limit of {_size(limit)} per file"
            intake.add(file, None, f"the file is {_size(size)}, {over} {raise_it}")
            continue
        data = _read(intake, file, read)
        if data is not None and len(data) > limit:  # an archive may understate a size
            over = f"more than the limit of {_size(limit)} per file"
            intake.add(file, None, f"the file unpacks to {over} {raise_it}")
        elif data is not None:
            intake.files[file] = data
    frames = READERS[fmt](intake)
    dataset = None
    if frames is not None and intake.n_problems == 0:
        items, events = frames
        hashes = {f: hashlib.sha256(data).hexdigest() for f, data in intake.files.items()}
        dataset = Dataset(name or spec.label, fmt, items, events, hashes)
    return ImportReport(fmt, intake.rows, intake.problems, intake.n_problems, dataset, intake.notes)


def _read(intake: Intake, file: str, read: Callable[[], bytes]) -> bytes | None:
    try:
        return read()
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as error:
        intake.add(file, None, f"cannot read the file: {error}")
        return None


def _unzipper(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> Callable:
    """Read at most one byte past the limit, whatever size the archive claims."""

    def read() -> bytes:
        if info.flag_bits & 0x1:  # zipfile would ask for a password
            raise OSError("it is encrypted in the zip: zip it again without a password")
        if info.compress_type not in ZIP_METHODS:
            raise OSError(
                f"the zip stores it with compression method {info.compress_type}, which this "
                "lab cannot unpack: zip it again with the usual (deflate) compression"
            )
        with archive.open(info) as handle:
            return handle.read(limit + 1)

    return read


def _folder_names(root: Path) -> list[str]:
    names = [p.name for p in root.iterdir() if p.is_file()]
    for sub in root.iterdir():
        if sub.is_dir():
            names += [f"{sub.name}/{p.name}" for p in sub.iterdir() if p.is_file()]
    return names


def _locate(spec: FormatSpec, where: Path, members: list[str]) -> dict[str, str]:
    """The format's files at the top, or else in exactly one sub-folder: file -> member name."""
    wanted = spec.required + spec.optional
    folders: dict[str, dict[str, str]] = {}
    for member in members:
        parts = PurePosixPath(member).parts
        if len(parts) <= 2 and parts[-1] in wanted and parts[0] != "__MACOSX":
            folders.setdefault("/".join(parts[:-1]), {})[parts[-1]] = member
    if "" in folders:
        return folders[""]
    if len(folders) > 1:
        raise RecsysError(
            f"{where} holds {spec.label} files in more than one folder "
            f"({', '.join(sorted(folders))}): point at one of them"
        )
    if not folders:
        raise RecsysError(
            f"{where} holds none of the {spec.label} files ({', '.join(spec.required)})"
        )
    return next(iter(folders.values()))


def _format(fmt: str) -> FormatSpec:
    if fmt not in FORMATS:
        raise RecsysError(f"unknown import format {fmt!r}: use one of {', '.join(FORMATS)}")
    return FORMATS[fmt]


def _file_spec(fmt: str, file: str) -> FileSpec:
    specs = SPECS[_format(fmt).name]
    if file not in specs:
        raise RecsysError(f"the {fmt} format has no file {file!r}: use one of {', '.join(specs)}")
    return specs[file]


def _limit(max_bytes: int | None) -> int:
    return max_import_bytes() if max_bytes is None else int(max_bytes)


def _size(n: int) -> str:
    return f"{n / 2**20:,.1f} MB" if n >= 2**20 / 10 else f"{n:,} bytes"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
