"""What a job's `dataset` may name: a built-in, or one of the caller's uploaded datasets (by id).

An uploaded dataset of another API key is refused exactly as an unknown name is, so a job body
cannot probe which ids exist (the admin key may train on every key's datasets).
"""

import marshmallow as ma
from flask import g, has_request_context

from api.core.ownership import visible
from api.core.services import services
from engine.datasets import DATASETS
from worker.store.training_data import TrainingData, describe

BUILT_INS = list(DATASETS)
SHOWN = 100  # characters of an unknown name repeated in the error
DESCRIPTION = ("a built-in dataset's name (one of " + ", ".join(BUILT_INS) + ") or the `id` of "
               "one of your uploaded datasets (GET /v1/datasets lists both)")


def training_data(reference) -> TrainingData | None:
    """The data `reference` names, when this request may train on it; else None."""
    if not isinstance(reference, str):
        return None
    # One lookup per request and name: a sweep checks each of its runs against the same data.
    found = g.setdefault("training_data", {}) if has_request_context() else {}
    if reference not in found:
        data = describe(reference, services().artifacts)
        mine = data is not None and (not data.uploaded or visible({"owner": data.owner}))
        found[reference] = data if mine else None
    return found[reference]


def unknown_dataset(reference) -> str:
    return (f"unknown dataset {str(reference)[:SHOWN]!r}: name a built-in (one of "
            f"{', '.join(BUILT_INS)}) or the id of one of your uploaded datasets "
            "(GET /v1/datasets)")


def _known(reference) -> None:
    if training_data(reference) is None:
        raise ma.ValidationError(unknown_dataset(reference))


def dataset_field(**options) -> ma.fields.String:
    """The `dataset` field of a job body. Its OpenAPI entry cannot list every key's ids: it is a
    string, and `x-builtins` lists the built-ins (which the studio reads from /v1/datasets)."""
    return ma.fields.String(
        validate=_known,
        metadata={"description": DESCRIPTION, "x-builtins": BUILT_INS}, **options)
