"""The built-in datasets as records of the same shape as an uploaded one (id = the name, no owner)."""

from __future__ import annotations

import functools

from api.datasets import stats
from engine import datasets, table_datasets
from engine.datasets import DATASETS
from engine.tables import CLASSIFICATION, NUMERIC

BUILT_IN = {"sha256": None, "size_bytes": None, "created_at": None, "owner": None}


def summary(info) -> dict:
    """The listing's fields of a built-in."""
    regression = info.task != CLASSIFICATION
    return {"id": info.name, "name": info.name, "kind": info.kind, "task": info.task,
            "target": info.target, "input_size": info.input_size,
            "image_shape": list(info.image_shape) if info.image_shape else None,
            "num_classes": None if regression else info.num_classes,
            "classes": None if regression else list(info.classes),
            "train_size": info.train_size, "test_size": info.test_size,
            "source": info.source or None, "licence": info.licence or None, **BUILT_IN}


@functools.cache
def detail(name: str) -> dict:
    """Everything GET /v1/datasets/{name} says of a built-in; tables with their statistics."""
    info = DATASETS[name]
    record = summary(info)
    if info.kind != "table":
        return record
    columns, targets = table_datasets.read_raw(info)
    preprocessing = datasets.preprocessing_for(name)
    (_, y_train), (_, y_test) = datasets.load(name)
    raw = {**columns, info.target: targets}
    record.update(
        feature_names=preprocessing.feature_names,
        features=[stats.describe(column, NUMERIC, columns[column]) for column in info.feature_names],
        target_stats=None if info.task == CLASSIFICATION else stats.numeric_stats(targets),
        class_balance=(stats.class_balance(list(info.classes), {"train": y_train, "test": y_test})
                       if info.task == CLASSIFICATION else None),
        preview=stats.preview(raw), rows_dropped=0, file_name=None, format="csv", delimiter=None,
        test_file=None, options={"target": info.target, "task": info.task,
                                 "test_fraction": table_datasets.TEST_FRACTION,
                                 "seed": table_datasets.SPLIT_SEED, "missing": None},
        preprocessing=preprocessing.to_dict())
    return record
