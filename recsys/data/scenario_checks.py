"""The built-in scenarios' claims, checked on the loaded lab.

Each claim (`scenario_library.CLAIMS`) names a measure of `recsys.data.scenario_measures`: a
function that reads one number from the lab and returns it with a short note saying what it saw.
A check compares the number with the claim's threshold; the checks made right after a load are
kept with the lab's scenario mark. Nothing here writes to the lab but that mark.

>>> holds(">=", 8, 8), holds("<", 0.05, 0.2)
(True, False)
"""

from __future__ import annotations

import json
import operator
import time
from collections.abc import Callable
from typing import Any

from recsys.data.scenario_library import CLAIMS, Claim
from recsys.data.scenario_measures import MEASURES, Measured, turn
from recsys.errors import RecsysError

__all__ = [
    "MEASURES",
    "META_KEY",
    "OPS",
    "check",
    "claims",
    "holds",
    "line",
    "reading",
    "run",
    "store",
    "stored",
    "turn",
]

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
SYMBOLS = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "="}
META_KEY = "scenario_checks"  # the checks run right after a load, stored with the scenario mark


def claims(name: str | None) -> tuple[Claim, ...]:
    """The claims of a built-in scenario (none for a saved one)."""
    return CLAIMS.get(name or "", ())


def holds(op: str, threshold: float, value: float | None) -> bool:
    return value is not None and bool(OPS[op](value, threshold))


def check(engine, claim: Claim) -> dict[str, Any]:
    """Measure one claim on the lab: the claim, the number, the threshold and the verdict."""
    started = time.perf_counter()
    try:
        got = MEASURES[claim.measure](engine, **claim.args)
    except RecsysError as error:  # e.g. the experiment the claim reads is not in the lab
        got = Measured(None, f"not measured: {error}")
    value = None if got.value is None else float(got.value)
    return {
        "claim": claim.text,
        "measured": value,
        "op": claim.op,
        "threshold": claim.threshold,
        "passed": holds(claim.op, claim.threshold, value),
        "note": got.note,
        "reading": reading(claim, value),
        "seconds": round(time.perf_counter() - started, 2),
    }


def run(engine, name: str | None) -> list[dict[str, Any]]:
    """Every claim of scenario `name`, measured on the lab as it is now."""
    return [check(engine, claim) for claim in claims(name)]


def reading(claim: Claim, value: float | None) -> str:
    """`measured 10 of 10, needs ≥ 8 of 10`"""
    needs = f"needs {SYMBOLS[claim.op]} {claim.fmt.format(claim.threshold)}"
    if value is None:
        return f"not measured, {needs}"
    return f"measured {claim.fmt.format(value)}, {needs}"


def line(result: dict[str, Any]) -> str:
    """One result as a line of text: verdict, claim, reading and note."""
    verdict = "holds" if result["passed"] else "FAILS"
    note = f" ({result['note']})" if result["note"] else ""
    return f"{verdict}: {result['claim']}: {result['reading']}{note}"


def store(engine, name: str, results: list[dict[str, Any]]) -> None:
    """Keep the checks of a load with the lab's scenario mark (a new world drops them)."""
    value = json.dumps({"scenario": name, "seq": engine.last_seq, "results": results})
    engine.store.set_meta(META_KEY, value)
    engine.meta[META_KEY] = value


def stored(engine) -> dict[str, Any] | None:
    """The checks made when the lab's scenario was loaded, if it has claims."""
    text = engine.meta.get(META_KEY)
    if not text:
        return None
    checks = json.loads(text)
    return checks if checks.get("scenario") == engine.meta.get("scenario") else None
