"""A/B experiments: definitions, deterministic assignment and the impression log.

An experiment has two or more arms; an arm is an algorithm's production model (it keeps
learning online), a stored model version, or an algorithm with other parameters (trained once
when the experiment is created and stored as a version, so the arm is reproducible). The unit
is the user: `assign` hashes (experiment, seed, user), so a person always sees the same arm and
two experiments split people independently. The first arm is the control.

Every list an experiment shows is logged as impressions, one row per item: arm, position,
score and propensity (the probability the arm shows that item there; 1 for a deterministic
ranker). Events on a logged list carry its `request_id`, and the store credits each to its
impression in the event's own transaction (see `Store.append_event`).

Every SQL statement about experiments lives here (the store owns the connection and schema).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from recsys.algorithms import algorithm_class
from recsys.errors import RecsysError
from recsys.store.database import Store

MODES = ("live", "simulated")
MAX_ARMS = 10
MAX_NAME = 60
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
# `v12` is a version, never an algorithm named "v12": the version form is tried first.
_ARM = re.compile(
    r"^(?:(?P<name>[A-Za-z][\w-]*)=)?(?:v(?P<bare>\d+)|(?P<algorithm>[a-z][a-z0-9_]*)"
    r"(?:@v(?P<version>\d+)|\((?P<config>[^()]*)\))?)$"
)


@dataclass(frozen=True)
class Arm:
    name: str
    algorithm: str
    version: int | None = None
    share: float = 50.0  # percent of users

    @property
    def label(self) -> str:
        return f"{self.algorithm} v{self.version}" if self.version else self.algorithm


@dataclass(frozen=True)
class Experiment:
    experiment_id: int
    name: str
    mode: str
    status: str
    arms: tuple[Arm, ...]
    slate: int
    explore: float
    seed: int
    created_seq: int
    created_ts: float
    stopped_ts: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def control(self) -> Arm:
        return self.arms[0]

    def arm(self, name: str) -> Arm:
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise RecsysError(f"experiment {self.name!r} has no arm {name!r}")

    def assign(self, user: str) -> Arm:
        """The user's arm: a stable hash of (experiment, seed, user) into the cumulative split."""
        salt = self.details.get("salt", self.name)  # a renamed repeat keeps its assignment
        point = bucket(f"{salt}\x1f{self.seed}\x1f{user}") * 100.0
        edge = 0.0
        for arm in self.arms:
            edge += arm.share
            if point < edge:
                return arm
        return self.arms[-1]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"control": self.control.name}


def bucket(key: str) -> float:
    """A uniform number in [0, 1) from a string (SHA-256: independent across experiments)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2.0**64


def split_arms(text: str) -> list[str]:
    """`mf,mf(factors=8,reg=0.1),v12` -> three arm specs (commas inside brackets stay)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [p for p in parts if p]


def parse_arm(spec: str) -> dict[str, Any]:
    """One arm spec: `mf`, `v12` or `mf@v12` (a version), `mf(factors=8,reg=0.1)` (other
    parameters), each optionally named: `treatment=mf`."""
    match = _ARM.match(spec.strip())
    if not match:
        raise RecsysError(
            f"cannot read arm {spec!r}; write an algorithm (mf), a version (v12 or mf@v12) or "
            "parameters (mf(factors=8)), optionally named (treatment=mf)"
        )
    config = {}
    for pair in (match["config"] or "").split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep:
            raise RecsysError(f"arm {spec!r}: write parameters as name=value")
        try:
            config[key.strip()] = json.loads(value.strip())
        except json.JSONDecodeError:
            config[key.strip()] = value.strip()
    return {
        "name": match["name"],
        "algorithm": match["algorithm"],
        "version": int(match["bare"] or match["version"])
        if match["bare"] or match["version"]
        else None,
        "config": config,
        "spec": spec.strip(),
    }


def parse_split(text: str | None, n_arms: int) -> list[float]:
    """`50,50` or `45/55` -> percents; None -> an even split."""
    if text is None or not str(text).strip():
        return [100.0 / n_arms] * n_arms
    try:
        shares = [float(s) for s in re.split(r"[,/ ]+", str(text).strip()) if s]
    except ValueError:
        raise RecsysError(f"cannot read split {text!r}; write percents such as 50,50") from None
    return shares


def validate_split(shares: list[float], n_arms: int) -> list[float]:
    if len(shares) != n_arms:
        raise RecsysError(f"the split has {len(shares)} shares for {n_arms} arms")
    if any(not np.isfinite(s) or s <= 0 for s in shares):
        raise RecsysError("every arm needs a share above 0 %")
    if abs(sum(shares) - 100.0) > 1e-6:
        raise RecsysError(f"the split sums to {sum(shares):g} %, not 100 %")
    return [float(s) for s in shares]


class Experiments:
    """The experiments and impressions tables."""

    def __init__(self, store: Store):
        self.store = store

    # -- definitions ----------------------------------------------------------------------

    def validate(
        self,
        name: str,
        arms: list[dict[str, Any]],
        split: list[float],
        *,
        mode: str = "simulated",
        slate: int = 10,
        explore: float = 0.0,
        seed: int = 0,
        versions: dict[int, str] | None = None,
    ) -> None:
        """Every check `create` makes, before anything is trained or written."""
        name = str(name or "").strip()
        if not name or len(name) > MAX_NAME or not re.fullmatch(r"[\w .:-]+", name):
            raise RecsysError(
                f"name the experiment with 1 to {MAX_NAME} letters, digits, spaces or - _ . :"
            )
        if name.isdigit():  # a number is read as an experiment id
            raise RecsysError("an experiment's name needs at least one letter")
        if self.store._query("SELECT 1 FROM experiments WHERE name = ?", [name]):
            raise RecsysError(f"an experiment named {name!r} exists; choose another name")
        if mode not in MODES:
            raise RecsysError(f"unknown mode {mode!r}; choose live or simulated")
        if not 2 <= len(arms) <= MAX_ARMS:
            raise RecsysError(f"an experiment needs 2 to {MAX_ARMS} arms, got {len(arms)}")
        validate_split(split, len(arms))
        if isinstance(slate, bool) or not isinstance(slate, int) or not 1 <= slate <= 50:
            raise RecsysError(f"slate must be a whole number from 1 to 50, got {slate!r}")
        if (
            isinstance(explore, bool)
            or not isinstance(explore, int | float)
            or not 0.0 <= float(explore) <= 1.0
        ):
            raise RecsysError(f"explore must be a share from 0 to 1, got {explore!r}")
        if mode == "live" and explore:
            raise RecsysError(
                "live experiments do not explore (people see their arm's own list); log "
                "exploring traffic with a simulated run"
            )
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
            raise RecsysError(f"seed must be a whole number from 0 to {2**31 - 1}")
        if mode == "live" and (running := self.live()) is not None:
            raise RecsysError(
                f"live experiment {running.name!r} is running; stop it first (one at a time)"
            )
        known = versions if versions is not None else self.version_algorithms()
        for arm in arms:
            algorithm, version = resolve(arm, known)
            if version is not None and arm["algorithm"] not in (None, algorithm):
                raise RecsysError(f"v{version} is a {algorithm} version, not {arm['algorithm']}")
            if arm["config"]:  # the spec's grammar never gives both a version and parameters
                algorithm_class(algorithm).config_class.from_dict(arm["config"])
        names = [arm_name(a) for a in arms]
        if len(set(names)) != len(names):
            raise RecsysError(f"two arms are the same ({', '.join(names)}); name them apart")

    def version_algorithms(self) -> dict[int, str]:
        return dict(self.store._query("SELECT version_id, algorithm FROM model_versions"))

    def insert(
        self,
        name: str,
        mode: str,
        arms: list[Arm],
        *,
        slate: int,
        explore: float,
        seed: int,
        created_seq: int,
        created_ts: float,
        details: dict | None = None,
    ) -> Experiment:
        with self.store._write_lock:
            new_id = self.store._query(
                "SELECT coalesce(max(experiment_id), 0) + 1 FROM experiments"
            )[0][0]
            self.store._execute(
                "INSERT INTO experiments VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                [
                    new_id,
                    name.strip(),
                    mode,
                    json.dumps([asdict(a) for a in arms]),
                    slate,
                    float(explore),
                    seed,
                    created_seq,
                    created_ts,
                    datetime.now(UTC).replace(tzinfo=None),
                    json.dumps(details or {}),
                ],
            )
        return self.get(new_id)

    def get(self, key: int | str) -> Experiment:
        """By id or name; an unknown one names the known experiments."""
        column = "experiment_id" if isinstance(key, int) or str(key).isdigit() else "name"
        rows = self.store._query(
            f"SELECT {_COLUMNS} FROM experiments WHERE {column} = ?",
            [int(key) if column == "experiment_id" else str(key)],
        )
        if not rows:
            known = ", ".join(e.name for e in self.list()[:8]) or "none yet"
            raise RecsysError(f"unknown experiment {key!r}; known: {known}")
        return _experiment(rows[0])

    def list(self) -> list[Experiment]:
        rows = self.store._query(f"SELECT {_COLUMNS} FROM experiments ORDER BY experiment_id DESC")
        return [_experiment(r) for r in rows]

    def live(self) -> Experiment | None:
        rows = self.store._query(
            f"SELECT {_COLUMNS} FROM experiments WHERE mode = 'live' AND status = 'running'"
        )
        return _experiment(rows[0]) if rows else None

    def stop(self, key: int | str, ts: float) -> Experiment:
        experiment = self.get(key)
        if experiment.status != "running":
            raise RecsysError(f"experiment {experiment.name!r} is already stopped")
        self.store._execute(
            "UPDATE experiments SET status = 'stopped', stopped_ts = ? WHERE experiment_id = ?",
            [ts, experiment.experiment_id],
        )
        return self.get(experiment.experiment_id)

    def live_versions(self) -> dict[int, str]:
        """The versions that arms of live experiments serve or served (time travel rebuilds
        their lists from them), each with its experiment's name."""
        return {
            arm.version: experiment.name
            for experiment in self.list()
            if experiment.mode == "live"
            for arm in experiment.arms
            if arm.version is not None
        }

    def discard(self, experiment_id: int) -> None:
        self.store._transaction(
            [
                ("DELETE FROM impressions WHERE experiment_id = ?", [experiment_id]),
                ("DELETE FROM experiments WHERE experiment_id = ?", [experiment_id]),
            ]
        )

    def set_details(self, experiment_id: int, details: dict) -> None:
        self.store._execute(
            "UPDATE experiments SET details = ? WHERE experiment_id = ?",
            [json.dumps(details), experiment_id],
        )

    # -- impressions ----------------------------------------------------------------------

    def reserve_requests(self, count: int) -> int:
        """`count` request ids never used before (kept in meta, so a reset never reuses one
        and an old event cannot be credited to a new list)."""
        with self.store._write_lock:
            stored = self.store._query("SELECT value FROM meta WHERE key = 'next request id'")
            used = self.store._query("SELECT coalesce(max(request_id), 0) + 1 FROM impressions")
            first = max(int(stored[0][0]) if stored else 1, used[0][0])
            self.store.set_meta("next request id", str(first + count))
            return first

    def log(self, frame: pd.DataFrame) -> None:
        """Append impressions (a frame with IMPRESSION_COLUMNS) in one statement."""
        self.store._transaction(
            [("INSERT INTO impressions SELECT * FROM impressions_frame", None)],
            {"impressions_frame": frame[list(IMPRESSION_COLUMNS)]},
        )

    def per_user(self, experiment_id: int, through_ts: float | None = None) -> pd.DataFrame:
        """One row per (arm, user): impressions and outcome counts, the unit of analysis."""
        return self.store._frame(
            "SELECT arm, user_id, count(*) AS impressions, sum(clicked::INT) AS clicks, "
            "sum(liked::INT) AS likes, sum(disliked::INT) AS dislikes, "
            "sum(favorited::INT) AS favorites, count(rating) AS ratings, "
            "coalesce(sum(rating), 0) AS rating_sum, min(ts) AS first_ts "
            "FROM impressions WHERE experiment_id = ? AND ts <= ? GROUP BY arm, user_id",
            [experiment_id, np.inf if through_ts is None else through_ts],
        )

    def ratings(self, experiment_id: int) -> pd.DataFrame:
        return self.store._frame(
            "SELECT arm, user_id, rating FROM impressions WHERE experiment_id = ? "
            "AND rating IS NOT NULL",
            [experiment_id],
        )

    def timeline(self, experiment_id: int) -> pd.DataFrame:
        """Per (arm, user, ts): impressions and outcomes, for cumulative curves."""
        return self.store._frame(
            "SELECT arm, user_id, ts, count(*) AS impressions, sum(clicked::INT) AS clicks, "
            "sum(liked::INT) AS likes, count(rating) AS ratings, "
            "coalesce(sum(rating), 0) AS rating_sum FROM impressions "
            "WHERE experiment_id = ? GROUP BY arm, user_id, ts ORDER BY ts",
            [experiment_id],
        )

    def impressions(self, experiment_id: int, position: int | None = None) -> pd.DataFrame:
        where = " AND position = ?" if position is not None else ""
        params = [experiment_id] + ([position] if position is not None else [])
        return self.store._frame(
            f"SELECT * FROM impressions WHERE experiment_id = ?{where} ORDER BY request_id, "
            "position",
            params,
        )

    def count(self, experiment_id: int) -> int:
        return self.store._query(
            "SELECT count(*) FROM impressions WHERE experiment_id = ?", [experiment_id]
        )[0][0]

    def top_items(self, experiment_id: int | None = None, limit: int = 10) -> pd.DataFrame:
        """The recommendations that performed best: most clicks, at least 5 impressions."""
        where, params = ("WHERE experiment_id = ?", [experiment_id]) if experiment_id else ("", [])
        return self.store._frame(
            "SELECT i.item_id, any_value(t.title) AS title, count(*) AS impressions, "
            "sum(clicked::INT) AS clicks, round(avg(clicked::INT), 4) AS ctr, "
            "sum(liked::INT) AS likes, round(avg(rating), 2) AS avg_rating, "
            "string_agg(DISTINCT arm, ', ') AS arms "
            f"FROM impressions i JOIN items t USING (item_id) {where} "
            "GROUP BY i.item_id HAVING count(*) >= 5 ORDER BY clicks DESC, ctr DESC, i.item_id "
            "LIMIT ?",
            [*params, limit],
        )

    def performance(self, since_ts: float) -> pd.DataFrame:
        """Per algorithm, what people did with the lists it served since `since_ts` (lab
        clock): the served_by column of each live or simulated event names the algorithm."""
        return self.store._frame(
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
        return self.store._frame(
            "SELECT e.user_id, any_value(u.kind) AS kind, count(*) AS events, "
            "count(*) FILTER (e.kind = 'like') AS likes, "
            "count(*) FILTER (e.kind = 'rating') AS ratings, max(e.ts) AS last_ts "
            "FROM events e LEFT JOIN users u USING (user_id) WHERE e.ts >= ? "
            "GROUP BY e.user_id ORDER BY events DESC, e.user_id LIMIT ?",
            [since_ts, limit],
        )

    def simulated_people(self) -> pd.DataFrame:
        """The world's simulated people with their hidden taste (the simulated population)."""
        return self.store._frame(
            "SELECT user_id, persona, taste FROM users WHERE taste IS NOT NULL ORDER BY user_id"
        )


def resolve(spec: dict[str, Any], versions: dict[int, str]) -> tuple[str, int | None]:
    """The (algorithm, version) a parsed arm spec names; `versions` maps id -> algorithm."""
    version = spec["version"]
    if version is None:
        return algorithm_class(spec["algorithm"]).name, None
    if version not in versions:
        raise RecsysError(f"unknown version v{version}")
    return versions[version], version


def arm_name(arm: dict[str, Any]) -> str:
    if arm.get("name"):
        return arm["name"]
    if arm["config"]:
        return arm["spec"]
    return f"v{arm['version']}" if arm["version"] else arm["algorithm"]


_COLUMNS = (
    "experiment_id, name, mode, status, arms, slate, explore, seed, created_seq, created_ts, "
    "stopped_ts, details"
)


def _experiment(row: tuple) -> Experiment:
    arms = tuple(Arm(**a) for a in json.loads(row[4]))
    return Experiment(
        row[0],
        row[1],
        row[2],
        row[3],
        arms,
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        row[10],
        json.loads(row[11] or "{}"),
    )
