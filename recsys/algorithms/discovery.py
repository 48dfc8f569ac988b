"""Finding plugins and registering them beside the built-ins (docs/plugins.md).

Three places, all chosen by the user, never a URL: a `.py` file in the lab's `plugins/` folder
(beside app.py; files starting with `_` or `example` are not loaded), a file named with
`--plugin PATH` (app and CLI), and an installed package that declares an entry point in the
group `recsys_lab.algorithms` pointing at its plugin class. A plugin is code: loading it runs
it with the user's rights.

A plugin that cannot be loaded (a syntax error, a missing dependency, an exception while its
module runs or in its constructor, a name taken by another algorithm) is reported in one line
naming the file and line, and is left out: the lab works on without it.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from recsys.algorithms.base import Recommender
from recsys.algorithms.plugin import PluginError, PluginRecommender, adapt, failure, where
from recsys.algorithms.registry import REGISTRY

ENTRY_POINT_GROUP = "recsys_lab.algorithms"
PLUGIN_FOLDER = Path(__file__).resolve().parents[2] / "plugins"
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
BUILT_IN = frozenset(REGISTRY)
PROBE_ITEMS = 3  # the constructor is tried once on a catalog this small


@dataclass
class Loaded:
    """What a discovery found: the algorithm names registered and one line per problem."""

    names: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def folder_files(folder: Path = PLUGIN_FOLDER) -> list[Path]:
    """The plugin files of `folder` in name order: `*.py` not starting with `_` or `example`
    (the example is a template: name it with --plugin or copy it)."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.glob("*.py") if not p.name.startswith(("_", "example")) and p.is_file()
    )


def load_file(path: str | Path) -> list[type[Recommender]]:
    """The algorithms the Python file at `path` defines (each class with a `name` and `fit`,
    `learn_one` and `score` methods, defined in that file), adapted and probed, not yet
    registered. Raises `PluginError` (one line naming the file and line) if it cannot be
    read, imported or constructed, or defines no algorithm."""
    path = Path(path)
    source = str(path.resolve())
    if path.suffix != ".py":
        raise PluginError(f"{path}: a plugin is a Python file ending in .py")
    if not path.is_file():
        raise PluginError(f"{path}: no such plugin file")
    module_name = "recsys_plugin_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while it runs
    try:
        spec.loader.exec_module(module)
    except ImportError as error:
        sys.modules.pop(module_name, None)
        missing = f"missing dependency {error.name!r}: " if error.name else ""
        raise PluginError(f"{where(error, source)}: {missing}{error}") from error
    except SyntaxError as error:
        sys.modules.pop(module_name, None)
        raise PluginError(f"{source}:{error.lineno}: syntax error: {error.msg}") from error
    except Exception as error:  # outside code: any failure is one line
        sys.modules.pop(module_name, None)
        raise failure(error, source, "loading the file") from error
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and value.__module__ == module_name
        and all(callable(getattr(value, m, None)) for m in ("fit", "learn_one", "score"))
    ]
    if not classes:
        raise PluginError(
            f"{path}: defines no algorithm (a class with a name and fit, learn_one and score "
            "methods; see docs/plugins.md)"
        )
    return [probe(adapt(cls, source)) for cls in classes]


def load_entry_point(entry: metadata.EntryPoint) -> type[Recommender]:
    """The algorithm an installed package's entry point names, adapted and probed; raises
    `PluginError` naming the package's file and line if it fails."""
    try:
        target = entry.load()
    except Exception as error:
        source = f"entry point {entry.name} = {entry.value}"
        frames = getattr(error, "__traceback__", None)
        line = where(error, "") if frames is not None else source
        raise PluginError(f"{line}: {source} cannot be loaded: {error}") from error
    module = sys.modules.get(getattr(target, "__module__", ""), None)
    source = getattr(module, "__file__", None) or entry.value
    return probe(adapt(target, source))


def probe(cls: type[Recommender]) -> type[Recommender]:
    """`cls` once its name is checked and its plugin constructed on a tiny catalog with the
    default config (a constructor that fails should fail at load, not on a page)."""
    assert issubclass(cls, PluginRecommender)
    if not NAME.fullmatch(cls.name):
        raise PluginError(
            f"{cls.source}: the name {cls.name!r} must be lowercase letters, digits and _ "
            "(starting with a letter, at most 40)"
        )
    if cls.name in BUILT_IN:
        raise PluginError(f"{cls.source}: the name {cls.name!r} is a built-in algorithm's")
    try:
        config = cls.config_class()
    except Exception as error:
        raise failure(error, cls.source, f"{cls.name}'s default config") from error
    try:
        cls.plugin_class(config, PROBE_ITEMS, 0)
    except Exception as error:
        raise failure(error, cls.source, f"{cls.name}()") from error
    return cls


def register(cls: type[Recommender]) -> None:
    """Add `cls` to `REGISTRY` (after the built-ins); a plugin of the same name from another
    file is refused, the same file's is replaced (a reload)."""
    old = REGISTRY.get(cls.name)
    if old is not None and getattr(old, "source", None) != getattr(cls, "source", None):
        raise PluginError(
            f"{cls.source}: the algorithm name {cls.name!r} is taken (by {old.source})"
        )
    REGISTRY[cls.name] = cls


def plugin_names() -> list[str]:
    """The registered algorithms that are plugins, in registration order."""
    return [name for name, cls in REGISTRY.items() if issubclass(cls, PluginRecommender)]


def discover(
    paths: Iterable[str | Path] = (),
    folder: Path | None = PLUGIN_FOLDER,
    entry_points: bool = True,
) -> Loaded:
    """Load and register the plugins of `folder` (None: none), the files `paths` and (if
    `entry_points`) the installed packages' entry points in `ENTRY_POINT_GROUP`. A plugin
    that fails is left out and said in `problems`; the others are registered."""
    loaded = Loaded()
    files = [*(folder_files(folder) if folder is not None else []), *map(Path, paths)]
    seen: set[Path] = set()
    for path in files:
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        _take(loaded, lambda path=path: load_file(path))
    if entry_points:
        for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
            _take(loaded, lambda entry=entry: [load_entry_point(entry)])
    return loaded


def _take(loaded: Loaded, load) -> None:
    try:
        for cls in load():
            register(cls)
            loaded.names.append(cls.name)
    except PluginError as error:
        loaded.problems.append(str(error))
