"""Typed, frozen algorithm configs with bounds that validation and the UI both read.

Declare a number with `param(default, low, high, "help")`, a yes/no switch with
`flag(default, "help")` and a named option with `choice(default, choices, "help")`;
`Config.__post_init__` checks every field once, `to_dict()` / `from_dict()` round-trip through
JSON (stored with model versions).

>>> @dataclass(frozen=True)
... class Demo(Config):
...     factors: int = param(8, 2, 64, "size of the latent space")
...     warm_start: bool = flag(False, "start from the current vectors")
>>> Demo.from_dict({"factors": 16}).factors
16
>>> Demo(factors=1)
Traceback (most recent call last):
recsys.errors.RecsysError: factors must be between 2 and 64, got 1
>>> Demo.from_dict({"warm_start": 1}).to_dict()  # configs stored before flags held 0/1
{'factors': 8, 'warm_start': True}
>>> Demo(warm_start="yes")
Traceback (most recent call last):
recsys.errors.RecsysError: warm_start must be true or false (or 1/0), got 'yes'
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Self

from recsys.errors import RecsysError


def param(default: float, low: float, high: float, help: str) -> Any:
    return field(default=default, metadata={"low": low, "high": high, "help": help})


def flag(default: bool, help: str) -> Any:
    """A yes/no field (a checkbox in the UI). It accepts True/False and, for configs stored
    when such fields were 0/1 integers, 1/0 (read as True/False); `bounds()` gives False and
    True as its low and high."""
    return field(default=default, metadata={"flag": True, "help": help})


def choice(default: str, choices: tuple[str, ...], help: str) -> Any:
    """A field that takes one of a few named values (a detector, a metric)."""
    return field(default=default, metadata={"choices": choices, "help": help})


@dataclass(frozen=True)
class Config:
    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if "choices" in f.metadata:
                if value not in f.metadata["choices"]:
                    raise RecsysError(
                        f"{f.name} must be one of {', '.join(f.metadata['choices'])}, got {value!r}"
                    )
                continue
            if f.metadata.get("flag"):
                object.__setattr__(self, f.name, _flag_value(f.name, value))
                continue
            kind = type(f.default) if f.default is not MISSING else float
            if kind is int and isinstance(value, float) and value.is_integer():
                object.__setattr__(self, f.name, value := int(value))
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (kind is int and not isinstance(value, int))
            ):
                raise RecsysError(
                    f"{f.name} must be {'an integer' if kind is int else 'a number'}, got {value!r}"
                )
            low, high = f.metadata["low"], f.metadata["high"]
            # An int too big for a float (400 digits) is out of range, not an OverflowError.
            if not (low <= value <= high and math.isfinite(value)):
                got = str(value) if len(str(value)) <= 40 else str(value)[:37] + "..."
                raise RecsysError(f"{f.name} must be between {low} and {high}, got {got}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RecsysError(
                f"unknown parameter {unknown[0]!r}; known: {', '.join(sorted(known))}"
            )
        return cls(**data)

    @classmethod
    def bounds(cls) -> list[dict[str, Any]]:
        """Each field's name, default, bounds and help: what a widget or `--help` draws.

        `type` is the default's type name: "int", "float", "bool" (a flag) or "str" (a
        choice, whose `low` and `high` are None)."""
        return [
            {
                "name": f.name,
                "default": f.default,
                "low": False if f.metadata.get("flag") else f.metadata.get("low"),
                "high": True if f.metadata.get("flag") else f.metadata.get("high"),
                "choices": f.metadata.get("choices"),
                "help": f.metadata["help"],
                "type": type(f.default).__name__,
            }
            for f in fields(cls)
        ]


def _flag_value(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise RecsysError(f"{name} must be true or false (or 1/0), got {value!r}")
