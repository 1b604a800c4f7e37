"""A stored model's schemas: its record, what input it takes, listing, download and prediction."""

import marshmallow as ma

from api.specs.schemas import EpochMetricsSchema, JobSpecSchema, timestamp
from engine.datasets import DATASETS
from engine.serialization import MODEL_FILES
from engine.tables import COLUMN_TYPES
from engine.tasks import DEFAULT_TASK, TASKS
from worker.store.artifacts import DAMAGED, READY
from worker.store.ids import is_valid_id
from worker.store.jobs import STOP_REASONS


class EvaluationSchema(ma.Schema):
    """The model scored on the dataset's test split: accuracy and per-class figures
    (classification), or rmse, mae and r2 in the target's units (regression)."""

    accuracy = ma.fields.Float()
    loss = ma.fields.Float(metadata={"description": "regression: on the standardised target"})
    rmse = ma.fields.Float(metadata={"description": "regression: root-mean-square error, in "
                                                    "the target's units"})
    mae = ma.fields.Float(metadata={"description": "regression: mean absolute error, in the "
                                                   "target's units"})
    r2 = ma.fields.Float(metadata={"description": "regression: coefficient of determination "
                                                  "(1 is perfect, 0 is predicting the mean)"})
    confusion_matrix = ma.fields.List(ma.fields.List(ma.fields.Integer()),
                                      metadata={"description": "rows: true class, columns: predicted"})
    precision = ma.fields.List(ma.fields.Float(allow_none=True), metadata={"description": "per class"})
    recall = ma.fields.List(ma.fields.Float(allow_none=True), metadata={"description": "per class"})


INPUT_KINDS = ("image", "vector", "table")


def model_input(model):
    """What a model takes: {"kind": "image", "size": 784, "shape": [28, 28]} for the image
    datasets (so also PNG/JPEG files and drawings), {"kind": "table", ..., "columns": [...]}
    for a table (rows of raw values by column name), {"kind": "vector", "size": 2, "shape":
    [2]} for the others (the truth tables)."""
    info = DATASETS.get(model.get("dataset"))
    size = ((model.get("spec") or {}).get("model") or {}).get("input_size") or (info and info.input_size)
    table = model.get("preprocessing")
    if table:  # the table preprocessing its manifest keeps (worker.store.artifacts)
        return {"kind": "table", "size": size, "shape": [size], "columns": [
            {"name": column["name"], "type": column["type"],
             **({"categories": column["categories"]} if "categories" in column else {})}
            for column in table["columns"]]}
    shape = info.image_shape if info else None
    return {"kind": "image" if shape else "vector", "size": size,
            "shape": list(shape) if shape else [size]}


class InputColumnSchema(ma.Schema):
    name = ma.fields.String(metadata={"description": "as in the CSV the model was trained on"})
    type = ma.fields.String(metadata={"enum": list(COLUMN_TYPES)})
    categories = ma.fields.List(ma.fields.String(), metadata={
        "description": "category columns: the values it knows (others are refused)"})


class ModelInputSchema(ma.Schema):
    kind = ma.fields.String(metadata={"enum": list(INPUT_KINDS), "description":
                                      "image: the draw panel and image uploads apply; table: "
                                      "predict with `rows` by column name"})
    size = ma.fields.Integer(allow_none=True, metadata={"description": "numbers per input "
                                                        "(tables: after one-hot encoding)"})
    shape = ma.fields.List(ma.fields.Integer(allow_none=True))
    columns = ma.fields.List(ma.fields.Nested(InputColumnSchema), metadata={
        "description": "table models: the raw input columns a row gives, in order"})


class ModelSchema(ma.Schema):
    """A trained model stored in the artifact store."""

    input = ma.fields.Nested(ModelInputSchema, metadata={"description": "what the model takes"})

    id = ma.fields.String()
    job_id = ma.fields.String(allow_none=True)
    name = ma.fields.String()
    dataset = ma.fields.String(metadata={"description": "a built-in's name or an uploaded "
                                                        "dataset's id, as the job named it"})
    dataset_name = ma.fields.String(metadata={"description": "the dataset's name for people"})
    dataset_sha256 = ma.fields.String(allow_none=True, metadata={
        "description": "SHA-256 of the uploaded file trained on; null for built-ins"})
    task = ma.fields.String(metadata={"enum": list(TASKS)})
    owner = ma.fields.String(allow_none=True)
    spec = ma.fields.Nested(JobSpecSchema)
    preprocessing = ma.fields.Dict(allow_none=True, metadata={
        "description": "table models: what happens to a row before the first layer (each "
                       "numeric column's mean and std, each category column's vocabulary, the "
                       "target's classes or mean and std), as the manifest keeps it"})
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
        task = model.get("task") or ((model.get("spec") or {}).get("model") or {}).get("task")
        return {**model, "input": model_input(model), "task": task or DEFAULT_TASK,
                "dataset_name": model.get("dataset_name") or model.get("dataset"),
                "dataset_sha256": model.get("dataset_sha256"),
                "preprocessing": model.get("preprocessing")}


def _dataset_reference(value):
    if value not in DATASETS and not is_valid_id(value):
        raise ma.ValidationError(f"must be a built-in dataset ({', '.join(DATASETS)}) or an "
                                 "uploaded dataset's id")


class ModelListArgsSchema(ma.Schema):
    dataset = ma.fields.String(validate=_dataset_reference, metadata={
        "description": "only models trained on this dataset (a built-in's name or an uploaded "
                       "dataset's id)"})
    input = ma.fields.String(validate=ma.validate.OneOf(INPUT_KINDS), metadata={
        "description": "only models taking this kind of input (`latest?input=image`: the newest "
                       "model a drawing can go to)"})


DOWNLOAD_FILES = tuple(MODEL_FILES)  # ?file= takes a model file's short name


class DownloadArgsSchema(ma.Schema):
    file = ma.fields.String(validate=ma.validate.OneOf(DOWNLOAD_FILES), metadata={
        "description": "one file only: "
                       + " or ".join(f"{name} ({file})" for name, file in MODEL_FILES.items())
                       + "; without it, a zip of both"})


# ---- prediction (api.models.predict, api.jobs.predict) ---------------------------------------


class PredictArgsSchema(ModelListArgsSchema):
    top_k = ma.fields.Integer(load_default=3, validate=ma.validate.Range(min=1), metadata={
        "description": "how many of the most likely labels to list (at most the class count)"})
    return_preprocessed = ma.fields.Boolean(load_default=False, metadata={
        "description": "also return the 28x28 array (0..1) the model saw for each input"})
    explain = ma.fields.Boolean(load_default=False, metadata={
        "description": "image models: also return each input's saliency, the gradient of "
                       "the predicted class's probability with respect to every pixel, as "
                       "numbers and as a PNG overlay; table models: the saliency and a "
                       "per-feature attribution, gradient × input by feature name "
                       "(regression: the gradient of the value)"})


class PredictRequestSchema(ma.Schema):
    """Exactly one of the keys."""

    inputs = ma.fields.List(ma.fields.Raw(), metadata={
        "description": "samples: each 784 numbers in [0, 1] or a 28x28 nested array; for a "
                       "table model, its encoded input vectors (input.size numbers)"})
    images = ma.fields.List(ma.fields.String(), metadata={
        "description": "base64 PNG or JPEG images (a data: URL prefix is accepted)"})
    rows = ma.fields.List(ma.fields.Dict(keys=ma.fields.String()), metadata={
        "description": "table models: rows of raw values by column name, as in the CSV the "
                       "model was trained on (input.columns), e.g. "
                       '[{"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, ...}]; numbers '
                       "for numeric columns, text for categories; a target column is ignored"})


class RankedLabelSchema(ma.Schema):
    label = ma.fields.Integer()
    probability = ma.fields.Float()


class AttributionSchema(ma.Schema):
    feature = ma.fields.String(metadata={"description": 'the input unit: "age", "sex=male"'})
    input = ma.fields.Float(metadata={"description": "its encoded value (standardised, or 0/1)"})
    gradient = ma.fields.Float(metadata={"description": "d(output explained)/d(input)"})
    attribution = ma.fields.Float(metadata={"description": "gradient × input"})


class PredictionSchema(ma.Schema):
    """Classification: label, probabilities, top_k. Regression: value (or values)."""

    label = ma.fields.Integer(metadata={"description": "index of the most likely class"})
    probabilities = ma.fields.List(ma.fields.Float(), metadata={"description": "one per class"})
    top_k = ma.fields.List(ma.fields.Nested(RankedLabelSchema))
    value = ma.fields.Float(metadata={"description": "regression: the prediction, in the "
                                                     "target's units"})
    values = ma.fields.List(ma.fields.Float(), metadata={
        "description": "regression with several output units: one value per unit"})
    preprocessed = ma.fields.Raw(metadata={
        "description": "with ?return_preprocessed=true: the input the model saw (28x28 for "
                       "images, the encoded vector for tables)"})
    saliency = ma.fields.List(ma.fields.Float(), metadata={
        "description": "with ?explain=true: d(probability of `label`)/d(input), one per input "
                       "value (784 pixels); regression: d(value)/d(input)"})
    saliency_overlay = ma.fields.String(metadata={
        "description": "with ?explain=true: a PNG data URL, the input in grey under its "
                       "saliency (red raises the label's probability, blue lowers it)"})
    attribution = ma.fields.List(ma.fields.Nested(AttributionSchema), metadata={
        "description": "with ?explain=true, table models: gradient × input per input unit, by "
                       "feature name (inputs are standardised, so it is each feature's push "
                       "away from what the average row would get)"})


class PredictResponseSchema(ma.Schema):
    model_id = ma.fields.String()
    classes = ma.fields.List(ma.fields.String(), metadata={
        "description": "class name per label (classification)"})
    target = ma.fields.String(metadata={
        "description": "regression table models: the target column the values are of"})
    predictions = ma.fields.List(ma.fields.Nested(PredictionSchema))
