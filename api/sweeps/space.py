"""A sweep's search space: spec paths like `model.layers[0].units`, and the grid or random runs.

A path names one value in a job body, e.g. `training.optimizer.learning_rate` or
`model.layers[1].activation`. Each parameter is either a list of `values` or a range
(`min`, `max`, optionally `log` and, for a grid, `count` points). `expand` turns the
parameters into configurations — one dict of path -> value each, duplicates dropped — and
`apply` writes one configuration into a copy of the base body.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import random
import re

_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")
_INDEX = re.compile(r"\[(\d+)\]")
# Random search stops drawing after this many draws per wanted configuration: a space with
# fewer distinct points than asked for (a few discrete values) then ends with what it found.
DRAWS_PER_RUN = 20


class SpaceError(ValueError):
    """A parameter that cannot be used, with the field path it concerns."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


def parse_path(path: str) -> list[str | int]:
    """`model.layers[0].units` -> ["model", "layers", 0, "units"]; SpaceError if malformed."""
    steps: list[str | int] = []
    for part in path.split("."):
        match = _STEP.fullmatch(part)
        if match is None:
            raise SpaceError(path, "must be dot-separated names with optional [index], "
                                   "like model.layers[0].units")
        steps.append(match.group(1))
        steps.extend(int(index) for index in _INDEX.findall(match.group(2)))
    return steps


def lookup(body: object, steps: list[str | int]) -> tuple[bool, object]:
    """(True, value) when `steps` leads to a value in `body`, else (False, None)."""
    node = body
    for step in steps:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return False, None
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return False, None
            node = node[step]
    return True, node


def apply(base: dict, config: dict[str, object]) -> dict:
    """A deep copy of `base` with each path of `config` set, creating missing objects on the
    way (a default the user did not write, such as `training.optimizer`); list items must exist."""
    body = copy.deepcopy(base)
    for path, value in config.items():
        steps = parse_path(path)
        node = body
        for step, following in zip(steps, steps[1:], strict=False):
            if isinstance(step, int):
                node = node[step]
            else:
                node = node.setdefault(step, [] if isinstance(following, int) else {})
        node[steps[-1]] = value
    return body


def _grid_values(path: str, parameter: dict, kind: type) -> list:
    if "values" in parameter:
        return list(parameter["values"])
    if "count" not in parameter:
        raise SpaceError(path, "a grid needs `values`, or `min`, `max` and `count`")
    low, high, count = parameter["min"], parameter["max"], parameter["count"]
    if count == 1:
        return [_cast(low, kind)]
    if parameter.get("log"):
        points = [math.exp(math.log(low) + i * (math.log(high) - math.log(low)) / (count - 1))
                  for i in range(count)]
    else:
        points = [low + i * (high - low) / (count - 1) for i in range(count)]
    return [_cast(point, kind) for point in points]


def _draw(parameter: dict, kind: type, rng: random.Random):
    if "values" in parameter:
        return rng.choice(parameter["values"])
    low, high = parameter["min"], parameter["max"]
    if parameter.get("log"):
        point = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        point = rng.uniform(low, high)
    return min(max(_cast(point, kind), low), high)


def _cast(value: float, kind: type):
    # Integer settings (units, batch size) stay integers; rounding may not leave the range.
    return int(round(value)) if kind is int else float(value)


def _key(config: dict) -> str:
    return json.dumps(config, sort_keys=True)


def expand(parameters: dict[str, dict], kinds: dict[str, type], *, method: str,
           max_configs: int, seed: int = 0) -> list[dict[str, object]]:
    """Configurations (path -> value), each distinct, in generation order.

    `kinds` gives each path's value type (int or float) for ranges. A grid is the
    Cartesian product in the order the parameters were given; random search draws
    up to `max_configs` distinct points with a seeded generator, so the same body gives
    the same runs.
    """
    seen: dict[str, dict] = {}
    paths = list(parameters)
    if method == "grid":
        axes = [_grid_values(path, parameters[path], kinds[path]) for path in paths]
        for values in itertools.product(*axes):
            config = dict(zip(paths, values, strict=True))
            seen.setdefault(_key(config), config)
        return list(seen.values())
    rng = random.Random(seed)
    for _ in range(max_configs * DRAWS_PER_RUN):
        if len(seen) >= max_configs:
            break
        config = {path: _draw(parameters[path], kinds[path], rng) for path in paths}
        seen.setdefault(_key(config), config)
    return list(seen.values())
