"""What a scenario may say: the JSON schema, checked in full before a load changes the lab.

`validate` fills in the defaults and turns anything malformed into one `RecsysError` naming it:
unknown fields, a world pack or size out of bounds, an algorithm parameter its config refuses,
an experiment's arms and split, a run's personas, the page to open. What only the built world
can tell (enough simulated people, a dataset's fitted personas) is checked by
`recsys.data.scenarios.load` after building it.

>>> setup = validate({"name": "tiny", "world": {"pack": "movies", "seed": 3}})
>>> setup["weights"], setup["experiments"]
('default', [])
"""

from __future__ import annotations

import json
import re
from typing import Any

from recsys.algorithms import algorithm_class, validate_config
from recsys.errors import RecsysError
from recsys.events import WEIGHT_PRESETS, validate_user
from recsys.experiments.assignment import (
    MAX_ARMS,
    MAX_NAME,
    MODES,
    arm_name,
    parse_arm,
    split_arms,
    validate_split,
)
from recsys.lifecycle.policies import Policy
from recsys.world import PACKS, load_pack

FORMAT = 1
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,59}")
PAGES = (
    "simulator",
    "tour",
    "parameters",
    "history",
    "versions",
    "experiments",
    "evaluation",
    "world",
    "data",
)
WHOLE_SIZES = ("n_items", "n_users", "sessions_per_user", "slate_size")
SIZES = {  # what a scenario may set when it generates a world, with bounds
    "n_items": (50, 20_000),
    "n_users": (10, 20_000),
    "sessions_per_user": (1, 500),
    "days": (1, 3650),
    "slate_size": (2, 50),
    "holdout_share": (0, 0.5),
}
_KEYS = {"format", "name", "title", "description", "world", "dataset", "weights"}
_KEYS |= {"algorithms", "policy", "experiments", "run", "open"}
_EXPERIMENT_KEYS = {
    "name",
    "mode",
    "arms",
    "split",
    "users",
    "sessions",
    "seed",
    "slate",
    "explore",
}


def parse(text: str, source: str = "the scenario") -> dict[str, Any]:
    """A scenario from JSON text (a file or an upload), validated."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise RecsysError(f"{source} is not valid JSON: {error}") from None
    except RecursionError:  # JSON nested thousands deep: no scenario is
        raise RecsysError(f"{source} nests its JSON too deeply to be a scenario") from None
    return validate(data)


def validate(data: Any) -> dict[str, Any]:
    """The scenario with defaults filled in; anything malformed is one RecsysError naming it.
    Everything is checked here, before a load changes the lab."""
    if not isinstance(data, dict):
        raise RecsysError("a scenario is a JSON object")
    unknown = set(data) - _KEYS
    if unknown:
        raise RecsysError(f"unknown scenario field(s): {', '.join(sorted(unknown))}")
    if data.get("format", FORMAT) != FORMAT:
        raise RecsysError(f"scenario format {data.get('format')!r} is not {FORMAT}")
    name = data.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise RecsysError(
            "a scenario name is 1 to 60 lower-case letters, digits, '-' or '_', "
            f"starting with a letter or digit; got {name!r}"
        )
    if ("world" in data) == ("dataset" in data):
        raise RecsysError("a scenario names exactly one of world or dataset")
    setup: dict[str, Any] = {
        "format": FORMAT,
        "name": name,
        "title": _text(data.get("title") or name, "title", 200),
        "description": _text(data.get("description") or "", "description", 5000),
    }
    if "world" in data:
        setup["world"] = _world(data["world"])
    else:
        setup["dataset"] = _dataset(data["dataset"])
    weights = data.get("weights", "default")
    if weights not in WEIGHT_PRESETS:
        raise RecsysError(f"unknown weights {weights!r}; choose one of {', '.join(WEIGHT_PRESETS)}")
    setup["weights"] = weights
    setup["algorithms"] = _algorithms(data.get("algorithms", {}))
    policy = _object(data.get("policy", {}), "policy")
    Policy.from_dict(Policy().to_dict() | policy)
    setup["policy"] = policy
    setup["experiments"] = [
        _experiment(e) for e in _list(data.get("experiments", []), "experiments")
    ]
    named = [e["name"] for e in setup["experiments"]]
    if len(set(named)) < len(named):
        raise RecsysError("two experiments in the scenario have the same name")
    if sum(e["mode"] == "live" for e in setup["experiments"]) > 1:
        raise RecsysError("a scenario runs at most one live experiment (one at a time)")
    personas = _personas(setup)
    setup["run"] = [_run(step, personas) for step in _list(data.get("run", []), "run")]
    setup["open"] = _open(data.get("open", {}))
    return setup


# -- the parts ------------------------------------------------------------------------------


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecsysError(f"{what} must be a JSON object")
    return value


def _list(value: Any, what: str) -> list:
    if not isinstance(value, list):
        raise RecsysError(f"{what} must be a JSON list")
    return value


def _int(value: Any, what: str, low: float, high: float) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RecsysError(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _world(value: Any) -> dict[str, Any]:
    world = _object(value, "world")
    if world.get("pack") not in PACKS:
        raise RecsysError(
            f"world pack must be one of {', '.join(PACKS)}, got {world.get('pack')!r}"
        )
    sizes = _object(world.get("sizes", {}), "world sizes")
    for key, size in sizes.items():
        if key not in SIZES:
            raise RecsysError(f"unknown world size {key!r}; choose from {', '.join(SIZES)}")
        low, high = SIZES[key]
        kinds = int if key in WHOLE_SIZES else int | float
        if isinstance(size, bool) or not isinstance(size, kinds) or not low <= size <= high:
            whole = "a whole number " if key in WHOLE_SIZES else ""
            raise RecsysError(f"world size {key} must be {whole}from {low} to {high}, got {size!r}")
    seed = _int(world.get("seed", 42), "world seed", 0, 2**31 - 1)
    return {"pack": world["pack"], "seed": seed, "sizes": dict(sizes)}


def _dataset(value: Any) -> dict[str, Any]:
    from recsys.data.importer import FORMATS

    data = _object(value, "dataset")
    if data.get("format") not in FORMATS:
        raise RecsysError(f"dataset format must be one of {', '.join(FORMATS)}")
    if not isinstance(data.get("path"), str) or not data["path"]:
        raise RecsysError("a dataset scenario needs the path of its files")
    files = _object(data.get("files", {}), "dataset files")
    mapping = _object(data.get("mapping", {}), "dataset mapping")
    for file, pairs in mapping.items():
        if not isinstance(pairs, dict) or not all(isinstance(v, str) for v in pairs.values()):
            raise RecsysError(
                f"dataset mapping of {file}: an object from our column names to theirs, "
                'e.g. {"user_id": "customer"}'
            )
    return {
        "name": str(data.get("name") or data["path"]),
        "format": data["format"],
        "path": data["path"],
        "files": {str(k): str(v) for k, v in files.items()},
        "mapping": mapping,
        "seed": _int(data.get("seed", 42), "dataset seed", 0, 2**31 - 1),
    }


def _algorithms(value: Any) -> dict[str, dict]:
    configs = {}
    for name, config in _object(value, "algorithms").items():
        validate_config(name, _object(config, name))
        configs[algorithm_class(name).name] = dict(config)
    return configs


def _experiment(value: Any) -> dict[str, Any]:
    e = _object(value, "an experiment")
    unknown = set(e) - _EXPERIMENT_KEYS
    if unknown:
        raise RecsysError(f"unknown experiment field(s): {', '.join(sorted(unknown))}")
    arms = e.get("arms")
    arms = split_arms(arms) if isinstance(arms, str) else arms
    if not isinstance(arms, list) or len(arms) < 2 or not all(isinstance(a, str) for a in arms):
        raise RecsysError("an experiment needs a list of at least two arms")
    if len(arms) > MAX_ARMS:
        raise RecsysError(f"an experiment has at most {MAX_ARMS} arms, got {len(arms)}")
    for arm in arms:
        spec = parse_arm(arm)
        if spec["version"] is not None:
            raise RecsysError(
                f"arm {arm!r} names a stored version, which belongs to one lab: name its "
                "algorithm and parameters instead"
            )
        validate_config(spec["algorithm"], spec["config"])
    named = [arm_name(parse_arm(arm)) for arm in arms]
    if len(set(named)) != len(named):
        raise RecsysError(f"two arms are the same ({', '.join(named)}); name them apart")
    mode = e.get("mode", "simulated")
    if mode not in MODES:
        raise RecsysError(f"experiment mode must be one of {', '.join(MODES)}, got {mode!r}")
    split = e.get("split")
    if split is not None and (
        not isinstance(split, list) or not all(isinstance(s, int | float) for s in split)
    ):
        raise RecsysError("an experiment's split is a list of percentages, one per arm")
    if split is not None:
        validate_split(split, len(arms))
    name = e.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RecsysError("every experiment in a scenario needs a name")
    if len(name.strip()) > MAX_NAME or not re.fullmatch(r"[\w .:-]+", name.strip()):
        raise RecsysError(
            f"experiment name {name!r}: use 1 to {MAX_NAME} letters, digits, spaces or - _ . :"
        )
    if name.strip().isdigit():
        raise RecsysError(f"experiment name {name!r} needs at least one letter")
    explore = e.get("explore", 0.0)
    if isinstance(explore, bool) or not isinstance(explore, int | float) or not 0 <= explore <= 1:
        raise RecsysError(f"experiment explore must be a share from 0 to 1, got {explore!r}")
    if mode == "live" and explore:
        raise RecsysError("a live experiment does not explore; set explore only on simulated ones")
    users = e.get("users")
    return {
        "name": name.strip(),
        "mode": mode,
        "arms": arms,
        "split": split,
        "users": None if users is None else _int(users, "experiment users", 1, 100_000),
        "sessions": _int(e.get("sessions", 20), "experiment sessions", 1, 1000),
        "seed": _int(e.get("seed", 0), "experiment seed", 0, 2**31 - 1),
        "slate": _int(e.get("slate", 10), "experiment slate", 1, 50),
        "explore": float(explore),
    }


def _personas(setup: dict[str, Any]) -> set[str] | None:
    """The persona names a generated world will have (None for a dataset: known after)."""
    if "world" not in setup:
        return None
    return {p["name"] for p in load_pack(setup["world"]["pack"])["personas"]}


def _run(value: Any, personas: set[str] | None) -> dict[str, Any]:
    run = _object(value, "a run step")
    if len(run) != 1 or next(iter(run)) not in ("autopilot", "drift"):
        raise RecsysError('a run step is {"autopilot": {...}} or {"drift": {...}}')
    kind, options = next(iter(run.items()))
    options = _object(options, kind)
    algorithm = algorithm_class(options.get("algorithm", "mf")).name
    seed = _int(options.get("seed", 0), f"{kind} seed", 0, 2**31 - 1)
    if kind == "autopilot":
        persona = options.get("persona")
        if not isinstance(persona, str) or (personas is not None and persona not in personas):
            known = f"; choose one of {', '.join(sorted(personas))}" if personas else ""
            raise RecsysError(f"autopilot needs a persona of the world, got {persona!r}{known}")
        steps = _int(options.get("steps", 30), "autopilot steps", 1, 2000)
        autopilot = {"persona": persona, "steps": steps, "algorithm": algorithm, "seed": seed}
        if options.get("user") is not None:  # who acts with the persona's taste (a demo user)
            autopilot["user"] = validate_user(options["user"])
        return {"autopilot": autopilot}
    chosen = options.get("personas")
    if chosen is not None and (
        not isinstance(chosen, list)
        or not all(isinstance(p, str) and (personas is None or p in personas) for p in chosen)
    ):
        raise RecsysError(f"drift personas must be a list of the world's personas, got {chosen!r}")
    return {
        "drift": {
            "personas": chosen,
            "before": _int(options.get("before", 150), "drift before", 1, 5000),
            "after": _int(options.get("after", 250), "drift after", 1, 5000),
            "algorithm": algorithm,
            "seed": seed,
        }
    }


def _open(value: Any) -> dict[str, Any]:
    where = _object(value, "open")
    page = where.get("page", "simulator")
    if page not in PAGES:
        raise RecsysError(f"open page must be one of {', '.join(PAGES)}, got {page!r}")
    opened: dict[str, Any] = {"page": page}
    if where.get("user") is not None:
        opened["user"] = validate_user(where["user"])
    if where.get("algorithm") is not None:
        opened["algorithm"] = algorithm_class(where["algorithm"]).name
    return opened


def _text(value: object, field: str, limit: int) -> str:
    """A title or description: text without control characters (a NUL byte, say) other than
    line breaks and tabs, up to `limit` characters."""
    text = str(value)
    if len(text) > limit:
        raise RecsysError(
            f"the scenario's {field} has {len(text):,} characters; keep it to {limit:,}"
        )
    if any(not (c.isprintable() or c in "\n\t") for c in text):
        raise RecsysError(
            f"the scenario's {field} holds a control character; type it as plain text"
        )
    return text
