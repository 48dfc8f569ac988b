"""Scenarios: the whole lab setup as JSON, saved, shared and loaded again.

A scenario names a world (a generated pack with its seed and sizes) or an imported dataset (its
files, checked by SHA-256), the event weights, each algorithm's parameters, the retrain policy,
A/B experiments and scripted runs (autopilot, taste drift). Loading one replaces the lab with a
fresh world trained with those parameters, then creates the experiments and plays the runs;
everything is seeded, so the same scenario gives the same recommendations and the same A/B
numbers on any machine. Interactions are not part of a scenario (export the log for those).
What a scenario may say is checked by `recsys.data.scenario_schema` (`validate`, `parse`), whose
names callers may keep importing from here.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from typing import Any

from recsys.algorithms import REGISTRY, algorithm_class
from recsys.data.scenario_library import BUILTIN
from recsys.data.scenario_schema import NAME_PATTERN, PAGES, parse, validate
from recsys.errors import RecsysError
from recsys.experiments.assignment import Experiments, arm_name, parse_arm
from recsys.lifecycle.policies import Policy
from recsys.snapshots import Served
from recsys.world import generate_world

__all__ = [
    "NAME_PATTERN",
    "PAGES",
    "catalogue",
    "current",
    "dataset_meta",
    "delete",
    "dumps",
    "get",
    "load",
    "names",
    "parse",
    "save",
    "validate",
]


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
        if (changed := _changed(engine.host.config(Served(n)), cls.config_class().to_dict()))
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
    engine,
    setup: dict[str, Any],
    progress: Callable[[float, str], None] | None = None,
    *,
    bulk: bool = True,
) -> dict[str, Any]:
    """Replace the lab with the scenario's world, trained with its parameters, then set the
    policy, create its experiments and play its runs; a built-in's claims are then measured
    (`done["checks"]`, kept with the lab's scenario mark). All of it is one transaction
    (`Engine.all_or_nothing`): a bad dataset, a failed step or a crash anywhere in the load
    leaves the old lab as it was, never half a scenario. The runs play their events in bulk
    (`autopilot(..., bulk=True)`): the same events, versions, alarms and recommendations as
    playing them click by click. `bulk=False` is that click-by-click load (each event its own
    commit, each step its own transaction, as before), kept to check the bulk one against."""
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
    with engine.all_or_nothing() if bulk else contextlib.nullcontext():
        return _install(engine, setup, world, step, bulk)


def _install(engine, setup: dict[str, Any], world, step: Callable, bulk: bool) -> dict[str, Any]:
    """`load`'s steps from the world swap on."""
    from recsys.data import scenario_checks
    from recsys.experiments import simulation as ab_simulation
    from recsys.simulation import autopilot, taste_drift

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
            records = autopilot(
                engine,
                a["persona"],
                a["steps"],
                algorithm=a["algorithm"],
                seed=a["seed"],
                progress=visits,
                user=a.get("user"),
                bulk=bulk,
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
                bulk=bulk,
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
    """What `config` sets apart from `defaults` (a parameter the code no longer has is left out)."""
    return {k: v for k, v in config.items() if k in defaults and defaults[k] != v}


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
