"""The rules a saved table preprocessing's values obey, each failure naming its key."""

from __future__ import annotations

import math


def keys(value, where: str, expected: set[str]) -> None:
    """`value` is a dict with exactly the `expected` keys."""
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object")
    missing, extra = sorted(expected - set(value)), sorted(set(value) - expected)
    if missing:
        raise ValueError(f"{where}.{missing[0]} is missing")
    if extra:
        raise ValueError(f"{where}.{extra[0]} is not a known key "
                         f"(expected {', '.join(sorted(expected))})")


def name(value: dict, where: str) -> str:
    """value["name"]: a non-empty string."""
    text = value["name"]
    if not isinstance(text, str) or not text:
        raise ValueError(f"{where}.name must be a non-empty string")
    return text


def finite(value: dict, key: str, where: str, positive: bool = False) -> float:
    """value[key]: a finite JSON number (> 0 when `positive`)."""
    number = value[key]
    if (isinstance(number, bool) or not isinstance(number, int | float)
            or not math.isfinite(number) or (positive and number <= 0)):
        rule = "a finite number > 0" if positive else "a finite number"
        raise ValueError(f"{where}.{key} must be {rule}, got {number!r}")
    return float(number)


def distinct_names(values, where: str, least: int) -> tuple[str, ...]:
    """A list of at least `least` strings, none twice."""
    if (not isinstance(values, list) or len(values) < least
            or not all(isinstance(value, str) for value in values)):
        raise ValueError(f"{where} must be a list of at least {least} strings")
    if len(set(values)) != len(values):
        raise ValueError(f"{where} holds a name twice")
    return tuple(values)
