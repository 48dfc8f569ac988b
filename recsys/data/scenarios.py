"""Scenarios: the whole lab setup as JSON, saved, shared and loaded again.

A scenario names a world (a generated pack with its seed and sizes) or an imported dataset (its
files, checked by SHA-256), the event weights, each algorithm's parameters, the retrain policy,
A/B experiments and scripted runs (autopilot, taste drift). Loading one replaces the lab with a
fresh world trained with those parameters, then creates the experiments and plays the runs;
everything is seeded, so the same scenario gives the same recommendations and the same A/B
numbers on any machine. Interactions are not part of a scenario (export the log for those).

>>> setup = validate({"name": "tiny", "world": {"pack": "movies", "seed": 3}})
>>> setup["weights"], setup["experiments"]
('default', [])
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from recsys.algorithms import REGISTRY, algorithm_class
from recsys.data.scenario_library import BUILTIN
from recsys.errors import RecsysError
from recsys.events import WEIGHT_PRESETS, validate_user
from recsys.experiments.assignment import (
    MAX_ARMS,
    MAX_NAME,
    MODES,
    Experiments,
    arm_name,
    parse_arm,
    split_arms,
    validate_split,
)
from recsys.lifecycle.policies import Policy
from recsys.world import PACKS, generate_world, load_pack

FORMAT = 1
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,59}")
PAGES = (
    "simulator",
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


def names(store) -> list[str]:
    return [*BUILTIN, *store.scenarios.names()]


def catalogue(store) -> list[dict[str, Any]]:
    """Every scenario: built-in ones first, then the saved ones."""
    rows = [
        {"name": n, "title": s["title"], "description": s["description"], "builtin": True}
        for n, s in BUILTIN.items()
    ]
    for name, description, setup in store.scenarios.rows():
        title = json.loads(setup).get("title") or name
        rows.append({"name": name, "title": title, "description": description, "builtin": False})
    return rows


def get(store, name: str) -> dict[str, Any]:
    """A built-in or saved scenario, validated; an unknown name lists the known ones."""
    if name in BUILTIN:
        return validate({"name": name, **BUILTIN[name]})
    saved = store.scenarios.setup(name)
    if saved is None:
        raise RecsysError(f"unknown scenario {name!r}; choose one of {', '.join(names(store))}")
    return validate(json.loads(saved))


def parse(text: str, source: str = "the scenario") -> dict[str, Any]:
    """A scenario from JSON text (a file or an upload), validated."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise RecsysError(f"{source} is not valid JSON: {error}") from None
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
        "title": str(data.get("title") or name),
        "description": str(data.get("description") or ""),
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


def current(engine, name: str, title: str = "", description: str = "") -> dict[str, Any]:
    """The lab's setup now, as a scenario (validated). Simulated experiments are kept (they
    run again on load), a running live one is re-created empty; a stopped live one has nothing
    to reproduce and is left out. An arm on a stored version becomes its algorithm with that
    version's parameters, trained again on the loaded log."""
    meta = engine.meta
    setup: dict[str, Any] = {"name": name, "title": title, "description": description}
    if meta.get("world") == "dataset":
        setup["dataset"] = {
            "name": meta.get("label", "dataset"),
            "format": meta["dataset_format"],
            "path": meta.get("dataset_path"),
            "files": json.loads(meta.get("dataset_files", "{}")),
            "mapping": json.loads(meta.get("dataset_mapping", "{}")),
            "seed": int(meta["seed"]),
        }
    else:
        sizes = json.loads(meta.get("sizes", "{}"))
        setup["world"] = {
            "pack": meta["world"],
            "seed": int(meta["seed"]),
            "sizes": {k: v for k, v in sizes.items() if v is not None},
        }
    setup["weights"] = meta.get("weights", "default")
    setup["algorithms"] = {
        n: changed
        for n, cls in REGISTRY.items()
        if (changed := _changed(engine.model(n).config.to_dict(), cls.config_class().to_dict()))
    }
    setup["policy"] = _changed(engine.lifecycle.policy.to_dict(), Policy().to_dict())
    setup["experiments"] = [
        spec for e in Experiments(engine.store).list() if (spec := _experiment_spec(engine, e))
    ]
    # The scripted runs of the scenario the lab was loaded from are part of its setup.
    loaded = json.loads(meta.get("scenario_setup", "{}"))
    setup["run"] = loaded.get("run", [])
    setup["open"] = loaded.get("open", {})
    return validate(setup)


def save(store, setup: dict[str, Any], overwrite: bool = False) -> None:
    setup = validate(setup)
    name = setup["name"]
    if name in BUILTIN:
        raise RecsysError(f"{name!r} is a built-in scenario; save under another name")
    if store.scenarios.exists(name) and not overwrite:
        raise RecsysError(f"a scenario named {name!r} exists; choose another name or overwrite it")
    store.scenarios.save(name, setup["description"], dumps(setup))


def delete(store, name: str) -> None:
    if name in BUILTIN:
        raise RecsysError(f"{name!r} is built in and cannot be deleted")
    if not store.scenarios.exists(name):
        raise RecsysError(f"unknown scenario {name!r}")
    store.scenarios.delete(name)


def dumps(setup: dict[str, Any]) -> str:
    return json.dumps(setup, indent=2, sort_keys=False)


def load(
    engine, setup: dict[str, Any], progress: Callable[[float, str], None] | None = None
) -> dict[str, Any]:
    """Replace the lab with the scenario's world, trained with its parameters, then set the
    policy, create its experiments and play its runs; a built-in's claims are then measured
    (`done["checks"]`, kept with the lab's scenario mark). The world swap is one transaction
    (a bad dataset or a failed training leaves the old lab as it was); the steps after it are
    validated up front."""
    from recsys.data import scenario_checks
    from recsys.experiments import simulation as ab_simulation
    from recsys.simulation import simulate, taste_drift

    setup = validate(setup)
    step = progress or (lambda share, text: None)
    step(0.0, "building the world")
    world = _build_world(setup)
    # Written with the world, in its transaction: a lab never holds half a scenario's setup.
    policy = Policy.from_dict(Policy().to_dict() | setup["policy"])
    world.meta |= {
        "scenario": setup["name"],
        "scenario_setup": dumps(setup),
        "policy": json.dumps(policy.to_dict(), sort_keys=True),
    }
    if "dataset" in setup:
        world.meta |= dataset_meta(setup["dataset"]["path"], setup["dataset"]["mapping"])
    lab = engine.load_world(
        world,
        setup["weights"],
        setup["algorithms"],
        lambda share, text: step(0.05 + 0.45 * share, text),
    )
    done: dict[str, Any] = {"scenario": setup["name"], "lab": lab, "experiments": [], "runs": []}
    total = max(len(setup["experiments"]) + len(setup["run"]), 1)
    for i, spec in enumerate(setup["experiments"]):
        step(0.5 + 0.5 * i / total, f"experiment {spec['name']}")
        if spec["mode"] == "live":
            made = ab_simulation.create(
                engine,
                spec["name"],
                spec["arms"],
                spec["split"],
                mode="live",
                slate=spec["slate"],
                seed=spec["seed"],
            )
            done["experiments"].append({"name": made.name, "mode": "live"})
            continue
        report = ab_simulation.simulate(
            engine,
            spec["arms"],
            name=spec["name"],
            split=spec["split"],
            users=spec["users"],
            sessions=spec["sessions"],
            seed=spec["seed"],
            slate=spec["slate"],
            explore=spec["explore"],
        )
        done["experiments"].append({"name": spec["name"], "verdict": report.get("verdict")})
    for j, run in enumerate(setup["run"]):
        start, kind = 0.5 + 0.5 * (len(setup["experiments"]) + j) / total, next(iter(run))

        def visits(done: int, of: int, start: float = start, kind: str = kind) -> None:
            step(start + 0.5 / total * done / max(of, 1), f"{kind}: visit {done} of {of}")

        if "autopilot" in run:
            a = run["autopilot"]
            records = simulate(
                engine,
                a["persona"],
                a["steps"],
                algorithm=a["algorithm"],
                seed=a["seed"],
                progress=visits,
                user=a.get("user"),
            )
            done["runs"].append({"autopilot": a["persona"], "visits": len(records)})
        else:
            d = run["drift"]
            report = taste_drift(
                engine,
                d["personas"],
                d["before"],
                d["after"],
                algorithm=d["algorithm"],
                seed=d["seed"],
                progress=visits,
            )
            done["runs"].append(
                {"drift": report["shifts"], "alarm": report["first_alarm_after_shift"]}
            )
    done["checks"] = []
    if scenario_checks.claims(setup["name"]):  # a built-in: measure what its paragraph claims
        step(1.0, "checking the scenario's claims")
        done["checks"] = scenario_checks.run(engine, setup["name"])
        scenario_checks.store(engine, setup["name"], done["checks"])
    step(1.0, "ready")
    done["open"] = setup["open"]
    return done


# -- validation parts -------------------------------------------------------------------


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
        cls = algorithm_class(name)
        cls.config_class.from_dict(cls.config_class().to_dict() | _object(config, name))
        configs[cls.name] = dict(config)
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
        algorithm_class(spec["algorithm"]).config_class.from_dict(spec["config"])
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


# -- loading and saving parts -------------------------------------------------------------


def _build_world(setup: dict[str, Any]):
    if "world" in setup:
        w = setup["world"]
        return _fits(setup, generate_world(w["pack"], w["seed"], **w["sizes"]))
    from recsys.data.importer import read_path
    from recsys.data.semisynthetic import dataset_world

    d = setup["dataset"]
    report = read_path(d["format"], d["path"], mapping=d["mapping"] or None)
    if not report.ok:
        raise RecsysError(
            f"the scenario's dataset at {d['path']} does not import: {report.problems[0]}"
        )
    saved, found = d["files"], report.dataset.files
    # A file the scenario was saved with that is gone (an optional tags.csv) or one that is
    # new changes the data as much as a file whose bytes changed.
    changed = sorted(f for f in set(saved) | set(found) if saved and saved.get(f) != found.get(f))
    if changed:
        raise RecsysError(
            f"the files at {d['path']} differ from the ones the scenario was saved with "
            f"({', '.join(changed)}); the scenario would not reproduce"
        )
    report.dataset.name = d["name"]
    return _fits(setup, dataset_world(report.dataset, d["seed"]))


def _fits(setup: dict[str, Any], world):
    """What only the built world can tell, checked before it replaces the lab: enough
    simulated people for each experiment, and the runs' personas (a dataset's are fitted)."""
    people = int(world.users["taste"].notna().sum())
    for spec in setup["experiments"]:
        if spec["mode"] == "simulated" and (spec["users"] or 0) > people:
            raise RecsysError(
                f"experiment {spec['name']!r} asks for {spec['users']} users; the world has "
                f"{people} simulated people"
            )
    known = set(world.personas["name"])
    for run in setup["run"]:
        kind, options = next(iter(run.items()))
        wanted = [options["persona"]] if kind == "autopilot" else options["personas"] or []
        unknown = [p for p in wanted if p not in known]
        if unknown:
            raise RecsysError(
                f"{kind} names persona {unknown[0]!r}, which the world lacks; choose one of "
                f"{', '.join(sorted(known))}"
            )
    return world


def dataset_meta(path: str, mapping: dict | None) -> dict[str, str]:
    """Where an imported world's files are, so a scenario saved from it can load them again."""
    return {"dataset_path": str(path), "dataset_mapping": json.dumps(mapping or {}, sort_keys=True)}


def _changed(config: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if defaults.get(k) != v}


def _experiment_spec(engine, experiment) -> dict[str, Any] | None:
    if experiment.mode == "live" and experiment.status != "running":
        return None
    arms = []
    for arm in experiment.arms:
        text = arm.algorithm
        if arm.version is not None:
            config = engine.version_store.version(arm.version)["config"]
            defaults = algorithm_class(arm.algorithm).config_class().to_dict()
            changed = _changed(config, defaults)
            if changed:
                text += "(" + ",".join(f"{k}={v}" for k, v in changed.items()) + ")"
        if arm_name(parse_arm(text)) != arm.name and re.fullmatch(r"[A-Za-z][\w-]*", arm.name):
            text = f"{arm.name}={text}"
        arms.append(text)
    details = experiment.details
    return {
        "name": experiment.name,
        "mode": experiment.mode,
        "arms": arms,
        "split": [arm.share for arm in experiment.arms],
        "users": details.get("users"),
        "sessions": details.get("sessions", 20),
        "seed": experiment.seed,
        "slate": experiment.slate,
        "explore": experiment.explore,
    }
