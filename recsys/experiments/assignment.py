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

The SQL about experiments and impressions is `recsys.store.experiments.ExperimentStore`'s
(`store.experiment_log`); this module holds the definitions, validation and assignment.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys.algorithms import validate_config
from recsys.errors import RecsysError
from recsys.experiments.arms import arm_name, resolve
from recsys.store.database import Store
from recsys.store.versions import VersionStore

MODES = ("live", "simulated")
MAX_ARMS = 10
MAX_NAME = 60
# `v12` is a version, never an algorithm named "v12": the version form is tried first. A version
# is its algorithm's number: `mf@v3`, or `v3` when one algorithm alone has a v3.
_ARM = re.compile(
    r"^(?:(?P<name>[A-Za-z][\w-]*)=)?(?:v(?P<bare>\d+)|(?P<algorithm>[a-z][a-z0-9_]*)"
    r"(?:@v(?P<version>\d+)|\((?P<config>[^()]*)\))?)$"
)


@dataclass(frozen=True)
class Arm:
    name: str
    algorithm: str
    version: int | None = None  # the version's key
    share: float = 50.0  # percent of users
    number: int | None = None  # the version's number for its algorithm (what people read)

    @property
    def label(self) -> str:
        if self.version is None:
            return self.algorithm
        # An arm stored before versions were numbered per algorithm has no number.
        return f"{self.algorithm} v{self.number}" if self.number else f"{self.algorithm} version"


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

    def assign_many(self, users: list[str]) -> np.ndarray:
        """(N,): the index of each user's arm, as `assign` gives it, without an Arm per user."""
        salt = self.details.get("salt", self.name)
        prefix = f"{salt}\x1f{self.seed}\x1f".encode()
        points = np.array(
            [
                int.from_bytes(hashlib.sha256(prefix + u.encode()).digest()[:8], "big")
                for u in users
            ],
            dtype=np.float64,
        )
        edges = np.cumsum([arm.share for arm in self.arms])
        index = np.searchsorted(edges, points / 2.0**64 * 100.0, side="right")
        return np.minimum(index, len(self.arms) - 1)

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
    """One arm spec: `mf`, `v3` or `mf@v3` (a version, by its algorithm's number),
    `mf(factors=8,reg=0.1)` (other parameters), each optionally named: `treatment=mf`."""
    match = _ARM.match(spec.strip())
    if not match:
        raise RecsysError(
            f"cannot read arm {spec!r}; write an algorithm (mf), a version (mf@v3 or v3) or "
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
    """Experiments of one store: definitions, validation and assignment; the rows are read and
    written through `store.experiment_log`."""

    def __init__(self, store: Store):
        self.store = store
        self.repo = store.experiment_log

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
        if self.repo.exists(name):
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
        known = versions if versions is not None else self.version_catalog()
        for arm in arms:
            algorithm, _ = resolve(arm, known)
            if arm["config"]:  # the spec's grammar never gives both a version and parameters
                validate_config(algorithm, arm["config"])
        names = [arm_name(a) for a in arms]
        if len(set(names)) != len(names):
            raise RecsysError(f"two arms are the same ({', '.join(names)}); name them apart")

    def version_catalog(self) -> dict[tuple[str, int], int]:
        """(algorithm, number) -> version key, for `resolve`."""
        return VersionStore(self.store).version_catalog()

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
        new_id = self.repo.insert(
            name.strip(),
            mode,
            [asdict(a) for a in arms],
            slate=slate,
            explore=explore,
            seed=seed,
            created_seq=created_seq,
            created_ts=created_ts,
            details=details,
        )
        return self.get(new_id)

    def get(self, key: int | str) -> Experiment:
        """By id or name; an unknown one names the known experiments."""
        by_id = isinstance(key, int) or str(key).isdigit()
        row = self.repo.row(int(key) if by_id else str(key))
        if row is None:
            known = ", ".join(e.name for e in self.list()[:8]) or "none yet"
            raise RecsysError(f"unknown experiment {key!r}; known: {known}")
        return _experiment(row)

    def list(self) -> list[Experiment]:
        return [_experiment(r) for r in self.repo.rows()]

    def live(self) -> Experiment | None:
        row = self.repo.live_row()
        return _experiment(row) if row is not None else None

    def stop(self, key: int | str, ts: float) -> Experiment:
        experiment = self.get(key)
        if experiment.status != "running":
            raise RecsysError(f"experiment {experiment.name!r} is already stopped")
        self.repo.stop(experiment.experiment_id, ts)
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
        self.repo.discard(experiment_id)

    def set_details(self, experiment_id: int, details: dict) -> None:
        self.repo.set_details(experiment_id, details)

    # -- impressions and analytics (the store's queries) ---------------------------------

    def reserve_requests(self, count: int) -> int:
        """`count` request ids never used before (see `ExperimentStore.reserve_requests`)."""
        return self.repo.reserve_requests(count)

    def log(self, frame: pd.DataFrame) -> None:
        """Append impressions (a frame with IMPRESSION_COLUMNS) in one statement."""
        self.repo.log(frame)

    def per_user(self, experiment_id: int, through_ts: float | None = None) -> pd.DataFrame:
        """One row per (arm, user): impressions and outcome counts, the unit of analysis."""
        return self.repo.per_user(experiment_id, through_ts)

    def ratings(self, experiment_id: int) -> pd.DataFrame:
        return self.repo.ratings(experiment_id)

    def timeline(self, experiment_id: int) -> pd.DataFrame:
        """Per (arm, user, ts): impressions and outcomes, for cumulative curves."""
        return self.repo.timeline(experiment_id)

    def impressions(self, experiment_id: int, position: int | None = None) -> pd.DataFrame:
        return self.repo.impressions(experiment_id, position)

    def count(self, experiment_id: int) -> int:
        return self.repo.count(experiment_id)

    def top_items(self, experiment_id: int | None = None, limit: int = 10) -> pd.DataFrame:
        """The recommendations that performed best: most clicks, at least 5 impressions."""
        return self.repo.top_items(experiment_id, limit)

    def performance(self, since_ts: float) -> pd.DataFrame:
        """Per algorithm, what people did with the lists it served since `since_ts`."""
        return self.repo.performance(since_ts)

    def most_active(self, since_ts: float, limit: int = 10) -> pd.DataFrame:
        return self.repo.most_active(since_ts, limit)

    def simulated_people(self) -> pd.DataFrame:
        """The world's simulated people with their hidden taste (the simulated population)."""
        return self.repo.simulated_people()


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
