"""A/B experiments: owns the `experiments` and `impressions` tables (their only writer).

An experiment row keeps its arms and details as JSON; `recsys.experiments.assignment` turns
rows into `Experiment` objects and owns assignment. Every list an experiment shows is logged as
impressions, one row per item. An event on an item of a logged list carries the list's
`request_id`; `attribution_statement` credits the event to that impression, and the store runs
it in the event's own transaction (`Store.append_event`). The analytics queries over
impressions and served events live here too.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from recsys.events import Event
from recsys.store.connection import Database, Statement, now
from recsys.store.world import reserve_ids

IMPRESSION_COLUMNS = (
    "experiment_id",
    "request_id",
    "arm",
    "user_id",
    "item_id",
    "position",
    "score",
    "propensity",
    "ts",
    "at_seq",
    "clicked",
    "liked",
    "disliked",
    "favorited",
    "rating",
    "true_click",
)
EXPERIMENT_COLUMNS = (
    "experiment_id, name, mode, status, arms, slate, explore, seed, created_seq, created_ts, "
    "stopped_ts, details"
)


class ExperimentStore:
    """Rows of `experiments` are tuples in EXPERIMENT_COLUMNS order (arms and details JSON)."""

    def __init__(self, db: Database):
        self.db = db

    # -- experiments ----------------------------------------------------------------------

    def insert(
        self,
        name: str,
        mode: str,
        arms: list[dict],
        *,
        slate: int,
        explore: float,
        seed: int,
        created_seq: int,
        created_ts: float,
        details: dict | None = None,
    ) -> int:
        """Store a running experiment; returns its new id."""
        with self.db.write_lock:
            new_id = self.db.query("SELECT coalesce(max(experiment_id), 0) + 1 FROM experiments")
            new_id = new_id[0][0]
            self.db.execute(
                "INSERT INTO experiments VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                [
                    new_id,
                    name,
                    mode,
                    json.dumps(arms),
                    slate,
                    float(explore),
                    seed,
                    created_seq,
                    created_ts,
                    now(),
                    json.dumps(details or {}),
                ],
            )
        return new_id

    def exists(self, name: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM experiments WHERE name = ?", [name]))

    def row(self, key: int | str) -> tuple | None:
        """One experiment's row by id (an int) or name (a str), None if there is none."""
        column = "experiment_id" if isinstance(key, int) else "name"
        rows = self.db.query(
            f"SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE {column} = ?", [key]
        )
        return rows[0] if rows else None

    def rows(self) -> list[tuple]:
        """Every experiment's row, newest first."""
        return self.db.query(
            f"SELECT {EXPERIMENT_COLUMNS} FROM experiments ORDER BY experiment_id DESC"
        )

    def live_row(self) -> tuple | None:
        """The running live experiment's row (there is at most one)."""
        rows = self.db.query(
            f"SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE mode = 'live' "
            "AND status = 'running'"
        )
        return rows[0] if rows else None

    def stop(self, experiment_id: int, ts: float) -> None:
        self.db.execute(
            "UPDATE experiments SET status = 'stopped', stopped_ts = ? WHERE experiment_id = ?",
            [ts, experiment_id],
        )

    def set_details(self, experiment_id: int, details: dict) -> None:
        self.db.execute(
            "UPDATE experiments SET details = ? WHERE experiment_id = ?",
            [json.dumps(details), experiment_id],
        )

    def discard(self, experiment_id: int) -> None:
        """Delete an experiment with its impressions, in one transaction."""
        self.db.transaction(
            [
                ("DELETE FROM impressions WHERE experiment_id = ?", [experiment_id]),
                ("DELETE FROM experiments WHERE experiment_id = ?", [experiment_id]),
            ]
        )

    # -- impressions ----------------------------------------------------------------------

    def reserve_requests(self, count: int) -> int:
        """`count` request ids never used before (kept in meta, so a reset never reuses one
        and an old event cannot be credited to a new list); returns the first."""
        with self.db.write_lock:
            first, statements = reserve_ids(
                self.db, "next request id", "impressions", "request_id", count
            )
            self.db.transaction(statements)
            return first

    def log(self, frame: pd.DataFrame) -> None:
        """Append impressions (a frame with IMPRESSION_COLUMNS) in one statement."""
        self.db.transaction(
            [("INSERT INTO impressions SELECT * FROM impressions_frame", None)],
            {"impressions_frame": frame[list(IMPRESSION_COLUMNS)]},
        )

    def per_user(self, experiment_id: int, through_ts: float | None = None) -> pd.DataFrame:
        """One row per (arm, user): impressions and outcome counts, the unit of analysis."""
        return self.db.frame(
            "SELECT arm, user_id, count(*) AS impressions, sum(clicked::INT) AS clicks, "
            "sum(liked::INT) AS likes, sum(disliked::INT) AS dislikes, "
            "sum(favorited::INT) AS favorites, count(rating) AS ratings, "
            "coalesce(sum(rating), 0) AS rating_sum, min(ts) AS first_ts "
            "FROM impressions WHERE experiment_id = ? AND ts <= ? GROUP BY arm, user_id",
            [experiment_id, np.inf if through_ts is None else through_ts],
        )

    def ratings(self, experiment_id: int) -> pd.DataFrame:
        return self.db.frame(
            "SELECT arm, user_id, rating FROM impressions WHERE experiment_id = ? "
            "AND rating IS NOT NULL",
            [experiment_id],
        )

    def timeline(self, experiment_id: int) -> pd.DataFrame:
        """Per (arm, user, ts): impressions and outcomes, for cumulative curves."""
        return self.db.frame(
            "SELECT arm, user_id, ts, count(*) AS impressions, sum(clicked::INT) AS clicks, "
            "sum(liked::INT) AS likes, count(rating) AS ratings, "
            "coalesce(sum(rating), 0) AS rating_sum FROM impressions "
            "WHERE experiment_id = ? GROUP BY arm, user_id, ts ORDER BY ts",
            [experiment_id],
        )

    def impressions(self, experiment_id: int, position: int | None = None) -> pd.DataFrame:
        where = " AND position = ?" if position is not None else ""
        params = [experiment_id] + ([position] if position is not None else [])
        return self.db.frame(
            f"SELECT * FROM impressions WHERE experiment_id = ?{where} ORDER BY request_id, "
            "position",
            params,
        )

    def count(self, experiment_id: int) -> int:
        return self.db.query(
            "SELECT count(*) FROM impressions WHERE experiment_id = ?", [experiment_id]
        )[0][0]

    def top_items(self, experiment_id: int | None = None, limit: int = 10) -> pd.DataFrame:
        """The recommendations that performed best: most clicks, at least 5 impressions. Items
        by the dataset's own ids (`item_id`, text), not the lab's rows."""
        where, params = ("WHERE experiment_id = ?", [experiment_id]) if experiment_id else ("", [])
        return self.db.frame(
            "SELECT any_value(coalesce(t.external_id, CAST(i.item_id AS VARCHAR))) AS item_id, "
            "any_value(t.title) AS title, count(*) AS impressions, "
            "sum(clicked::INT) AS clicks, round(avg(clicked::INT), 4) AS ctr, "
            "sum(liked::INT) AS likes, round(avg(rating), 2) AS avg_rating, "
            "string_agg(DISTINCT arm, ', ') AS arms "
            f"FROM impressions i JOIN items t USING (item_id) {where} "
            "GROUP BY i.item_id HAVING count(*) >= 5 ORDER BY clicks DESC, ctr DESC, i.item_id "
            "LIMIT ?",
            [*params, limit],
        )

    # -- served events (read only) --------------------------------------------------------

    def performance(self, since_ts: float) -> pd.DataFrame:
        """Per algorithm, what people did with the lists it served since `since_ts` (lab
        clock): the served_by column of each live or simulated event names the algorithm."""
        return self.db.frame(
            "SELECT split_part(served_by, ':', 1) AS algorithm, "
            "count(DISTINCT user_id) AS users, count(*) AS events, "
            "count(*) FILTER (kind = 'view') AS views, "
            "count(*) FILTER (kind = 'like') AS likes, "
            "count(*) FILTER (kind = 'dislike') AS dislikes, "
            "count(*) FILTER (kind = 'rating') AS ratings, "
            "round(avg(value) FILTER (kind = 'rating'), 3) AS avg_rating, "
            "round(count(*) FILTER (kind = 'like') / greatest(count(*) FILTER (kind = 'view'), 1),"
            " 4) AS like_rate "
            "FROM events WHERE served_by IS NOT NULL AND ts >= ? GROUP BY ALL "
            "ORDER BY events DESC",
            [since_ts],
        )

    def most_active(self, since_ts: float, limit: int = 10) -> pd.DataFrame:
        return self.db.frame(
            "SELECT e.user_id, any_value(u.kind) AS kind, count(*) AS events, "
            "count(*) FILTER (e.kind = 'like') AS likes, "
            "count(*) FILTER (e.kind = 'rating') AS ratings, max(e.ts) AS last_ts "
            "FROM events e LEFT JOIN users u USING (user_id) WHERE e.ts >= ? "
            "GROUP BY e.user_id ORDER BY events DESC, e.user_id LIMIT ?",
            [since_ts, limit],
        )

    def simulated_people(self) -> pd.DataFrame:
        """The world's simulated people with their hidden taste (the simulated population);
        people drawn past it and kept (kind `drawn`) are not part of it."""
        return self.db.frame(
            "SELECT user_id, persona, taste FROM users WHERE taste IS NOT NULL "
            "AND kind <> 'drawn' ORDER BY user_id"
        )


# -- statements for the store's transactions ---------------------------------------------------

# A stale page of a stopped experiment must not change its results.
_RUNNING = "experiment_id IN (SELECT experiment_id FROM experiments WHERE status = 'running')"
_OUTCOME_COLUMNS = {
    "view": "clicked",
    "click": "clicked",
    "like": "liked",
    "dislike": "disliked",
    "favorite": "favorited",
}


def attribution_statement(event: Event, request_id: int) -> Statement | None:
    """The update that credits `event` to the impression of its item in list `request_id`
    (None for a skip: the item was shown, nothing to credit)."""
    if event.kind == "rating":
        return (
            "UPDATE impressions SET rating = ? WHERE request_id = ? AND item_id = ? "
            f"AND user_id = ? AND {_RUNNING}",
            [event.value, request_id, event.item, event.user],
        )
    column = _OUTCOME_COLUMNS.get(event.kind)
    if column is None:
        return None
    return (
        f"UPDATE impressions SET {column} = true WHERE request_id = ? AND item_id = ? "
        f"AND user_id = ? AND {_RUNNING}",
        [request_id, event.item, event.user],
    )


def forget_statements(user: str) -> list[Statement]:
    """Forgetting `user` drops the lists live experiments showed them (simulated ones stay)."""
    return [
        (
            "DELETE FROM impressions WHERE user_id = ? AND experiment_id IN "
            "(SELECT experiment_id FROM experiments WHERE mode = 'live')",
            [user],
        )
    ]


def clear_statements() -> list[Statement]:
    """Every experiment and impression (a new world, or a reset: the seeded world has none)."""
    return [("DELETE FROM impressions", None), ("DELETE FROM experiments", None)]
