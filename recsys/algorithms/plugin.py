"""The minimal contract of an outside algorithm (a plugin) and the adapter that serves one.

A plugin is a plain class; the lab wraps it (`adapt`) into a `Recommender`, whose base class
already keeps the user ids, the seen items, top-k, the cold start and its own part of the state.
What the plugin class provides (docs/plugins.md shows a complete one):

    name: str                        a new algorithm name: lowercase letters, digits, "_"
    def __init__(self, config, n_items: int, seed: int)
    def fit(self, events: PluginEvents) -> None          a full retrain, events in time order
    def learn_one(self, user: int, item: int, weight: float) -> None   one committed event
    def score(self, user: int) -> np.ndarray             shape (n_items,), finite floats

Users are row numbers: 0 for the first user the model saw, the next number for each new one
(a `learn_one` may name a user one past the last). Items are 0..n_items-1. A weight is the
event's signed strength (a like +1, a dislike -1, a view +0.1, ...; `recsys/events.py`). The
lab only asks `score` about users the plugin has learned something from; strangers get
popularity (or, for `personalized = False`, the plugin's scores for user -1).

Optional, with the default when absent:

    summary = ""                     one line for the picker (default: "plugin NAME")
    config_class = None              a frozen dataclass of `Config` with `param(...)` fields
    personalized = True
    def explain(self, user, item) -> dict[str, float]   named parts of the score (default: one
                                                        part, "score")
    def state(self) -> dict[str, np.ndarray]            default: every numpy array attribute
    def load_state(self, state) -> None                 default: set those attributes back

A state is numeric arrays only (stored as arrays, never pickled). An exception raised by the
plugin becomes a `PluginError` naming the plugin, the method and the line.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from recsys.algorithms.base import SCALES, Explanation, Recommender, UpdateInfo, lead_part
from recsys.algorithms.config import Config, choice, flag, param
from recsys.algorithms.reasons import NOTHING_POSITIVE
from recsys.errors import RecsysError
from recsys.events import Event, EventFrame

__all__ = ["Config", "PluginError", "PluginEvents", "adapt", "choice", "flag", "param"]

SCALES.setdefault("plugin", "the plugin's own score (a newcomer: popularity)")
REQUIRED = ("fit", "learn_one", "score")


class PluginError(RecsysError):
    """A plugin that cannot be loaded or that failed while it ran: one line naming its file
    and line."""


@dataclass(frozen=True)
class PluginEvents:
    """What `fit` reads: one entry per event, in time order. `user` holds user rows (ints),
    `weight` the signed weight of each event; `kind`, `value` (NaN where absent), `ts`
    (seconds) and `seq` are there for plugins that want them."""

    user: np.ndarray  # int64 rows, 0..n_users-1
    item: np.ndarray  # int64 item ids
    weight: np.ndarray  # float64
    kind: np.ndarray  # object: "like", "rating", ...
    value: np.ndarray  # float64
    ts: np.ndarray  # float64 seconds
    seq: np.ndarray  # int64
    n_users: int
    n_items: int


@dataclass(frozen=True)
class NoConfig(Config):
    """The config of a plugin without parameters."""


def where(error: BaseException, source: str) -> str:
    """`file:line` of the deepest frame of `error`'s traceback inside `source` (the plugin's
    file), else of its deepest frame; a `SyntaxError` names its own line."""
    if isinstance(error, SyntaxError):
        return f"{error.filename or source}:{error.lineno}"
    frames = traceback.extract_tb(error.__traceback__)
    inside = [f for f in frames if f.filename == source]
    frame = (inside or frames or [None])[-1]
    return f"{source}:?" if frame is None else f"{frame.filename}:{frame.lineno}"


def failure(error: BaseException, source: str, doing: str) -> PluginError:
    """The one line said for `error`, raised by a plugin from `source` while `doing`."""
    what = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return PluginError(f"{where(error, source)}: {doing} failed: {what}")


class PluginRecommender(Recommender):
    """A plugin object served as a `Recommender`; `adapt` makes one subclass per plugin."""

    plugin_class: ClassVar[type]
    source: ClassVar[str]  # the file it was loaded from
    scale: ClassVar[str] = "plugin"

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self.plugin, method)(*args)
        except RecsysError:
            raise
        except Exception as error:  # any failure of outside code: one line, the lab goes on
            raise failure(error, self.source, f"{self.name}.{method}") from error

    def _reset(self) -> None:
        try:
            self.plugin = self.plugin_class(self.config, self.catalog.n, int(self.seed))
        except Exception as error:
            raise failure(error, self.source, f"{self.name}()") from error

    def _fit(self, events: EventFrame, user_rows: np.ndarray, weights: np.ndarray) -> None:
        frame = PluginEvents(
            np.asarray(user_rows, np.int64),
            np.asarray(events.item, np.int64),
            np.asarray(weights, np.float64),
            events.kind,
            np.asarray(events.value, np.float64),
            np.asarray(events.ts, np.float64),
            np.asarray(events.seq, np.int64),
            len(self._user_ids),
            self.catalog.n,
        )
        self._call("fit", frame)

    def _learn_one(self, user: int, event: Event, weight: float) -> UpdateInfo:
        new = self._seen.size(user) == 1 and event.item in self._seen[user]
        before = 0.0 if new else float(self._scores(user, None)[event.item])
        self._call("learn_one", user, int(event.item), float(weight))
        after = float(self._scores(user, None)[event.item])
        return UpdateInfo(self.name, score_before=before, score_after=after)

    def _scores(self, user: int, context: dict | None) -> np.ndarray:
        scores = np.asarray(self._call("score", user), dtype=np.float64)
        if scores.shape != (self.catalog.n,) or not np.isfinite(scores).all():
            raise PluginError(
                f"{self.source}: {self.name}.score({user}) must return {self.catalog.n} finite "
                f"numbers, got shape {scores.shape}"
                + ("" if scores.shape != (self.catalog.n,) else " with NaN or infinity")
            )
        return scores

    def _explain(self, user: int, item: int) -> Explanation:
        score = float(self._scores(user, None)[item])
        if hasattr(self.plugin, "explain"):
            parts = {str(k): float(v) for k, v in self._call("explain", user, item).items()}
        else:
            parts = {"score": score}
        lead = lead_part(parts)
        reason = f"{lead} {parts[lead]:+.2f} ({self.name})" if lead else NOTHING_POSITIVE
        return Explanation(score, parts, reason, lead=lead)

    def _state(self) -> dict[str, np.ndarray]:
        if hasattr(self.plugin, "state"):
            state = dict(self._call("state"))
        else:
            state = {
                key: value
                for key, value in vars(self.plugin).items()
                if isinstance(value, np.ndarray | int | float) and not isinstance(value, bool)
            }
        arrays = {key: np.asarray(value) for key, value in state.items()}
        for key, value in arrays.items():
            if value.dtype.kind not in "biufU":  # objects would need pickle
                raise PluginError(
                    f"{self.source}: {self.name}'s state {key!r} is not an array of numbers "
                    f"or text (dtype {value.dtype}); states are stored as arrays, never pickled"
                )
        return arrays

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        if hasattr(self.plugin, "load_state"):
            self._call("load_state", {k: np.array(v, copy=True) for k, v in state.items()})
            return
        for key, value in state.items():
            old = getattr(self.plugin, key, None)
            value = np.array(value, copy=True)
            # A number saved as a 0-d array goes back as the number it was.
            setattr(self.plugin, key, value.item() if isinstance(old, int | float) else value)

    def _cold_scores(self) -> np.ndarray:
        return self._scores(-1, None) if not self.personalized else super()._cold_scores()


def adapt(plugin_class: type, source: str) -> type[Recommender]:
    """A `Recommender` subclass serving `plugin_class` (loaded from `source`, a file path).
    Raises `PluginError` if the class lacks what the contract requires."""
    name = getattr(plugin_class, "name", None)
    missing = [m for m in REQUIRED if not callable(getattr(plugin_class, m, None))]
    if missing:
        raise PluginError(
            f"{source}: {plugin_class.__name__} has no {', '.join(missing)} method"
            f"{'s' if len(missing) > 1 else ''} (a plugin needs fit, learn_one and score)"
        )
    if not isinstance(name, str):
        raise PluginError(f"{source}: {plugin_class.__name__} needs a `name` (a string)")
    config_class = getattr(plugin_class, "config_class", None) or NoConfig
    if not (isinstance(config_class, type) and issubclass(config_class, Config)):
        raise PluginError(
            f"{source}: {name}.config_class must be a frozen dataclass of "
            "recsys.algorithms.config.Config (fields made with param, flag or choice)"
        )
    attributes = {
        "name": name,
        "config_class": config_class,
        "summary": str(getattr(plugin_class, "summary", "") or f"plugin {name}"),
        "personalized": bool(getattr(plugin_class, "personalized", True)),
        "plugin_class": plugin_class,
        "source": source,
        "__module__": __name__,
        "__doc__": plugin_class.__doc__,
    }
    return type(f"Plugin_{name}", (PluginRecommender,), attributes)
