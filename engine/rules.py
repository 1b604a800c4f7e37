"""Checking JSON-like values against rules declared as data; the machinery behind spec.py."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

REQUIRED = object()  # a field with no default
OPTIONAL = object()  # a field left out of the result when absent
INVALID = object()  # a value that failed its own rule: cross-field rules skip it


@dataclass(frozen=True)
class Violation:
    """One broken rule: `path` is relative to the spec (`layers[2].activation`)."""

    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(ValueError):
    """A spec or config broke one or more rules; `.violations` lists every one."""

    def __init__(self, violations: list[Violation]):
        self.violations = list(violations)
        super().__init__("; ".join(str(violation) for violation in self.violations))


@dataclass(frozen=True)
class Rule:
    """How one scalar field is checked: its kind, bounds, allowed names and default."""

    kind: str  # "integer" | "number" | "boolean" | "name"
    default: object = REQUIRED
    minimum: float | None = None  # value >= minimum
    above: float | None = None  # value > above
    maximum: float | None = None  # value <= maximum
    below: float | None = None  # value < below
    choices: Mapping | tuple | None = None  # allowed names (a registry's keys)
    what: str = "value"  # what a name is, for messages: "activation", "loss"


def defaults(rules: Mapping[str, Rule]) -> dict:
    return {
        key: rule.default
        for key, rule in rules.items()
        if rule.default is not REQUIRED and rule.default is not OPTIONAL
    }



def join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, numbers.Integral):
        return "integer"
    if isinstance(value, numbers.Real):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _convert(value: object, kind: str) -> object:
    """`value` as a plain Python value of `kind`, or INVALID when it is of another type."""
    if isinstance(value, bool):  # bool is an int subclass, but never a number here
        return value if kind == "boolean" else INVALID
    if kind == "integer" and isinstance(value, numbers.Integral):
        return int(value)
    if kind == "number" and isinstance(value, numbers.Real):
        return float(value)
    if kind == "name" and isinstance(value, str):
        return value
    return INVALID


_KIND_NAMES = {"integer": "an integer", "number": "a number", "boolean": "true or false",
               "name": "a string"}


def _bounds_broken(value: float, rule: Rule) -> list[str]:
    checks = [(rule.minimum, ">=", value >= (rule.minimum or 0)),
              (rule.above, ">", value > (rule.above or 0)),
              (rule.maximum, "<=", value <= (rule.maximum or 0)),
              (rule.below, "<", value < (rule.below or 0))]
    conditions = [f"{op} {bound:g}" for bound, op, _ in checks if bound is not None]
    broken = any(bound is not None and not ok for bound, _, ok in checks)
    return conditions if broken else []


def check_value(value: object, rule: Rule, path: str, violations: list) -> object:
    converted = _convert(value, rule.kind)
    if converted is INVALID:
        violations.append(Violation(path, "type", f"must be {_KIND_NAMES[rule.kind]}, got {json_type(value)}"))
        return INVALID
    if rule.kind == "number" and not math.isfinite(converted):
        violations.append(Violation(path, "finite", f"must be a finite number, got {converted}"))
        return INVALID
    if rule.kind in ("integer", "number"):
        conditions = _bounds_broken(converted, rule)
        if conditions:
            violations.append(Violation(path, "range", f"must be {' and '.join(conditions)}, got {converted:g}"))
            return INVALID
    if rule.choices is not None and converted not in rule.choices:
        allowed = ", ".join(rule.choices)
        violations.append(Violation(path, "choice", f"{converted!r} is not a known {rule.what}; choose one of: {allowed}"))
        return INVALID
    return converted


def check_object(obj: object, rules: Mapping[str, Rule], path: str, violations: list,
                  *, nested: tuple[str, ...] = (), what: str = "") -> dict | None:
    """Check `obj` field by field against `rules`; the result has every default filled.

    `nested` names keys checked elsewhere (copied through unchecked). Returns None when
    `obj` is not an object at all.
    """
    if not isinstance(obj, Mapping):
        violations.append(Violation(path, "type", f"must be an object, got {json_type(obj)}"))
        return None
    allowed = [*nested, *rules]
    for key in obj:
        if key not in allowed:
            owner = f" of {what}" if what else ""
            violations.append(Violation(join(path, key), "unknown_key",
                                        f"unknown field {key!r}{owner}; allowed fields: {', '.join(allowed)}"))
    result = {key: obj[key] for key in nested if key in obj}
    for key, rule in rules.items():
        if key in obj:
            result[key] = check_value(obj[key], rule, join(path, key), violations)
        elif rule.default is REQUIRED:
            violations.append(Violation(join(path, key), "required", f"{key} is required"))
            result[key] = INVALID
        elif rule.default is not OPTIONAL:
            result[key] = rule.default
    return result
