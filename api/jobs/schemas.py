"""A training job's schemas: its record, progress and error, listing arguments, and predictions."""

import marshmallow as ma

from api.models.schemas import PredictResponseSchema
from api.plans.schemas import PlanSchema
from api.specs.schemas import EpochMetricsSchema, JobSpecSchema, nullable_float, timestamp
from engine.tasks import TASKS
from worker.store.jobs import STATUSES, STOP_REASONS, TERMINAL_STATUSES


class ProgressSchema(ma.Schema):
    epoch = ma.fields.Integer(metadata={"description": "current epoch, 1-based (0 before training)"})
    epochs = ma.fields.Integer()
    batch = ma.fields.Integer(metadata={"description": "current batch within the epoch, 1-based"})
    batches = ma.fields.Integer(metadata={"description": "batches per epoch"})
    fraction = ma.fields.Float(metadata={"description": "share of the whole job done, 0..1"})
    eta_seconds = nullable_float("estimated seconds left; null until it can be estimated")


class JobErrorSchema(ma.Schema):
    type = ma.fields.String(metadata={"description": "stable error type to act on"})
    message = ma.fields.String()


class JobSchema(ma.Schema):
    """A training job and everything known about it so far."""

    id = ma.fields.String(metadata={"description": "32 lowercase hex digits"})
    name = ma.fields.String()
    owner = ma.fields.String(allow_none=True)
    status = ma.fields.String(metadata={
        "enum": list(STATUSES),
        # Machine-readable for clients (the studio): the statuses a job ends in and never leaves.
        "x-terminal": [status for status in STATUSES if status in TERMINAL_STATUSES]})
    dataset = ma.fields.String(metadata={"description": "a built-in's name or an uploaded "
                                                        "dataset's id"})
    dataset_name = ma.fields.String(metadata={"description": "the dataset's name for people"})
    dataset_sha256 = ma.fields.String(allow_none=True, metadata={
        "description": "SHA-256 of the uploaded file it trains on; null for built-ins"})
    task = ma.fields.String(metadata={"enum": list(TASKS), "description": "the model's task"})
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
    created_at = timestamp("when the job was submitted")
    started_at = timestamp("when a worker started it")
    finished_at = timestamp("when it ended, in any final status")


class JobListArgsSchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES),
                              metadata={"description": "only jobs in this status"})


WEIGHTS = ("checkpoint", "model")  # what a job's prediction used (api.jobs.predict)


class JobPredictResponseSchema(PredictResponseSchema):
    model_id = ma.fields.String(allow_none=True, metadata={
        "description": "the job's model once it has succeeded; null while it trains"})
    job_id = ma.fields.String()
    status = ma.fields.String(metadata={"description": "the job's status when it answered"})
    epoch = ma.fields.Integer(metadata={"description": "complete epochs behind the weights used"})
    epochs = ma.fields.Integer(allow_none=True, metadata={"description": "epochs planned"})
    weights = ma.fields.String(metadata={"enum": list(WEIGHTS), "description":
                                         "checkpoint: the latest end-of-epoch checkpoint; "
                                         "model: the job's saved model"})
