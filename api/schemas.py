"""Request and response schemas; field rules are generated from the engine's rule tables.

Checking happens in two passes. marshmallow checks each field on its own — type, range,
allowed name — with rules built from `engine.spec`'s tables (so each rule is declared
once, and the OpenAPI document shows the same bounds and defaults). When every field is
well-formed, the engine's `validate_model_spec` / `validate_training_config` check the
rules that span fields (softmax only on the output layer, the loss matching the output,
the output width matching the dataset, the service limits) and fill in every default.
"""

import marshmallow as ma

from api.errors import flatten_messages
from api.fields import NamedVariants, schema_from_rules
from api.plan_schemas import PlanSchema
from api.services import services
from engine import spec as engine_spec
from engine.datasets import DATASETS
from engine.optimizers import OPTIMIZERS
from engine.schedules import SCHEDULES
from engine.serialization import MODEL_FILES
from worker.artifacts import DAMAGED, READY
from worker.jobs import STATUSES

NAME_MAX_LENGTH = 100
STOP_REASONS = ("completed", "early_stopping", "stopped", "failed", "cancelled")
DEFAULT_SCHEDULE = engine_spec.TRAINING_DEFAULTS["lr_schedule"]["name"]


LayerSchema = schema_from_rules(
    "LayerSchema", engine_spec.LAYER_RULES, doc="One dense layer: units, activation, dropout.")

ModelSpecSchema = schema_from_rules(
    "ModelSpecSchema", engine_spec.MODEL_RULES,
    extra={"layers": ma.fields.List(
        ma.fields.Nested(LayerSchema), required=True, validate=ma.validate.Length(min=1),
        metadata={"description": "hidden layers then the output layer"})},
    doc="The network: its layers, loss and weight initializer.",
)

OptimizerSchema = schema_from_rules(
    "OptimizerSchema", engine_spec.HYPERPARAMETER_RULES, optional=True,
    extra={"name": ma.fields.String(
        validate=ma.validate.OneOf(list(OPTIMIZERS)),
        metadata={"default": engine_spec.DEFAULT_OPTIMIZER,
                  # Machine-readable for forms (the studio): each optimizer's settings and defaults.
                  "x-hyperparameters": {name: dict(cls.hyperparameters)
                                        for name, cls in OPTIMIZERS.items()}})},
    doc="An optimizer and its hyperparameters; which ones apply depends on `name`: "
        + "; ".join(f"{name}: {', '.join(cls.hyperparameters)}" for name, cls in OPTIMIZERS.items()),
)

EarlyStoppingSchema = schema_from_rules(
    "EarlyStoppingSchema", engine_spec.EARLY_STOPPING_RULES,
    doc="Stop when the monitored metric has not improved for `patience` epochs.",
)

def _schedule_variant(name, rules):
    """The schema of one schedule: its parameters, and its name (optional for the default)."""
    default = name == DEFAULT_SCHEDULE
    name_field = ma.fields.String(required=not default, validate=ma.validate.OneOf([name]),
                                  metadata={"default": name} if default else {})
    return schema_from_rules(f"{name.title()}ScheduleSchema", rules, extra={"name": name_field},
                             doc=f"The {name} learning-rate schedule.")


SCHEDULE_VARIANTS = {name: _schedule_variant(name, engine_spec.SCHEDULE_RULES.get(name, {}))
                     for name in SCHEDULES}


TrainingConfigSchema = schema_from_rules(
    "TrainingConfigSchema", engine_spec.TRAINING_RULES,
    extra={
        "optimizer": ma.fields.Nested(OptimizerSchema),
        "early_stopping": ma.fields.Nested(
            EarlyStoppingSchema, allow_none=True,
            metadata={"description": "null (the default) turns early stopping off"}),
        "lr_schedule": NamedVariants(SCHEDULE_VARIANTS, DEFAULT_SCHEDULE, metadata={
            "description": "learning-rate schedule; its parameters depend on its name"}),
    },
    doc="How to train; every key is optional.",
)


class JobSpecSchema(ma.Schema):
    """The validated spec a job trains with: model and training, every default filled."""

    model = ma.fields.Nested(ModelSpecSchema)
    training = ma.fields.Nested(TrainingConfigSchema)


class ExampleExpectSchema(ma.Schema):
    """What a full run of an example reaches."""

    metric = ma.fields.String(metadata={"enum": ["accuracy"], "description": "the metric checked"})
    split = ma.fields.String(metadata={
        "enum": ["test"], "description": "measured on the dataset's test split (for the truth "
                                         "tables, the table itself): the model's `evaluation`"})
    min = ma.fields.Float(metadata={"description": "the least a full run reaches, 0..1"})
    epochs_note = ma.fields.String(metadata={"description": "how it gets there, for people"})


class ExampleJobSchema(ma.Schema):
    """A job body as posted to /v1/jobs (only the fields the example sets)."""

    name = ma.fields.String()
    dataset = ma.fields.String()
    model = ma.fields.Nested(ModelSpecSchema)
    training = ma.fields.Nested(TrainingConfigSchema)


class ExampleSchema(ma.Schema):
    """A built-in example: a classic network set up as its tutorial does."""

    name = ma.fields.String(metadata={"description": "its id: GET /v1/examples/{name}"})
    title = ma.fields.String()
    description = ma.fields.String(metadata={"description": "one line: what the network is"})
    idea = ma.fields.String(metadata={"description": "the tutorial idea it reproduces"})
    expect = ma.fields.Nested(ExampleExpectSchema)
    spec = ma.fields.Nested(ExampleJobSchema, metadata={"description": "POST it to /v1/jobs"})


def _prefixed(violations, prefix):
    errors = {}
    for violation in violations:
        path = ".".join(part for part in (prefix, violation.path) if part)
        errors.setdefault(path, []).append(violation.message)
    return errors


def default_job_name(dataset, model):
    """e.g. "mnist-128-10": the dataset and the layer widths."""
    return "-".join([dataset, *(str(layer["units"]) for layer in model["layers"])])


def _limits():
    return services().settings.limits


def check_model(dataset, model):
    """The engine's verdict on a model spec for `dataset`: (errors by path, validated or None)."""
    info = DATASETS.get(dataset) if isinstance(dataset, str) else None
    try:
        return {}, engine_spec.validate_model_spec(
            model, input_size=info and info.input_size, num_classes=info and info.num_classes,
            limits=_limits())
    except engine_spec.SpecError as error:
        return _prefixed(error.violations, "model"), None


def check_training(training):
    """The engine's verdict on a training config: (errors by path, validated or None)."""
    try:
        return {}, engine_spec.validate_training_config(training, limits=_limits())
    except engine_spec.SpecError as error:
        return _prefixed(error.violations, "training"), None


def check_work(dataset, model, training):
    """The engine's verdict on a job's training work (MLPQ_MAX_JOB_FLOPS): errors by path."""
    try:
        engine_spec.validate_job_work(model, training, dataset_size=DATASETS[dataset].train_size,
                                      limits=_limits())
    except engine_spec.SpecError as error:
        return _prefixed(error.violations, "")
    return {}


def _covered(path, reported):
    """True when `path` or one of its ancestors is already in `reported`."""
    return any(path == other or path.startswith((other + ".", other + "[")) for other in reported)


class JobCreateSchema(ma.Schema):
    """A training job: which dataset, which network, how to train it."""

    error_messages = {
        "type": "the request body must be a JSON object",
        "unknown": "unknown field; allowed fields: name, dataset, model, training",
    }

    name = ma.fields.String(
        validate=[ma.validate.Length(min=1, max=NAME_MAX_LENGTH),
                  ma.validate.Regexp(r"^[^\x00-\x1f\x7f]*$", error="must not contain control characters")],
        metadata={"description": "a label for people; defaults to the dataset and layer widths"},
    )
    dataset = ma.fields.String(required=True, validate=ma.validate.OneOf(list(DATASETS)))
    model = ma.fields.Nested(ModelSpecSchema, required=True)
    training = ma.fields.Nested(TrainingConfigSchema, allow_none=True,
                                metadata={"description": "omitted or null: every default"})

    @ma.post_load
    def validate_with_engine(self, data, **kwargs):
        """Cross-field rules and service limits (the work cap last: it needs both halves
        valid); returns {name, dataset, spec}."""
        model_errors, model = check_model(data["dataset"], data["model"])
        training_errors, training = check_training(data.get("training"))
        if model_errors or training_errors:
            raise ma.ValidationError({**model_errors, **training_errors})
        work_errors = check_work(data["dataset"], model, training)
        if work_errors:
            raise ma.ValidationError(work_errors)
        return {
            "name": data.get("name") or default_job_name(data["dataset"], model),
            "dataset": data["dataset"],
            "spec": {"model": model, "training": training},
        }

    def handle_error(self, error, data, *, many, **kwargs):
        """Some field broke its own rule: still report every rule broken, in one answer.

        The engine checks the raw model and training objects too, so cross-field problems
        show up beside the per-field ones. Where both speak about the same field, the
        engine's message is kept: it says which rule and what value it got.
        """
        if not isinstance(data, dict):
            return  # not even an object: marshmallow's "Invalid input type." says it all
        engine_errors = {}
        if "model" in data:
            engine_errors.update(check_model(data.get("dataset"), data["model"])[0])
        engine_errors.update(check_training(data.get("training"))[0])
        field_errors = flatten_messages(error.messages)
        merged = dict(engine_errors)
        merged.update({path: texts for path, texts in field_errors.items()
                       if not _covered(path, engine_errors)})
        raise ma.ValidationError(merged) from error


# ---- responses --------------------------------------------------------------------------------

def _nullable_float(description=""):
    return ma.fields.Float(allow_none=True, metadata={"description": description} if description else None)


class ProgressSchema(ma.Schema):
    epoch = ma.fields.Integer(metadata={"description": "current epoch, 1-based (0 before training)"})
    epochs = ma.fields.Integer()
    batch = ma.fields.Integer(metadata={"description": "current batch within the epoch, 1-based"})
    batches = ma.fields.Integer(metadata={"description": "batches per epoch"})
    fraction = ma.fields.Float(metadata={"description": "share of the whole job done, 0..1"})
    eta_seconds = _nullable_float("estimated seconds left; null until it can be estimated")


class LayerHealthSchema(ma.Schema):
    """One layer's health after an epoch, on a fixed sample of the training rows (engine.diagnostics)."""

    layer = ma.fields.Integer(metadata={"description": "index into model.layers, 0-based"})
    units = ma.fields.Integer()
    activation = ma.fields.String()
    weight_norm = _nullable_float("‖W‖ (Frobenius)")
    grad_norm = _nullable_float("‖∂C/∂W‖ of the mean loss over the sample")
    update_ratio = _nullable_float("‖ΔW‖ / ‖W‖ of the epoch's last step (healthy: about 1e-3)")
    activation_mean = _nullable_float("mean activation over the sample")
    activation_std = _nullable_float("spread of the activations over the sample")
    dead_fraction = _nullable_float("relu-family: share of units never active on the sample; else null")
    saturated_fraction = _nullable_float(
        "sigmoid/tanh: share of activations within 1% of the range's ends; else null")


class EpochMetricsSchema(ma.Schema):
    """One epoch of the training history."""

    epoch = ma.fields.Integer()
    loss = _nullable_float()
    accuracy = _nullable_float()
    val_loss = _nullable_float("null without validation data")
    val_accuracy = _nullable_float("null without validation data")
    learning_rate = _nullable_float()
    seconds = _nullable_float()
    samples_per_second = _nullable_float()
    layers = ma.fields.List(ma.fields.Nested(LayerHealthSchema), metadata={
        "description": "per-layer health after this epoch, one entry per layer"})


class JobErrorSchema(ma.Schema):
    type = ma.fields.String(metadata={"description": "stable error type to act on"})
    message = ma.fields.String()


def _timestamp(description):
    return ma.fields.String(allow_none=True, metadata={"format": "date-time", "description": description})


class JobSchema(ma.Schema):
    """A training job and everything known about it so far."""

    id = ma.fields.String(metadata={"description": "32 lowercase hex digits"})
    name = ma.fields.String()
    owner = ma.fields.String(allow_none=True)
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    dataset = ma.fields.String()
    spec = ma.fields.Nested(JobSpecSchema)
    progress = ma.fields.Nested(ProgressSchema, allow_none=True)
    metrics = ma.fields.List(ma.fields.Nested(EpochMetricsSchema),
                             metadata={"description": "per-epoch history, growing while it runs"})
    model_id = ma.fields.String(allow_none=True, metadata={"description": "set once succeeded"})
    sweep_id = ma.fields.String(allow_none=True, metadata={"description": "the sweep it is a run of"})
    error = ma.fields.Nested(JobErrorSchema, allow_none=True, metadata={"description": "set once failed"})
    cancel_requested = ma.fields.Boolean(metadata={"description": "a cancel is pending or done"})
    stop_requested = ma.fields.Boolean(metadata={
        "description": "a stop is pending or done: training ends after the current batch and "
                       "the model is kept"})
    stop_reason = ma.fields.String(allow_none=True, metadata={
        "enum": [*STOP_REASONS, None],
        "description": "why it ended (null until it has): completed, early_stopping, stopped "
                       "(a stop request; the model is kept), failed or cancelled"})
    attempts = ma.fields.Integer(metadata={"description": "times a worker has started it"})
    plan = ma.fields.Nested(PlanSchema, allow_none=True, metadata={
        "description": "the plan made at submission (as POST /v1/plans answers)"})
    created_at = _timestamp("when the job was submitted")
    started_at = _timestamp("when a worker started it")
    finished_at = _timestamp("when it ended, in any final status")


class JobListArgsSchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES),
                              metadata={"description": "only jobs in this status"})


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
    created_at = _timestamp("when the model was saved")

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


class CheckSchema(ma.Schema):
    ok = ma.fields.Boolean()
    detail = ma.fields.String()


class HealthSchema(ma.Schema):
    status = ma.fields.String()


class ReadinessSchema(ma.Schema):
    status = ma.fields.String()
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(CheckSchema))
    auth = ma.fields.String(metadata={
        "description": "`api_keys` when requests need an API key; `disabled` when the "
                       "service runs open (no MLPQ_API_KEYS), for local use only"})
