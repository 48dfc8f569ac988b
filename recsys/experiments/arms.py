"""An experiment arm as a person writes it, resolved: which algorithm and stored version an arm
spec names (`mf`, `mf@v3`, `v3` when one algorithm alone has a v3), and the arm's name."""

from __future__ import annotations

from typing import Any

from recsys.algorithms import algorithm_class
from recsys.errors import RecsysError


def resolve(spec: dict[str, Any], versions: dict[tuple[str, int], int]) -> tuple[str, int | None]:
    """The (algorithm, version key) a parsed arm spec names; `versions` maps (algorithm,
    number) -> key (`VersionStore.version_catalog`). RecsysError for an unknown or an
    ambiguous version (`v3` that several algorithms have)."""
    number = spec["version"]
    if number is None:
        return algorithm_class(spec["algorithm"]).name, None
    if spec["algorithm"] is not None:
        name = algorithm_class(spec["algorithm"]).name
        if (name, number) not in versions:
            have = sorted(n for a, n in versions if a == name)
            listed = ", ".join(f"v{n}" for n in have) or "none"
            raise RecsysError(f"unknown version {name}@v{number}; {name} has {listed}")
        return name, versions[(name, number)]
    owners = sorted(a for a, n in versions if n == number)
    if not owners:
        raise RecsysError(f"unknown version v{number}: no algorithm has one")
    if len(owners) > 1:
        raise RecsysError(
            f"v{number} is ambiguous: {', '.join(owners)} each have one; "
            f"write {owners[0]}@v{number}"
        )
    return owners[0], versions[(owners[0], number)]


def arm_name(arm: dict[str, Any]) -> str:
    if arm.get("name"):
        return arm["name"]
    if arm["config"]:
        return arm["spec"]
    if arm["version"]:  # as it was written: v3 or mf@v3
        return f"{arm['algorithm']}@v{arm['version']}" if arm["algorithm"] else f"v{arm['version']}"
    return arm["algorithm"]
