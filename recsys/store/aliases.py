"""Aliases and their history: owns `aliases` and `alias_history` (their only writer).

- `aliases`: `production` and `candidate` per algorithm, each pointing at a version.
- `alias_history`: one row per move with who moved it and why, the audit trail of which
  version served when; a canary's share set, changed or cleared is a row of alias `canary`
  (`from_version` the candidate that served before, `to_version` the one that serves now).
  A move to where the alias already points is not a move and is not recorded.
"""

from __future__ import annotations

import pandas as pd

from recsys.store import lineage
from recsys.store.connection import Database, Statement, now

CANARY = "canary"  # the alias_history rows of the canary's share


class Aliases:
    """Reading and moving aliases (a mixin of `VersionStore`, over its `db`)."""

    db: Database

    def alias(self, algorithm: str, alias: str) -> int | None:
        rows = self.db.query(
            "SELECT version_id FROM aliases WHERE algorithm = ? AND alias = ?", [algorithm, alias]
        )
        return rows[0][0] if rows else None

    def move_alias(
        self,
        algorithm: str,
        alias: str,
        version_id: int | None,
        *,
        actor: str,
        reason: str,
        at_seq: int,
        ts: float,
        effective_seq: int,
    ) -> None:
        """Point `alias` at a version (None removes it), write the move to the history and,
        for a version, start a lineage at `effective_seq` in the same transaction. Pointing it
        where it already points records no move (its lineage still starts, if asked for, so
        a reset or a forgotten user's log gets its served state back)."""
        with self.db.write_lock:  # the id reservation and the insert belong together
            previous = self.alias(algorithm, alias)
            statements: list[Statement] = []
            if previous != version_id:
                statements += [
                    ("DELETE FROM aliases WHERE algorithm = ? AND alias = ?", [algorithm, alias]),
                    _history_statement(
                        at_seq, ts, algorithm, alias, previous, version_id, actor, reason
                    ),
                ]
                if version_id is not None:
                    statements.append(
                        ("INSERT INTO aliases VALUES (?, ?, ?)", [algorithm, alias, version_id])
                    )
            if version_id is not None:
                _, started = lineage.lineage_statements(
                    self.db, algorithm, alias, effective_seq, version_id, reason
                )
                statements += started
            self.db.transaction(statements)

    def record_canary(
        self,
        algorithm: str,
        before: int | None,
        after: int | None,
        *,
        actor: str,
        reason: str,
        at_seq: int,
        ts: float,
    ) -> None:
        """Write a canary change to the audit trail: `before` served the canary's share until
        now (None: no canary), `after` serves it from now on (None: it is cleared)."""
        with self.db.write_lock:
            self.db.transaction(
                [_history_statement(at_seq, ts, algorithm, CANARY, before, after, actor, reason)]
            )

    def aliases(self) -> pd.DataFrame:
        return self.db.frame("SELECT * FROM aliases ORDER BY algorithm, alias")

    def alias_history(self, algorithm: str | None = None) -> pd.DataFrame:
        """The moves, newest first; `from`/`to` are the versions' numbers as people read
        them (`v3`), beside the `from_version`/`to_version` keys."""
        where, args = ("WHERE h.algorithm = ?", [algorithm]) if algorithm else ("", [])
        return self.db.frame(
            "SELECT h.*, coalesce('v' || f.number, '–') AS \"from\", "
            "coalesce('v' || t.number, '–') AS \"to\" FROM alias_history h "
            "LEFT JOIN version_numbers f ON f.version_id = h.from_version "
            "LEFT JOIN version_numbers t ON t.version_id = h.to_version "
            f"{where} ORDER BY h.move_id DESC",
            args,
        )

    def previous_production(self, algorithm: str) -> int | None:
        """What a rollback returns to: promotions push onto a stack of productions and
        rollbacks pop it, so rolling back twice walks further back instead of toggling between
        two versions. Deleted versions are skipped."""
        moves = self.db.query(
            "SELECT to_version, reason FROM alias_history WHERE algorithm = ? "
            "AND alias = 'production' AND to_version IS NOT NULL ORDER BY move_id",
            [algorithm],
        )
        stack: list[int] = []
        for version, reason in moves:
            if reason.startswith("rollback") and version in stack:
                last = len(stack) - 1 - stack[::-1].index(version)
                del stack[last + 1 :]
            else:
                stack.append(version)
        existing = {
            r[0]
            for r in self.db.query(
                "SELECT version_id FROM model_versions WHERE algorithm = ?", [algorithm]
            )
        }
        current = self.alias(algorithm, "production")
        earlier = [v for v in stack[:-1] if v in existing and v != current]
        return earlier[-1] if earlier else None


def _history_statement(at_seq, ts, algorithm, alias, before, after, actor, reason) -> Statement:
    return (
        "INSERT INTO alias_history SELECT coalesce(max(move_id), 0) + 1, "
        "?, ?, ?, ?, ?, ?, ?, ?, ? FROM alias_history",
        [now(), at_seq, ts, algorithm, alias, before, after, actor, reason],
    )


# -- statements for the store's transactions ---------------------------------------------------


def seed_alias_statements(db, first: int, rows: list[tuple], ts: float) -> list[Statement]:
    """Production aliases for seed versions just stored with ids from `first` on (`rows` as
    `new_versions` takes them), with their history and lineages, for the world's own
    transaction: the rows `ModelHost.ensure_lineage` would write, one by one, when the new lab
    is first opened (`ts`: the log's newest event's)."""
    reason, statements, seeds = "first production: the newest version", [], []
    for offset, (algorithm, _, _, through, *_) in enumerate(rows):
        statements += [
            ("INSERT INTO aliases VALUES (?, 'production', ?)", [algorithm, first + offset]),
            _history_statement(
                through, ts, algorithm, "production", None, first + offset, "system", reason
            ),
        ]
        seeds.append((algorithm, first + offset, through + 1))
    return statements + lineage.seed_lineage_statements(db, seeds, reason)


def unpoint_statements(version_id: int) -> list[Statement]:
    """Remove every alias pointing at `version_id` (being deleted), without a history row."""
    return [("DELETE FROM aliases WHERE version_id = ?", [version_id])]


def clear_statements() -> list[Statement]:
    return [("DELETE FROM aliases", None), ("DELETE FROM alias_history", None)]


def truncate_statements(seq: int) -> list[Statement]:
    """After a reset to `seq` dropped versions: the moves after `seq` and those to versions
    gone are dropped, and aliases pointing at a dropped version removed."""
    return [
        ("DELETE FROM alias_history WHERE at_seq > ?", [seq]),
        (
            "DELETE FROM alias_history WHERE to_version NOT IN (SELECT version_id "
            "FROM model_versions)",
            None,
        ),
        (_ORPHAN_ALIASES, None),
    ]


def forget_statements(first: int) -> list[Statement]:
    return [("DELETE FROM alias_history WHERE at_seq >= ?", [first]), (_ORPHAN_ALIASES, None)]


# An alias whose version was dropped points nowhere: remove it (the engine re-establishes
# production from the newest remaining version when it loads).
_ORPHAN_ALIASES = (
    "DELETE FROM aliases WHERE version_id NOT IN (SELECT version_id FROM model_versions)"
)
