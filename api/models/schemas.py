"""A stored model's schemas: its record, what input it takes, listing and download arguments."""

import marshmallow as ma

from api.specs.schemas import STOP_REASONS, EpochMetricsSchema, JobSpecSchema, timestamp
from engine.datasets import DATASETS
from engine.serialization import MODEL_FILES
from worker.store.artifacts import DAMAGED, READY


class EvaluationSchema(ma.Schema):
    """The model scored on the dataset's test split."""

    accuracy = ma.fields.Float()
    loss = ma.fields.Float()
    confusion_matrix = ma.fields.List(ma.fields.List(ma.fields.Integer()),
                                      metadata={"description": "rows: true class, columns: predicted"})
    precision = ma.fields.List(ma.fields.Float(allow_none=True), metadata={"description": "per class"})
    recall = ma.fields.List(ma.fields.Float(allow_none=True), metadata={"description": "per class"})


INPUT_KINDS = ("image", "vector")


def model_input(model):
    """What a model takes: {"kind": "image", "size": 784, "shape": [28, 28]} for the image
    datasets (so also PNG/JPEG files and drawings), {"kind": "vector", "size": 2, "shape": [2]}
    for the others (the truth tables)."""
    info = DATASETS.get(model.get("dataset"))
    size = ((model.get("spec") or {}).get("model") or {}).get("input_size") or (info and info.input_size)
    shape = info.image_shape if info else None
    return {"kind": "image" if shape else "vector", "size": size,
            "shape": list(shape) if shape else [size]}


class ModelInputSchema(ma.Schema):
    kind = ma.fields.String(metadata={"enum": list(INPUT_KINDS), "description":
                                      "image: the draw panel and image uploads apply"})
    size = ma.fields.Integer(allow_none=True, metadata={"description": "numbers per input"})
    shape = ma.fields.List(ma.fields.Integer(allow_none=True))


class ModelSchema(ma.Schema):
    """A trained model stored in the artifact store."""

    input = ma.fields.Nested(ModelInputSchema, metadata={"description": "what the model takes"})

    id = ma.fields.String()
    job_id = ma.fields.String(allow_none=True)
    name = ma.fields.String()
    dataset = ma.fields.String()
    owner = ma.fields.String(allow_none=True)
    spec = ma.fields.Nested(JobSpecSchema)
    metrics = ma.fields.List(ma.fields.Nested(EpochMetricsSchema))
    evaluation = ma.fields.Nested(EvaluationSchema, allow_none=True)
    stop_reason = ma.fields.String(allow_none=True, metadata={
        "enum": [*STOP_REASONS, None], "description": "why training ended (null: saved before "
        "stop reasons were recorded)"})
    size_bytes = ma.fields.Integer()
    status = ma.fields.String(metadata={
        "enum": [READY, DAMAGED],
        "description": "damaged: its files are unreadable; it can only be deleted"})
    created_at = timestamp("when the model was saved")

    @ma.pre_dump
    def _with_input(self, model, **kwargs):
        return {**model, "input": model_input(model)}


class ModelListArgsSchema(ma.Schema):
    dataset = ma.fields.String(validate=ma.validate.OneOf(list(DATASETS)),
                               metadata={"description": "only models trained on this dataset"})
    input = ma.fields.String(validate=ma.validate.OneOf(INPUT_KINDS), metadata={
        "description": "only models taking this kind of input (`latest?input=image`: the newest "
                       "model a drawing can go to)"})


DOWNLOAD_FILES = tuple(MODEL_FILES)  # ?file= takes a model file's short name


class DownloadArgsSchema(ma.Schema):
    file = ma.fields.String(validate=ma.validate.OneOf(DOWNLOAD_FILES), metadata={
        "description": "one file only: "
                       + " or ".join(f"{name} ({file})" for name, file in MODEL_FILES.items())
                       + "; without it, a zip of both"})
