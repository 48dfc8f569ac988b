"""The layout keeps the architecture readable: checks on the source of `recsys/` itself.

No import cycles, no module above 400 lines, no module reaching into another package's private
names, Streamlit only under `recsys/ui`, and one model builder.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "recsys"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _package(name: str) -> str:
    """The package a module belongs to: `recsys.store` for recsys.store.versions, `recsys`
    for the top-level modules."""
    path = MODULES[name]
    parts = name.split(".")
    return name if path.name == "__init__.py" else ".".join(parts[:-1])


def _imports(name: str) -> set[str]:
    """The recsys modules `name` imports, at any depth of its code: a function-level import
    and a type-only one (`if TYPE_CHECKING:`) are dependencies too. `from package import
    submodule` depends on the submodule only."""
    found = set()
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("recsys"):
            submodules = {f"{node.module}.{a.name}" for a in node.names} & MODULES.keys()
            found |= submodules
            if node.module in MODULES and len(submodules) < len(node.names):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names} & MODULES.keys()
    found.discard(name)
    return found


def test_no_import_cycles():
    graph = {name: _imports(name) for name in MODULES}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


# The map of the code (README, CONTRIBUTING), top to bottom: a module imports its own layer and
# the layers below it, never one above.
LAYERS = (
    "recsys.__main__ recsys.cli",
    "recsys.bench",
    "recsys.ui",
    "recsys.tour",
    "recsys.data",
    "recsys.simulation",
    "recsys.engine recsys.labwide",
    "recsys.lifecycle",
    "recsys.hosting",
    "recsys.snapshots",
    "recsys.experiments",
    "recsys.evaluation",
    "recsys.store",
    "recsys.ranking",
    "recsys.algorithms",
    "recsys.world",
    "recsys.choice",
    "recsys.events",
    "recsys.errors",
)


def _layer(name: str) -> int:
    for depth, layer in enumerate(LAYERS):
        if any(name == top or name.startswith(top + ".") for top in layer.split()):
            return depth
    raise AssertionError(f"{name} is in no layer of LAYERS: add it to the map of the code")


def test_imports_point_down_the_map_of_the_code():
    upward = [
        f"{name} imports {target}"
        for name in MODULES
        if name != "recsys"
        for target in sorted(_imports(name))
        if target != "recsys" and _layer(target) < _layer(name)
    ]
    assert not upward, "imports against the map of the code:\n" + "\n".join(upward)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(ROOT)} has {lines} lines"


def _private_definitions() -> dict[str, set[str]]:
    """Per package, the private names its modules define: functions, classes, and attributes
    assigned on `self`/`cls`."""
    defined: dict[str, set[str]] = defaultdict(set)
    for name, tree in TREES.items():
        package = _package(name)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defined[package].add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                defined[package].add(node.attr)
            elif isinstance(node, ast.AnnAssign | ast.Assign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                defined[package] |= {t.id for t in targets if isinstance(t, ast.Name)}
    return defined


def test_no_package_uses_another_packages_private_names():
    defined = _private_definitions()
    offences = []
    for name, tree in TREES.items():
        own = defined[_package(name)]
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or attr.startswith("__") or attr in own:
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if any(attr in names for names in defined.values()):
                offences.append(f"{MODULES[name].relative_to(ROOT)}:{node.lineno}: .{attr}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in MODULES:
                if _package(node.module) == _package(name):
                    continue
                offences += [
                    f"{MODULES[name].relative_to(ROOT)}:{node.lineno}: imports {a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    assert not offences, "private names used across packages:\n" + "\n".join(offences)


def _imported_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    return []


def test_streamlit_only_under_ui():
    outside = [
        str(MODULES[name].relative_to(ROOT))
        for name, tree in TREES.items()
        if not name.startswith("recsys.ui")
        for node in ast.walk(tree)
        if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("streamlit"))
        or (
            isinstance(node, ast.Import) and any(a.name.startswith("streamlit") for a in node.names)
        )
    ]
    assert not outside, f"streamlit imported outside recsys/ui: {sorted(set(outside))}"


def _class_lookups(tree: ast.AST) -> set[str]:
    """Names bound to an algorithm class: `cls = REGISTRY[name]`, `cls = algorithm_class(name)`."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            value = node.value
            lookup = (
                isinstance(value, ast.Subscript) and getattr(value.value, "id", "") == "REGISTRY"
            ) or (
                isinstance(value, ast.Call) and getattr(value.func, "id", "") == "algorithm_class"
            )
            if lookup:
                found.add(node.targets[0].id)
    return found


def test_models_are_built_in_one_place():
    """Only `algorithms/build.py` (and a blend building its own private components) constructs
    a model or validates a config: everything else calls `build_model` / `validate_config`.
    Attaching live components is the host's and time travel's job."""
    offences = []
    for name, tree in TREES.items():
        if name.startswith("recsys.algorithms"):
            continue
        classes = _class_lookups(tree)
        for node in ast.walk(tree):
            func = node.func if isinstance(node, ast.Call) else None
            constructs = func is not None and (
                (isinstance(func, ast.Subscript) and getattr(func.value, "id", "") == "REGISTRY")
                or (isinstance(func, ast.Name) and func.id in classes)
                or (
                    isinstance(func, ast.Call) and getattr(func.func, "id", "") == "algorithm_class"
                )
            )
            validates = (
                isinstance(node, ast.Attribute)
                and node.attr == "from_dict"
                and getattr(node.value, "attr", "") == "config_class"
            )
            attaches = (
                isinstance(node, ast.Attribute)
                and node.attr == "attach"
                and name not in ("recsys.hosting", "recsys.lifecycle.timetravel")
            )
            if constructs or validates or attaches:
                offences.append(f"{MODULES[name].relative_to(ROOT)}:{node.lineno}")
    assert not offences, "models built or configs validated outside build.py:\n" + "\n".join(
        offences
    )


# Streamlit's chart elements. Only a plotly chart has a toolbar whose camera can save a slide,
# and only `recsys.ui.charts.draw_chart` gives it the slide size and the sidebar's format.
CHART_ELEMENTS = {
    "plotly_chart",
    "altair_chart",
    "vega_lite_chart",
    "bar_chart",
    "line_chart",
    "area_chart",
    "scatter_chart",
    "pyplot",
    "bokeh_chart",
}


def test_every_chart_is_drawn_by_draw_chart():
    """No chart drawn another way (`st.plotly_chart`, `column.bar_chart(...)`) in recsys/, the
    pages or app.py: it would miss the slide download."""
    sources = {str(p.relative_to(ROOT)): ast.parse(p.read_text()) for p in ROOT.glob("views/*.py")}
    sources["app.py"] = ast.parse((ROOT / "app.py").read_text())
    sources |= {str(MODULES[name].relative_to(ROOT)): tree for name, tree in TREES.items()}
    (drawer,) = [
        node
        for node in ast.walk(TREES["recsys.ui.charts"])
        if isinstance(node, ast.FunctionDef) and node.name == "draw_chart"
    ]
    allowed = {id(node) for node in ast.walk(drawer)}
    offences = [
        f"{path}:{node.lineno}: .{node.func.attr}(...)"
        for path, tree in sources.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CHART_ELEMENTS
        and id(node) not in allowed
    ]
    assert len(allowed) > 1 and not offences, "charts drawn without draw_chart:\n" + "\n".join(
        offences
    )
