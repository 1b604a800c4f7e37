"""Sweep request and response schemas; a sweep body becomes its runs, each checked as a job.

Checking a sweep checks every run it would make before anything is stored or queued:
the base must be a valid job, every parameter path must exist in the base job's spec
(defaults included), and each generated run must itself be a valid job — a 422 names
the run (`runs[3]`), its field, and the parameter values that made it.
"""

import json

import marshmallow as ma
from flask import current_app

from api.core.errors import flatten_messages
from api.specs.schemas import NAME_MAX_LENGTH, JobCreateSchema
from api.sweeps.results import METRIC_GOALS
from api.sweeps.space import SpaceError, apply, expand, lookup, parse_path
from engine.evaluation import GOALS, VALIDATION_PREFIX
from engine.tasks import TASKS
from worker.store.jobs import STATUSES

METHODS = ("grid", "random")
MAX_PARAMETERS, MAX_VALUES, MAX_SEEDS = 8, 100, 10
MAX_RUN_ERRORS = 10  # runs reported in one 422; the rest are usually the same mistake again
SEED_PATH = "training.seed"


class ParameterSchema(ma.Schema):
    """One swept setting: a list of `values`, or a range `min`..`max` (`log` for a log scale;
    a grid also needs `count` points)."""

    values = ma.fields.List(ma.fields.Raw(), validate=ma.validate.Length(min=1, max=MAX_VALUES))
    min = ma.fields.Float()
    max = ma.fields.Float()
    log = ma.fields.Boolean(load_default=False)
    count = ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_VALUES))

    @ma.validates_schema
    def one_kind(self, data, **kwargs):
        has_range = "min" in data or "max" in data
        if ("values" in data) == has_range:
            raise ma.ValidationError("give either `values` or `min` and `max`")
        if has_range:
            if "min" not in data or "max" not in data:
                raise ma.ValidationError("a range needs both `min` and `max`")
            if data["min"] > data["max"]:
                raise ma.ValidationError("`min` must not exceed `max`", "min")
            if data["log"] and data["min"] <= 0:
                raise ma.ValidationError("a log scale needs `min` > 0", "min")


class MetricSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.OneOf(list(METRIC_GOALS)))
    goal = ma.fields.String(validate=ma.validate.OneOf(GOALS), metadata={
        "description": "default: max for accuracies, min for losses"})


class SweepCreateSchema(ma.Schema):
    """A sweep: a base job, the settings to vary, how to search them and what to compare."""

    name = ma.fields.String(validate=ma.validate.Length(min=1, max=NAME_MAX_LENGTH))
    base = ma.fields.Dict(required=True, metadata={"description": "a job body, as for POST /v1/jobs"})
    parameters = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(ParameterSchema), required=True,
        validate=ma.validate.Length(min=1, max=MAX_PARAMETERS),
        metadata={"description": "spec path -> values or range, e.g. "
                                 "{\"training.optimizer.learning_rate\": {\"values\": [0.1, 0.01]}}"})
    method = ma.fields.String(load_default="grid", validate=ma.validate.OneOf(METHODS))
    max_runs = ma.fields.Integer(validate=ma.validate.Range(min=1), metadata={
        "description": "most runs (configurations x seeds); default and ceiling MLPQ_MAX_SWEEP_RUNS"})
    seeds = ma.fields.List(ma.fields.Integer(validate=ma.validate.Range(min=0, max=2**32 - 1)),
                           load_default=lambda: [0],
                           validate=ma.validate.Length(min=1, max=MAX_SEEDS))
    metric = ma.fields.Nested(MetricSchema, metadata={
        "description": "what to compare; default: the task's first metric (accuracy, or rmse for "
                       "regression), on the validation rows (val_) when the base holds some out"})
    random_seed = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0),
                                    metadata={"description": "seeds random search's draws"})
    resume = ma.fields.Boolean(load_default=False, metadata={
        "description": "reuse succeeded runs of earlier sweeps that trained the same thing"})

    def handle_error(self, error, data, *, many, **kwargs):
        """marshmallow files a parameter's errors under "value"; name the parameter's path."""
        messages = dict(error.messages)
        if isinstance(messages.get("parameters"), dict):
            messages["parameters"] = {
                path: (texts.get("value") or texts.get("key") or texts)
                if isinstance(texts, dict) else texts
                for path, texts in messages["parameters"].items()}
        raise ma.ValidationError(messages) from error

    @ma.post_load
    def make_runs(self, data, **kwargs):
        """Check the base and every generated run; adds `runs`, `max_runs`, `metric`, `name`."""
        if len(set(data["seeds"])) != len(data["seeds"]):
            raise ma.ValidationError({"seeds": ["seeds must be distinct"]})
        base = _valid_job(data["base"], "base")
        full = {"name": base["name"], "dataset": base["dataset"], **base["spec"]}
        kinds = {path: _kind(path, full, parameter)
                 for path, parameter in data["parameters"].items()}
        data["max_runs"] = _max_runs(data.get("max_runs"))
        data["metric"] = _metric(data.get("metric"), base)
        data["name"] = data.get("name") or f"sweep-{base['name']}"[:NAME_MAX_LENGTH]
        try:
            configs = expand(data["parameters"], kinds, method=data["method"],
                             max_configs=data["max_runs"] // len(data["seeds"]),
                             seed=data["random_seed"])
        except SpaceError as error:
            raise ma.ValidationError({f"parameters.{error.path}": [str(error)]}) from None
        runs_count = len(configs) * len(data["seeds"])
        if not configs or runs_count > data["max_runs"]:
            raise ma.ValidationError({"max_runs": [
                f"the sweep makes {runs_count} runs ({len(configs)} configurations x "
                f"{len(data['seeds'])} seeds), more than max_runs={data['max_runs']}"]})
        data["runs"] = _runs(data, configs)
        return data


def _valid_job(body, prefix):
    try:
        return JobCreateSchema().load(body)
    except ma.ValidationError as error:
        raise ma.ValidationError(flatten_messages(error.messages, prefix)) from None


def _kind(path, full, parameter):
    try:
        found, value = lookup(full, parse_path(path))
    except SpaceError as error:
        raise ma.ValidationError({f"parameters.{path}": [str(error)]}) from None
    if not found or path == SEED_PATH:
        reason = "use `seeds` to vary the seed" if found else "no such setting in the base job"
        raise ma.ValidationError({f"parameters.{path}": [reason]})
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if "values" not in parameter and not numeric:
        raise ma.ValidationError({f"parameters.{path}": [
            f"a range needs a numeric setting, and this one is {json.dumps(value)}; use `values`"]})
    return int if isinstance(value, int) and not isinstance(value, bool) else float


def _max_runs(asked):
    ceiling = current_app.config["MAX_SWEEP_RUNS"]
    if asked is not None and asked > ceiling:
        raise ma.ValidationError({"max_runs": [
            f"must be at most {ceiling} (MLPQ_MAX_SWEEP_RUNS)"]})
    return asked or ceiling


def _metric(metric, base):
    held_out = base["spec"]["training"].get("validation_split")
    # By default the task's first metric (accuracy; rmse for regression), on held-out rows if any.
    first = TASKS[base["spec"]["model"]["task"]].metrics[0]
    metric = dict(metric or {"name": (VALIDATION_PREFIX if held_out else "") + first})
    if metric["name"].startswith(VALIDATION_PREFIX) and not held_out:
        raise ma.ValidationError({"metric.name": [
            f"{metric['name']} needs validation data: set base.training.validation_split > 0"]})
    metric.setdefault("goal", METRIC_GOALS[metric["name"]])
    return metric


def _label(config, seed):
    return ", ".join([*(f"{path.rsplit('.', 1)[-1]}={value}" for path, value in config.items()),
                      f"seed {seed}"])


def _runs(data, configs):
    runs, errors = [], {}
    for config_index, config in enumerate(configs):
        for seed in data["seeds"]:
            index, label = len(runs), _label(config, seed)
            body = apply(data["base"], {**config, SEED_PATH: seed})
            body["name"] = f"{data['name']} [{label}]"[:NAME_MAX_LENGTH]
            try:
                job = JobCreateSchema().load(body)
            except ma.ValidationError as error:
                if len(errors) < MAX_RUN_ERRORS:
                    for path, texts in flatten_messages(error.messages, f"runs[{index}]").items():
                        errors[path] = [f"{text} (run {index}: {label})" for text in texts]
                runs.append(None)
                continue
            runs.append({"index": index, "config_index": config_index, "config": config,
                         "seed": seed, **job})
    if errors:
        raise ma.ValidationError(errors)
    return runs


# ---- responses --------------------------------------------------------------------------------

class SweepRunSchema(ma.Schema):
    seed = ma.fields.Integer()
    job_id = ma.fields.String()
    status = ma.fields.String(allow_none=True)
    reused = ma.fields.Boolean(metadata={"description": "trained by an earlier sweep (resume)"})
    value = ma.fields.Float(allow_none=True, metadata={"description": "the metric at its best epoch"})
    best_epoch = ma.fields.Integer(allow_none=True)


class SweepHealthSchema(ma.Schema):
    diverged = ma.fields.Boolean(metadata={"description": "a run's loss became NaN or infinite"})
    dead_relu = ma.fields.Float(allow_none=True, metadata={
        "description": "mean share of relu units never active, last epoch"})
    grad_norm_ratio = ma.fields.Float(allow_none=True, metadata={
        "description": "first layer's gradient norm over the output layer's, last epoch"})


class SweepRowSchema(ma.Schema):
    rank = ma.fields.Integer()
    config = ma.fields.Dict(metadata={"description": "parameter path -> value"})
    runs = ma.fields.List(ma.fields.Nested(SweepRunSchema), metadata={"description": "one per seed"})
    mean = ma.fields.Float(allow_none=True)
    std = ma.fields.Float(allow_none=True, metadata={"description": "sample std (ddof=1) across seeds"})
    health = ma.fields.Nested(SweepHealthSchema)


SweepProgressSchema = ma.Schema.from_dict({  # how many runs in all, finished, and in each status
    "runs": ma.fields.Integer(), "finished": ma.fields.Integer(),
    **{status: ma.fields.Integer() for status in STATUSES}, "fraction": ma.fields.Float(),
}, name="SweepProgressSchema")


class SweepSchema(ma.Schema):
    """A sweep, its progress and its results table (best configuration first)."""

    id = ma.fields.String()
    name = ma.fields.String()
    owner = ma.fields.String(allow_none=True)
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    created_at = ma.fields.String()
    cancel_requested = ma.fields.Boolean()
    method = ma.fields.String()
    parameters = ma.fields.Dict()
    seeds = ma.fields.List(ma.fields.Integer())
    metric = ma.fields.Nested(MetricSchema, metadata={
        "description": "what to compare; default: the task's first metric (accuracy, or rmse for "
                       "regression), on the validation rows (val_) when the base holds some out"})
    progress = ma.fields.Nested(SweepProgressSchema)
    results = ma.fields.List(ma.fields.Nested(SweepRowSchema))
    jobs = ma.fields.List(ma.fields.String(), metadata={"description": "the runs' job ids"})


class SweepArgsSchema(ma.Schema):
    format = ma.fields.String(load_default="json", validate=ma.validate.OneOf(["json", "csv"]),
                              metadata={"description": "csv: the results table as CSV"})
