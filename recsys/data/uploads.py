"""Which uploaded file plays which part of an import format, and the one thing to fix first in
a set of uploads, for the Data page.

A page that says two things at once misleads (issue 17, kind 6: a file over the size limit also
got "one upload is picked for two parts"). `upload_problem` therefore returns a single message,
checked in the order a person fixes things: a file too large, then a part with no file, then one
file picked for two parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath

from recsys.data.importer import FormatSpec


def size_text(size: float) -> str:
    """Bytes as a person reads a file size: "107 MB", "2.5 MB", "40 KB" (binary units)."""
    if size >= 10 * 2**20:
        return f"{size / 2**20:,.0f} MB"
    if size >= 2**20:
        return f"{size / 2**20:.1f} MB"
    return f"{max(size / 2**10, 0.1):.{0 if size >= 10 * 2**10 else 1}f} KB"


def default_parts(spec: FormatSpec, names: list[str]) -> dict[str, str | None]:
    """The upload each part of `spec` starts with: the file of that name (case aside), else, for
    a required part, the first upload no other part claims; None where nothing is left.

    `names` are the uploads' file names in upload order. No upload is proposed for two parts."""
    parts = spec.required + spec.optional
    chosen: dict[str, str | None] = dict.fromkeys(parts)
    by_name = {PurePath(n).name.lower(): n for n in names}
    for part in parts:
        chosen[part] = by_name.get(part.lower())
    free = [n for n in names if n not in chosen.values()]
    for part in spec.required:
        if chosen[part] is None and free:
            chosen[part] = free.pop(0)
    return chosen


def upload_problem(
    spec: FormatSpec,
    sizes: Mapping[str, int],
    chosen: Mapping[str, str | None],
    limit: int,
) -> str | None:
    """The one problem to show for these uploads, or None when they can be previewed.

    `sizes`: bytes per uploaded file name; `chosen`: the file picked for each part (None for
    none); `limit`: the largest file the import reads, in bytes. Names are returned as given:
    the page escapes them."""
    for name, size in sizes.items():
        if size > limit:
            return (
                f"{name} is {size_text(size)}, over the import limit of {size_text(limit)} per "
                "file: upload a smaller file, or start the lab with RECSYS_MAX_IMPORT_MB set "
                "higher."
            )
    missing = [part for part in spec.required if not chosen.get(part)]
    if missing:
        arrived = ", ".join(sizes) if sizes else "none"
        return (
            f"{spec.label} needs {len(spec.required)} files ({', '.join(spec.required)}); "
            f"nothing is picked for {' and '.join(missing)} (uploaded: {arrived}). Add "
            f"{'it' if len(missing) == 1 else 'them'}, or pick the upload that holds "
            f"{'it' if len(missing) == 1 else 'each'}."
        )
    parts_of: dict[str, list[str]] = {}
    for part, name in chosen.items():
        if name:
            parts_of.setdefault(name, []).append(part)
    for name, parts in parts_of.items():
        if len(parts) > 1:
            return (
                f"{name} is picked for both {' and '.join(parts)}: each part needs its own "
                "file; pick another upload for one of them."
            )
    return None
