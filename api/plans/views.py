"""POST /v1/plans: what a job would cost and what may go wrong, before anything is queued.

The body is a job's (`POST /v1/jobs`); the answer is `engine.plan.plan` for it: parameters
per layer, memory, FLOPs, an estimated time from the speed a worker measured at start (the
plan names that worker), and teaching warnings. Every job stores the same plan as `plan`.
"""

import logging

import redis
from flask.views import MethodView

from api.core.blueprint import Blueprint
from api.core.services import services
from api.plans.schemas import PlanSchema
from api.specs.schemas import JobCreateSchema
from engine.plan import plan

logger = logging.getLogger(__name__)

blp = Blueprint(
    "plans", __name__, url_prefix="/v1/plans",
    description="Plan a training job before running it: size, memory, FLOPs, time, warnings.",
)


def worker_speed():
    """The newest speed a worker measured, or None (no worker yet, or Redis unreachable)."""
    try:
        return services().jobs.worker_speed()
    except redis.RedisError as error:
        logger.warning("no worker speed for the plan: %s", error)
        return None


def make_plan(data, spec: dict) -> dict:
    """The plan of training the validated `spec` on the training split of `data` (the job
    body's TrainingData, api.specs.data)."""
    return plan(spec, samples=data.train_size, dataset=data.id, flops_per_second=worker_speed(),
                data=data.profile, **data.spec_context())


@blp.route("")
class Plans(MethodView):
    @blp.arguments(JobCreateSchema, example={
        "dataset": "mnist",
        "model": {"layers": [{"units": 30, "activation": "sigmoid"},
                             {"units": 10, "activation": "sigmoid"}], "loss": "mse", "init": "normal"},
        "training": {"epochs": 5, "optimizer": {"name": "sgd", "learning_rate": 3.0}},
    })
    @blp.response(200, PlanSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
    def post(self, new_job):
        """Plan a job: the same body as `POST /v1/jobs`, nothing queued.

        Parameters per layer and in total, memory at the batch size, FLOPs per epoch and per
        job, the time a worker would take (from the speed the newest worker measured when
        it started, named in `time.speed`), and teaching warnings, each with a reason and a
        suggestion. A spec the job endpoint would refuse gets the same 422 here.
        """
        return make_plan(new_job["data"], new_job["spec"])
