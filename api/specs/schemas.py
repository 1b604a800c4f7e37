"""The training spec's schemas, shared by jobs, plans, sweeps, trace and models; field rules are generated from the engine's rule tables.

Checking happens in two passes. marshmallow checks each field on its own — type, range,
allowed name — with rules built from `engine.spec`'s tables (so each rule is declared
once, and the OpenAPI document shows the same bounds and defaults). When every field is
well-formed, the engine's `validate_model_spec` / `validate_training_config` check the
rules that span fields (softmax only on the output layer, the loss matching the output,
the output width matching the dataset, the service limits) and fill in every default.
"""

import marshmallow as ma

from api.core.errors import flatten_messages
from api.core.fields import NamedVariants, schema_from_rules
from api.core.services import services
from api.specs.data import dataset_field, training_data
from engine import spec as engine_spec
from engine.optimizers import OPTIMIZERS
from engine.schedules import SCHEDULES

NAME_MAX_LENGTH = 100
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


def _prefixed(violations, prefix):
    errors = {}
    for violation in violations:
        path = ".".join(part for part in (prefix, violation.path) if part)
        errors.setdefault(path, []).append(violation.message)
    return errors


def default_job_name(dataset, model):
    """e.g. "mnist-128-10": the dataset's name and the layer widths."""
    widths = "-".join(str(layer["units"]) for layer in model["layers"])
    return f"{dataset[:NAME_MAX_LENGTH - len(widths) - 1]}-{widths}"


def _limits():
    return services().settings.limits


def check_model(data, model):
    """The engine's verdict on a model spec for `data` (api.specs.data.training_data; None when
    unknown): (errors by path, validated or None)."""
    context = data.spec_context() if data is not None else {}
    try:
        return {}, engine_spec.validate_model_spec(model, limits=_limits(), **context)
    except engine_spec.SpecError as error:
        return _prefixed(error.violations, "model"), None


def check_training(training, task=None):
    """The engine's verdict on a training config of a `task` model (None: not known):
    (errors by path, validated or None)."""
    try:
        return {}, engine_spec.validate_training_config(training, limits=_limits(), task=task)
    except engine_spec.SpecError as error:
        return _prefixed(error.violations, "training"), None


def check_work(data, model, training):
    """The engine's verdict on a job's training work (MLPQ_MAX_JOB_FLOPS): errors by path."""
    try:
        engine_spec.validate_job_work(model, training, dataset_size=data.train_size,
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
    dataset = dataset_field(required=True)
    model = ma.fields.Nested(ModelSpecSchema, required=True)
    training = ma.fields.Nested(TrainingConfigSchema, allow_none=True,
                                metadata={"description": "omitted or null: every default"})

    @ma.post_load
    def validate_with_engine(self, data, **kwargs):
        """Cross-field rules and service limits (the work cap last: it needs both halves
        valid); returns {name, dataset, spec, data}, `data` the dataset's TrainingData."""
        dataset = training_data(data["dataset"])
        model_errors, model = check_model(dataset, data["model"])
        training_errors, training = check_training(data.get("training"), model and model["task"])
        if model_errors or training_errors:
            raise ma.ValidationError({**model_errors, **training_errors})
        work_errors = check_work(dataset, model, training)
        if work_errors:
            raise ma.ValidationError(work_errors)
        return {
            "name": data.get("name") or default_job_name(dataset.name, model),
            "dataset": data["dataset"],
            "spec": {"model": model, "training": training},
            "data": dataset,
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
            engine_errors.update(check_model(training_data(data.get("dataset")), data["model"])[0])
        engine_errors.update(check_training(data.get("training"))[0])
        field_errors = flatten_messages(error.messages)
        merged = dict(engine_errors)
        merged.update({path: texts for path, texts in field_errors.items()
                       if not _covered(path, engine_errors)})
        raise ma.ValidationError(merged) from error


# ---- the history a job records and its model keeps ---------------------------------------------

def timestamp(description):
    return ma.fields.String(allow_none=True, metadata={"format": "date-time", "description": description})


def nullable_float(description=""):
    return ma.fields.Float(allow_none=True, metadata={"description": description} if description else None)


class LayerHealthSchema(ma.Schema):
    """One layer's health after an epoch, on a fixed sample of the training rows (engine.diagnostics)."""

    layer = ma.fields.Integer(metadata={"description": "index into model.layers, 0-based"})
    units = ma.fields.Integer()
    activation = ma.fields.String()
    weight_norm = nullable_float("‖W‖ (Frobenius)")
    grad_norm = nullable_float("‖∂C/∂W‖ of the mean loss over the sample")
    update_ratio = nullable_float("‖ΔW‖ / ‖W‖ of the epoch's last step (healthy: about 1e-3)")
    activation_mean = nullable_float("mean activation over the sample")
    activation_std = nullable_float("spread of the activations over the sample")
    dead_fraction = nullable_float("relu-family: share of units never active on the sample; else null")
    saturated_fraction = nullable_float(
        "sigmoid/tanh: share of activations within 1% of the range's ends; else null")


class EpochMetricsSchema(ma.Schema):
    """One epoch of the training history."""

    epoch = ma.fields.Integer()
    loss = nullable_float("regression: on the standardised target")
    accuracy = nullable_float("classification")
    rmse = nullable_float("regression: root-mean-square error, in the target's units")
    mae = nullable_float("regression: mean absolute error, in the target's units")
    r2 = nullable_float("regression: coefficient of determination (1 is perfect)")
    val_loss = nullable_float("null without validation data")
    val_accuracy = nullable_float("classification; null without validation data")
    val_rmse = nullable_float("regression; null without validation data")
    val_mae = nullable_float("regression; null without validation data")
    val_r2 = nullable_float("regression; null without validation data")
    learning_rate = nullable_float()
    seconds = nullable_float()
    samples_per_second = nullable_float()
    layers = ma.fields.List(ma.fields.Nested(LayerHealthSchema), metadata={
        "description": "per-layer health after this epoch, one entry per layer"})
