"""Job specs from the command line: a JSON file or an example, with flags laid over it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import click

JOB_FIELDS = ("name", "dataset", "model", "training")


def read_spec_file(path: str) -> dict:
    """The JSON file `{"name"?, "dataset", "model": {...}, "training": {...}}` (the API's body)."""
    try:
        document = json.loads(Path(path).read_text())
    except OSError as error:
        raise click.BadParameter(f"cannot read {path}: {error.strerror}", param_hint="SPEC") from error
    except ValueError as error:
        raise click.BadParameter(f"{path} is not valid JSON: {error}", param_hint="SPEC") from error
    if not isinstance(document, dict):
        raise click.BadParameter(f"{path} must hold a JSON object with dataset, model and training",
                                 param_hint="SPEC")
    unknown = sorted(set(document) - set(JOB_FIELDS))
    if unknown:
        raise click.BadParameter(f"{path}: unknown top-level fields {unknown}; allowed: "
                                 f"{', '.join(JOB_FIELDS)}", param_hint="SPEC")
    return document


def parse_layers(text: str) -> list[dict]:
    """`256:relu,128:relu:0.2,10:softmax` -> layers (units:activation[:dropout])."""
    layers = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        pieces = item.split(":")
        if len(pieces) not in (2, 3):
            raise click.BadParameter(f"{item!r} is not UNITS:ACTIVATION[:DROPOUT], e.g. 128:relu",
                                     param_hint="--layers")
        try:
            layer = {"units": int(pieces[0]), "activation": pieces[1]}
            if len(pieces) == 3:
                layer["dropout"] = float(pieces[2])
        except ValueError as error:
            raise click.BadParameter(f"{item!r}: {error}", param_hint="--layers") from error
        layers.append(layer)
    if not layers:
        raise click.BadParameter("give at least one layer, e.g. 128:relu,10:softmax", param_hint="--layers")
    return layers


def apply_overrides(spec: dict, *, name=None, dataset=None, layers=None, task=None, loss=None,
                    optimizer=None, lr=None, epochs=None, batch_size=None, validation_split=None,
                    seed=None) -> dict:
    """A copy of `spec` with every flag that was given laid over it."""
    spec = copy.deepcopy(spec)
    if name is not None:
        spec["name"] = name
    if dataset is not None:
        spec["dataset"] = dataset
    if layers is not None:
        spec.setdefault("model", {})["layers"] = parse_layers(layers)
    for key, value in {"task": task, "loss": loss}.items():
        if value is not None:
            spec.setdefault("model", {})[key] = value
    training = spec.setdefault("training", {})
    if optimizer is not None:
        previous = training.get("optimizer") or {}
        kept = {"learning_rate": previous["learning_rate"]} if "learning_rate" in previous else {}
        training["optimizer"] = {"name": optimizer, **kept}
    if lr is not None:
        training.setdefault("optimizer", {"name": "adam"})["learning_rate"] = lr
    for key, value in {"epochs": epochs, "batch_size": batch_size,
                       "validation_split": validation_split, "seed": seed}.items():
        if value is not None:
            training[key] = value
    if not training:
        del spec["training"]
    return spec
