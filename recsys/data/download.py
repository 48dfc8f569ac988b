"""Fetching a public dataset archive, so `python -m recsys download movielens-small` just works.

Why this is careful rather than a one-line `urlretrieve`: the lab is often run offline, and a
person should then read one sentence saying so and how to get the file another way, not a stack
trace. A download that stops half-way, a body that is an error page rather than a zip, or an
archive with `../` members must leave nothing half-written and must not spoil a copy that
already works. So the archive is streamed (size-capped) to a `.partial` file, checked, extracted
into a temporary folder and only then renamed into place. Stdlib only: urllib, zipfile.
"""

from __future__ import annotations

import errno
import http.client
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from recsys.errors import RecsysError


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    folder: str  # the folder the extracted files end up in, under the download directory
    format: str  # what `python -m recsys import --format` reads them as
    required: tuple[str, ...]
    licence: str


DATASETS: dict[str, Source] = {
    "movielens-small": Source(
        name="movielens-small",
        url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
        folder="ml-latest-small",
        format="movielens",
        required=("movies.csv", "ratings.csv"),
        licence=(
            "GroupLens licence: research use only, no commercial use; "
            "cite Harper & Konstan 2015, ACM TiiS 5(4)"
        ),
    ),
}

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "data" / "downloads"
MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024
CHUNK = 64 * 1024
_OFFLINE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}


def download(
    name: str,
    directory: str | Path | None = None,
    *,
    url: str | None = None,
    timeout: float = 15.0,
    force: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
) -> dict:
    """Download and extract dataset `name` into `directory` (default `data/downloads`).

    `url` (or the environment variable RECSYS_DOWNLOAD_URL) replaces the official address.
    `progress(done, total)` is called as bytes arrive; total is None when the server does not
    say. Returns name, path, format, files {name: size}, downloaded, bytes, licence.
    """
    source = DATASETS.get(name)
    if source is None:
        raise RecsysError(
            f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}"
        )
    directory = Path(directory) if directory is not None else DEFAULT_DIR
    target = directory / source.folder
    archive = directory / f"{source.folder}.zip"
    if not force and all((target / f).is_file() for f in source.required):
        size = archive.stat().st_size if archive.is_file() else 0
        return _result(source, target, downloaded=False, size=size)

    url = url or os.environ.get("RECSYS_DOWNLOAD_URL") or source.url
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RecsysError(f"cannot write {directory}: {error.strerror or error}") from None

    partial = directory / f"{source.folder}.zip.partial"
    workdir: Path | None = None
    try:
        size = _fetch(url, partial, source, timeout, progress)
        prefix = _check_archive(partial, url, source)
        try:
            workdir = Path(tempfile.mkdtemp(prefix=f".{source.folder}.", dir=directory))
            _extract(partial, prefix, workdir / source.folder, url)
            _swap(workdir / source.folder, target, workdir)
            partial.replace(archive)
        except OSError as error:
            raise RecsysError(f"cannot write {directory}: {error.strerror or error}") from None
    finally:
        partial.unlink(missing_ok=True)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    return _result(source, target, downloaded=True, size=size)


def _result(source: Source, target: Path, *, downloaded: bool, size: int) -> dict:
    files = {p.name: p.stat().st_size for p in sorted(target.iterdir()) if p.is_file()}
    return {
        "name": source.name,
        "path": str(target),
        "format": source.format,
        "files": files,
        "downloaded": downloaded,
        "bytes": size,
        "licence": source.licence,
    }


def _offline(url: str, source: Source) -> RecsysError:
    host = urlsplit(url).hostname or url
    return RecsysError(
        f"cannot reach {host}: this machine looks offline; download {url} on a connected "
        f"machine, unzip it, and run `python -m recsys import --format {source.format} PATH`"
    )


def _is_offline(reason: object) -> bool:
    if isinstance(reason, socket.gaierror | ConnectionError | TimeoutError):
        return True
    return isinstance(reason, OSError) and reason.errno in _OFFLINE_ERRNOS


def _too_large(url: str) -> RecsysError:
    limit = MAX_DOWNLOAD_BYTES // (1024 * 1024)
    return RecsysError(f"{url} is larger than {limit} MB, so it was not downloaded")


def _fetch(
    url: str,
    partial: Path,
    source: Source,
    timeout: float,
    progress: Callable[[int, int | None], None] | None,
) -> int:
    """Stream `url` into `partial`, at most MAX_DOWNLOAD_BYTES; return the number of bytes."""
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "recsys-learning-lab"})
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        raise RecsysError(f"{url} answered HTTP {error.code} {error.reason}".rstrip()) from None
    except urllib.error.URLError as error:
        if _is_offline(error.reason):
            raise _offline(url, source) from None
        raise RecsysError(f"cannot download {url}: {error.reason}") from None
    except ValueError as error:  # not a URL at all
        raise RecsysError(f"cannot download {url!r}: {error}") from None
    except http.client.HTTPException as error:
        raise RecsysError(f"cannot download {url}: the answer is not HTTP ({error!r})") from None
    except OSError as error:
        if _is_offline(error):
            raise _offline(url, source) from None
        raise RecsysError(f"cannot download {url}: {error}") from None
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > MAX_DOWNLOAD_BYTES:
            raise _too_large(url)
        done = 0
        if progress:
            progress(done, total)
        try:
            out = partial.open("wb")
        except OSError as error:
            raise RecsysError(f"cannot write {partial}: {error.strerror or error}") from None
        with out:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as error:
                    if _is_offline(error):
                        raise _offline(url, source) from None
                    raise RecsysError(f"the download from {url} broke off: {error!r}") from None
                if not chunk:
                    break
                done += len(chunk)
                if done > MAX_DOWNLOAD_BYTES:
                    raise _too_large(url)
                try:
                    out.write(chunk)
                except OSError as error:
                    raise RecsysError(f"cannot write {partial}: {error.strerror}") from None
                if progress:
                    progress(done, total)
    if total is not None and done < total:
        raise RecsysError(f"the download from {url} stopped after {done} of {total} bytes")
    return done


def _check_archive(path: Path, url: str, source: Source) -> str:
    """The folder prefix ('' or 'x/') holding the required files; refuses unsafe members."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [info.filename for info in zf.infolist()]
    except (zipfile.BadZipFile, OSError):
        raise RecsysError(f"what {url} sent is not a zip archive") from None
    for member in names:
        parts = PurePosixPath(member.replace("\\", "/")).parts
        if member.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise RecsysError(f"the archive from {url} has an unsafe member {member!r}")
    present = set(names)
    folders = sorted({n.split("/", 1)[0] + "/" for n in names if "/" in n})
    missing = list(source.required)
    for prefix in ["", *folders]:
        lacking = [f for f in source.required if prefix + f not in present]
        if not lacking:
            return prefix
        missing = min(missing, lacking, key=len)
    raise RecsysError(f"the archive from {url} does not hold {' or '.join(missing)}")


def _extract(path: Path, prefix: str, into: Path, url: str) -> None:
    """Extract the members under `prefix` into `into` (which must not exist yet)."""
    into.mkdir()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir() or not info.filename.startswith(prefix):
                continue
            destination = into.joinpath(*info.filename[len(prefix) :].split("/"))
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, destination.open("wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
                raise RecsysError(f"the archive from {url} is damaged") from None


def _swap(fresh: Path, target: Path, workdir: Path) -> None:
    """Put `fresh` where `target` is; an earlier copy is kept until the new one is in place."""
    old = workdir / "previous"
    if target.exists():
        target.replace(old)
    try:
        fresh.replace(target)
    except OSError:
        if old.exists():
            old.replace(target)
        raise
