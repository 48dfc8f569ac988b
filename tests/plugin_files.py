"""Plugin files for the tests: the example, broken variants of it, and registry cleanup."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.algorithms import ABSENT, REGISTRY

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "plugins" / "example_plugin.py"


def example_text(name: str = "neighbours") -> str:
    return EXAMPLE.read_text().replace('name = "neighbours"', f"name = {name!r}")


def write(folder: Path, filename: str, text: str) -> Path:
    path = folder / filename
    path.write_text(text)
    return path


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of `path` holding `needle`."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def broken(folder: Path, how: str) -> tuple[Path, int]:
    """A copy of the example broken `how`, and the line the error must name."""
    text = example_text()
    if how == "syntax error":
        text = text.replace("    def fit(self, events):", "    def fit(self, events)")
        needle = "def fit(self, events)"
    elif how == "missing dependency":
        text = text.replace("import numpy as np", "import numpy as np\nimport no_such_lib_xyz")
        needle = "import no_such_lib_xyz"
    else:  # an exception in its constructor
        text = text.replace(
            "        self.shrink = config.shrink",
            "        self.shrink = config.shrink\n        raise RuntimeError('no GPU here')",
        )
        needle = "raise RuntimeError"
    path = write(folder, f"broken_{how.replace(' ', '_')}.py", text)
    return path, line_of(path, needle)


@pytest.fixture
def clean_registry():
    """The registry (and the absent plugins) as they were before the test."""
    before, absent = dict(REGISTRY), set(ABSENT)
    yield
    REGISTRY.clear()
    REGISTRY.update(before)
    ABSENT.clear()
    ABSENT.update(absent)
