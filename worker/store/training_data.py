"""What a job trains on, described alike for a built-in dataset and an uploaded table (TrainingData).

A job's `dataset` names a built-in (`mnist`, `iris`, ...) or an uploaded dataset's id. The API
checks a spec against the description when the job is submitted, the worker loads the arrays
from it, and the model keeps its name, SHA-256, classes and preprocessing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from engine import data_advice, datasets
from engine.datasets import DatasetInfo, DatasetUnavailable
from engine.tasks import CLASSIFICATION, REGRESSION, TargetScale
from worker.store.datasets import DatasetNotFound
from worker.store.ids import is_valid_id


class DatasetDeleted(LookupError):
    """The uploaded dataset a job names is gone: deleted after the job was submitted."""

    def __init__(self, dataset_id: str):
        super().__init__(f"dataset {dataset_id} was deleted after the job was submitted; "
                         "upload the table again and submit a job naming the new id")


@dataclass(frozen=True)
class TrainingData:
    """A dataset as jobs, plans and models see it."""

    id: str  # what a job's `dataset` names: a built-in's name or an uploaded dataset's id
    name: str  # for people: a built-in's name, an upload's `name`
    task: str  # the dataset's own task: classification or regression
    input_size: int
    classes: tuple[str, ...]  # class names by label; () for regression
    train_size: int
    sha256: str | None  # of the uploaded file; None for built-ins
    preprocessing: dict | None  # a table's (engine.tables), which its models' manifests keep
    owner: str | None = None
    uploaded: bool = False
    profile: dict | None = None  # a table's training-data profile for the plan's warnings

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def spec_context(self) -> dict:
        """What the engine's spec checks and plan know of the data (every table has one target
        column, so a regression network has one output unit, on class indexes too)."""
        return {"input_size": self.input_size, "num_classes": self.num_classes or None,
                "num_targets": 1, "dataset_task": self.task}

    def job_fields(self) -> dict:
        """What a job and its model record of the data."""
        return {"dataset": self.id, "dataset_name": self.name, "dataset_sha256": self.sha256}

    def target_scale(self, model_task: str) -> TargetScale | None:
        """A regression network's target scale: the standardisation of a regression table's
        target (None for class indexes regressed on, which are trained as they are)."""
        if model_task != REGRESSION:
            return None
        return TargetScale.of_preprocessing(self.preprocessing)

    def model_manifest(self, model_task: str) -> dict:
        """The `classes` and `preprocessing` a model of `model_task` trained on the data is saved
        with (preprocessing None: engine.serialization derives it from the built-in's name)."""
        classes = list(self.classes) if model_task == CLASSIFICATION else []
        return {"classes": classes, "preprocessing": self.preprocessing}


@functools.cache
def builtin(name: str) -> TrainingData:
    """A built-in dataset's description (tables read their packaged files once per process)."""
    info: DatasetInfo = datasets.DATASETS[name]
    table = datasets.preprocessing_for(name)
    profile = None
    if table is not None:  # a few hundred rows, already in memory
        (X, y), _ = datasets.load(name)
        profile = data_advice.profile(X, y if info.task == CLASSIFICATION else None,
                                      feature_names=table.feature_names, classes=table.classes)
    return TrainingData(
        id=name, name=name, task=info.task, input_size=info.input_size,
        classes=tuple(info.classes) if info.task == CLASSIFICATION else (),
        train_size=info.train_size, sha256=None,
        preprocessing=table.to_dict() if table is not None else None,
        profile=profile)


def uploaded(record: dict) -> TrainingData:
    """An uploaded dataset's description, from its record (worker.store.datasets)."""
    return TrainingData(
        id=record["id"], name=record.get("name") or record["id"], task=record["task"],
        input_size=int(record["input_size"]), classes=tuple(record.get("classes") or ()),
        train_size=int(record["train_size"]), sha256=record.get("sha256"),
        preprocessing=record.get("preprocessing"), owner=record.get("owner"), uploaded=True,
        profile=record.get("profile"))


def describe(reference, artifacts) -> TrainingData | None:
    """The data a job's `dataset` names: a built-in, or an uploaded dataset in `artifacts`
    (whoever owns it); None when there is no such dataset."""
    if not isinstance(reference, str):
        return None
    if reference in datasets.DATASETS:
        return builtin(reference)
    if not is_valid_id(reference):
        return None
    record = artifacts.get_dataset(reference)
    return None if record is None else uploaded(record)


def require(reference: str, artifacts) -> TrainingData:
    """`describe` for the worker: DatasetDeleted for a well-formed id with no dataset behind it,
    DatasetUnavailable for a name that is neither a built-in nor an id."""
    data = describe(reference, artifacts)
    if data is not None:
        return data
    if is_valid_id(reference):
        raise DatasetDeleted(reference)
    raise DatasetUnavailable(f"unknown dataset {reference!r}; known datasets: "
                             f"{', '.join(datasets.DATASETS)}, or an uploaded dataset's id")


def load(data: TrainingData, artifacts, data_dir=None):
    """((X_train, y_train), (X_test, y_test)): a built-in's as engine.datasets loads it, an
    uploaded one's verified arrays from the artifact store. DatasetDeleted when it is gone;
    worker.store.datasets.DatasetFileError when its files are damaged."""
    if not data.uploaded:
        return datasets.load(data.id, data_dir)
    try:
        arrays = artifacts.load_dataset_arrays(data.id)
    except DatasetNotFound:
        raise DatasetDeleted(data.id) from None
    return (arrays["X_train"], arrays["y_train"]), (arrays["X_test"], arrays["y_test"])
