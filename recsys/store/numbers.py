"""Version numbers: owns `version_numbers` (its only writer).

Each algorithm numbers its versions from 1 (`mf` v1, v2, ...): that number is what pages, the
CLI, the report and the history show, as `v3`. `version_id` stays the key the other tables
refer to (aliases, lineage, the update log, experiments' arms, `served_by`), unique across
algorithms. A number is given when its version is stored and outlives a deletion of the
version (the alias history still names it), so it is never reused while anything mentions it;
a reset or a forgotten user frees the numbers after the newest remaining version.
"""

from __future__ import annotations

from recsys.algorithms import algorithm_class
from recsys.errors import RecsysError
from recsys.store.connection import Database, Statement


def label(number: int | None) -> str:
    """The one display form of a version number: `v3` (`–` for none)."""
    return "–" if number is None else f"v{number}"


class VersionNumbers:
    """Reading version numbers: `labels`, `label_of`, `number_of`, `resolve`."""

    db: Database

    def numbers(self, algorithm: str | None = None) -> dict[int, int]:
        """version_id -> its algorithm's number, for every numbered version (deleted ones too)."""
        where, args = ("WHERE algorithm = ?", [algorithm]) if algorithm else ("", [])
        return dict(self.db.query(f"SELECT version_id, number FROM version_numbers {where}", args))

    def number_of(self, version_id: int | None) -> int | None:
        """The per-algorithm number of `version_id` (None for None or an unnumbered id)."""
        if version_id is None:
            return None
        rows = self.db.query(
            "SELECT number FROM version_numbers WHERE version_id = ?", [int(version_id)]
        )
        return rows[0][0] if rows else None

    def label_of(self, version_id: int | None) -> str:
        """`v3` for the version with key `version_id`; `–` for None."""
        if version_id is None:
            return "–"
        number = self.number_of(version_id)
        return label(number) if number is not None else "a version gone before numbering"

    def resolve(self, algorithm: str, number: int | str) -> int:
        """The key (version_id) of `algorithm`'s version `number` (`3` or `v3`). Raises
        RecsysError naming the algorithm's versions if it has no such version."""
        algorithm = algorithm_class(algorithm).name  # an unknown one: RecsysError naming them
        text = str(number).strip()
        digits = text[1:] if text[:1] in ("v", "V") else text
        if not digits.isdigit():
            raise RecsysError(f"a version is a number such as 3 or v3, got {text!r}")
        rows = self.db.query(
            "SELECT n.version_id FROM version_numbers n JOIN model_versions m USING (version_id) "
            "WHERE n.algorithm = ? AND n.number = ?",
            [algorithm, int(digits)],
        )
        if rows:
            return rows[0][0]
        known = [
            r[0]
            for r in self.db.query(
                "SELECT n.number FROM version_numbers n JOIN model_versions m USING (version_id) "
                "WHERE n.algorithm = ? ORDER BY n.number",
                [algorithm],
            )
        ]
        shown = ", ".join(label(k) for k in known) or "none"
        raise RecsysError(f"{algorithm} has no version v{int(digits)}; its versions are {shown}")

    def find(self, text: str, algorithm: str | None = None) -> int:
        """The key of the version `text` names: `3` or `v3` of `algorithm`, or `mf@v3`;
        without an algorithm, the one algorithm that has such a version. Raises RecsysError
        in one line when the text is unreadable, the version unknown or ambiguous."""
        text = str(text).strip()
        if "@" in text:
            named, _, text = text.partition("@")
            if algorithm is not None and named != algorithm:
                raise RecsysError(f"{named}@{text} is not a version of --algorithm {algorithm}")
            algorithm = named
        if algorithm is not None:
            return self.resolve(algorithm, text)
        digits = text[1:] if text[:1] in ("v", "V") else text
        if not digits.isdigit():
            raise RecsysError(f"a version is a number such as 3, v3 or mf@v3, got {text!r}")
        owners = [
            r[0]
            for r in self.db.query(
                "SELECT n.algorithm FROM version_numbers n JOIN model_versions m "
                "USING (version_id) WHERE n.number = ? ORDER BY n.algorithm",
                [int(digits)],
            )
        ]
        if len(owners) == 1:
            return self.resolve(owners[0], digits)
        if not owners:
            raise RecsysError(f"no algorithm has a version v{int(digits)}; see `versions list`")
        raise RecsysError(
            f"v{int(digits)} is ambiguous: {', '.join(owners)} each have one; "
            f"add --algorithm (or write {owners[0]}@v{int(digits)})"
        )


def number_statement(version_id: int, algorithm: str) -> Statement:
    """Give stored version `version_id` the next number of its algorithm (in the caller's
    transaction, after the previous versions' statements)."""
    return (
        "INSERT INTO version_numbers SELECT ?, ?, coalesce(max(number), 0) + 1 "
        "FROM version_numbers WHERE algorithm = ?",
        [version_id, algorithm, algorithm],
    )


def clear_statements() -> list[Statement]:
    return [("DELETE FROM version_numbers", None)]


def free_statements() -> list[Statement]:
    """After a reset or a forgotten user dropped versions (and the history that named them):
    free the numbers above each algorithm's newest remaining version."""
    return [
        (
            "DELETE FROM version_numbers WHERE version_id NOT IN "
            "(SELECT version_id FROM model_versions) AND number > (SELECT "
            "coalesce(max(k.number), 0) FROM version_numbers k JOIN model_versions m "
            "USING (version_id) WHERE k.algorithm = version_numbers.algorithm)",
            None,
        )
    ]
