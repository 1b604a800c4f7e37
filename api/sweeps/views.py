"""/v1/sweeps: try a grid (or random sample) of networks as ordinary jobs, and compare them.

Each run is a job on the ordinary queue, trained by the existing workers at their
concurrency; a sweep adds a record naming its runs. Its status, progress and results
table are derived from the runs' job records when read (api/sweeps/results.py).
"""

from flask import Response, url_for
from flask.views import MethodView

from api.core.auth import active_jobs_limit, too_many_active_jobs
from api.core.blueprint import Blueprint
from api.core.ownership import current_owner, found_or_404, owner_filter, visible
from api.core.services import services
from api.jobs.views import MAX_OFFSET, enqueue
from api.plans.views import make_plan
from api.sweeps.results import results, state, to_csv
from api.sweeps.schemas import SweepArgsSchema, SweepCreateSchema, SweepSchema
from api.sweeps.store import SweepStore, run_digest
from worker.store.jobs import ActiveJobLimit, JobStateError

blp = Blueprint(
    "sweeps", __name__, url_prefix="/v1/sweeps",
    description="Sweeps: a grid or random sample of job specs, run as ordinary jobs and "
                "compared in one table.",
)

PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
# The body of the example in the OpenAPI document: learning rate x width on XOR, two seeds.
EXAMPLE = {
    "name": "xor-lr-width", "method": "grid", "seeds": [0, 1],
    "base": {"dataset": "xor",
             "model": {"layers": [{"units": 3, "activation": "tanh"},
                                  {"units": 1, "activation": "sigmoid"}],
                       "loss": "binary_cross_entropy"},
             "training": {"optimizer": {"name": "sgd", "learning_rate": 0.5}, "epochs": 300,
                          "batch_size": 4}},
    "parameters": {"training.optimizer.learning_rate": {"values": [0.5, 0.05]},
                   "model.layers[0].units": {"values": [3, 8]}},
    "metric": {"name": "accuracy", "goal": "max"},
}


def sweep_store():
    return SweepStore(services().jobs.redis)


def find_sweep(sweep_id):
    return found_or_404(sweep_store().get(sweep_id), "sweep", sweep_id)


def describe(sweep):
    """The sweep as answered: its record, status, progress and results table."""
    job_ids = [run["job_id"] for run in sweep["runs"]]
    jobs = dict(zip(job_ids, services().jobs.get_many(job_ids), strict=True))
    status, progress = state(sweep, jobs)
    body = sweep["body"]
    return {**sweep, "status": status, "progress": progress, "results": results(sweep, jobs),
            "method": body["method"], "parameters": body["parameters"], "seeds": body["seeds"],
            "metric": body["metric"], "jobs": job_ids}


@blp.route("")
class Sweeps(MethodView):
    @blp.response(200, SweepSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    def get(self, pagination_parameters):
        """List sweeps, newest first, with their status and results."""
        sweeps, total = sweep_store().list(owner=owner_filter(),
                                           limit=pagination_parameters.page_size,
                                           offset=min(pagination_parameters.first_item, MAX_OFFSET))
        pagination_parameters.item_count = total
        return [describe(sweep) for sweep in sweeps]

    @blp.arguments(SweepCreateSchema, example=EXAMPLE)
    @blp.response(202, SweepSchema, headers={"Location": {
        "description": "URL of the new sweep", "schema": {"type": "string"}}})
    @blp.queueing_errors()
    def post(self, sweep):
        """Start a sweep.

        `parameters` maps spec paths (`training.optimizer.learning_rate`,
        `model.layers[0].units`, ...) to `{"values": [...]}` or `{"min", "max", "log"}`
        (a grid also needs `count`). `method: grid` runs every combination, `random` draws
        up to `max_runs / len(seeds)` distinct ones. Identical configurations run once;
        each runs once per seed. Every run is checked as a job before anything is queued:
        a 422 names the run (`runs[3]...`) and its field. With `resume: true`, runs that
        an earlier sweep of this key already trained successfully are reused, not retrained.
        """
        jobs, store, owner = services().jobs, sweep_store(), current_owner()
        runs = sweep.pop("runs")
        for run in runs:
            run["digest"] = run_digest(run["dataset"], run["spec"])
        reused = _reusable(runs, owner) if sweep["resume"] else {}
        fresh = [run for run in runs if run["digest"] not in reused]
        limit = active_jobs_limit()
        if limit and (active := jobs.count_active(owner)) + len(fresh) > limit:
            too_many_active_jobs(ActiveJobLimit(owner, active, limit), adding=len(fresh))
        sweep_id = store.new_id()
        try:
            for run in runs:
                if run["digest"] in reused:
                    run.update(job_id=reused[run["digest"]], reused=True)
                else:
                    run.update(job_id=jobs.create(
                        name=run["name"], spec=run["spec"], **run["data"].job_fields(),
                        owner=owner, max_active=limit, sweep_id=sweep_id,
                        plan=make_plan(run["data"], run["spec"]))["id"], reused=False)
        except ActiveJobLimit as error:  # a simultaneous submission took the room: all or nothing
            for run in fresh:
                if "job_id" in run:
                    jobs.request_cancel(run["job_id"])
            too_many_active_jobs(error, adding=len(fresh))
        record = store.create(sweep_id, name=sweep["name"], owner=owner, body=sweep, runs=[
            {key: run[key] for key in ("index", "config_index", "config", "seed", "job_id",
                                       "digest", "reused")} for run in runs])
        for run in fresh:  # a run the queue cannot take fails; the others still run
            enqueue(run["job_id"], what="sweep run")
        return describe(record), 202, {"Location": url_for("sweeps.SweepById", sweep_id=sweep_id)}


def _reusable(runs, owner):
    """digest -> job id of runs an earlier sweep of this owner trained successfully."""
    known = sweep_store().trained_runs(owner, [run["digest"] for run in runs])
    records = services().jobs.get_many(list(known.values()))
    done = {job["id"] for job in records if job and job["status"] == "succeeded" and visible(job)}
    return {digest: job_id for digest, job_id in known.items() if job_id in done}


@blp.route("/<id:sweep_id>")
class SweepById(MethodView):
    @blp.arguments(SweepArgsSchema, location="query")
    @blp.response(200, SweepSchema, description="JSON, or text/csv with `?format=csv`")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, sweep_id):
        """Read a sweep: status, progress and the results table, best first.

        One row per configuration: its parameter values; per seed, the metric at that
        run's best epoch and which epoch; mean and std across seeds; and a health column
        (diverged, dead relu share, gradient-norm ratio) from the runs' diagnostics.
        """
        sweep = describe(find_sweep(sweep_id))
        if args["format"] == "csv":
            return Response(to_csv(sweep["results"], sweep["metric"]["name"]),
                            mimetype="text/csv", headers={
                                "Content-Disposition": f"attachment; filename=sweep-{sweep_id}.csv"})
        return sweep


@blp.route("/<id:sweep_id>/cancel")
class SweepCancel(MethodView):
    @blp.response(202, SweepSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, sweep_id):
        """Cancel every run of the sweep that has not finished; finished runs are kept."""
        sweep = find_sweep(sweep_id)
        sweep_store().request_cancel(sweep_id)
        for run in sweep["runs"]:
            if run.get("reused"):
                continue
            try:
                services().jobs.request_cancel(run["job_id"])
            except JobStateError:
                pass  # already finished: nothing to cancel
        return describe(find_sweep(sweep_id))
