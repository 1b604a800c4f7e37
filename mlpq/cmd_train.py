"""`mlpq train`: submit a job (and follow it), or train here with --local."""

from __future__ import annotations

import signal
import sys

import click

from engine.losses import LOSSES
from engine.stopping import COMPLETED
from engine.tasks import TASKS
from mlpq import local
from mlpq.errors import Timeout
from mlpq.progress import make_view
from mlpq.render import (
    EXIT_JOB_FAILED,
    EXIT_OK,
    CommandFailed,
    err_console,
    interactive,
    json_option,
    options,
    print_json,
)
from mlpq.specs import apply_overrides, read_spec_file

CHOICES = {"c": "cancel", "s": "stop", "d": "detach"}
REMOTE_CHOICES = {"c": "cancel", "s": "stop", "d": "detach"}


@click.command()
@click.argument("spec_file", metavar="[SPEC.json]", required=False, type=click.Path(dir_okay=False))
@click.option("--example", metavar="NAME", help="start from a built-in example (see `mlpq examples`)")
@click.option("--name", help="the job's name")
@click.option("--dataset", help="mnist, iris, xor, ... or an uploaded dataset's id "
              "(`mlpq datasets`; overrides the spec's)")
@click.option("--layers", metavar="UNITS:ACT,...", help="e.g. 256:relu,128:relu,10:softmax "
              "(UNITS:ACTIVATION[:DROPOUT] per layer)")
@click.option("--task", type=click.Choice(list(TASKS)),
              help="what the network learns (default: classification); regression for a "
                   "dataset whose target is a number")
@click.option("--loss", type=click.Choice(list(LOSSES)), help="default: the task's")
@click.option("--optimizer", type=click.Choice(["sgd", "momentum", "adam"]))
@click.option("--lr", type=float, metavar="RATE", help="learning rate, e.g. 1e-3")
@click.option("--epochs", type=int)
@click.option("--batch-size", type=int)
@click.option("--validation-split", type=float, metavar="FRACTION")
@click.option("--seed", type=int)
@click.option("--watch", "-w", is_flag=True, help="follow the job live until it ends")
@click.option("--timeout", type=float, metavar="SECONDS", help="with --watch: give up after this (exit 4)")
@click.option("--local", "run_local", is_flag=True, help="train in this process with the engine, no service")
@click.option("--save", metavar="DIR", help="with --local: save the trained model to DIR")
@click.option("--data-dir", help="with --local: dataset directory (default: MLPQ_DATA_DIR)")
@json_option
def train(spec_file, example, watch, timeout, run_local, save, data_dir, **flags):
    """Train a network from SPEC.json (the body POST /v1/jobs takes), an --example, or flags.

    \b
      mlpq train xor.json --watch
      mlpq train --dataset mnist --layers 128:relu,10:softmax --epochs 3 --watch
      mlpq train mnist.json --local --save mnist-model
    """
    spec = apply_overrides(base_spec(spec_file, example, run_local), **flags)
    if "model" not in spec:
        raise click.UsageError("give SPEC.json, --example NAME or --layers")
    as_json = options().json
    if run_local:
        return train_here(spec, save, data_dir, as_json)
    if save:
        raise click.UsageError("--save goes with --local; `mlpq download JOB -o DIR` saves a served model")
    job = options().client.train(spec)
    if not watch:
        if as_json:
            print_json(job.record)
        else:
            click.echo(f"job {job.id} {job.status}; follow it with: mlpq status {job.id} --watch")
        return EXIT_OK
    return follow(job, timeout)


def base_spec(spec_file: str | None, example: str | None = None, run_local: bool = False) -> dict:
    """The spec the flags are laid over: the file, the example (from the server, or from the
    engine with --local), or an MNIST job for the flags to fill in."""
    if spec_file and example:
        raise click.UsageError("give SPEC.json or --example, not both")
    if spec_file:
        return read_spec_file(spec_file)
    if example is None:
        return {"dataset": "mnist"}
    if not run_local:
        return options().client.example(example)["spec"]
    from engine.examples import example as local_example

    try:
        return local_example(example)["spec"]
    except KeyError as error:  # its message names the known examples
        raise click.BadParameter(error.args[0], param_hint="--example") from None


def follow(job, timeout: float | None = None) -> int:
    """Show a job's events until it ends; 0 if it succeeded, 1 if it failed or was cancelled."""
    view = make_view(options().json, interactive())
    epochs = ((job.record.get("spec") or {}).get("training") or {}).get("epochs")
    title = f"job {job.id} ({job.record.get('name')}) on {job.record.get('dataset')}: {job.status}"
    previous = signal.signal(signal.SIGALRM, _time_up)
    # Ctrl-C asks what next, however we were started: a parent that ignored SIGINT (a
    # background job of a script) would otherwise leave it ignored, as local training does not.
    previous_interrupt = signal.signal(signal.SIGINT, signal.default_int_handler)
    if timeout:
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        last_event_id = None
        while True:
            try:
                if last_event_id is None:
                    view.start(title, epochs)
                for event in job.watch(last_event_id):
                    last_event_id = event.id
                    view.event(event.event, event.data, event.id)
                break
            except KeyboardInterrupt:
                view.pause()
                if ask_what_next(job) == "detach":
                    err_console.print(f"detached; job {job.id} goes on: mlpq status {job.id} --watch")
                    return EXIT_OK
                last_event_id = last_event_id or ""
                view.resume()
    except _TimeUp:
        raise Timeout(f"job {job.id} is still {job.status} after {timeout:g} s "
                      f"(it goes on: mlpq status {job.id} --watch)") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        signal.signal(signal.SIGINT, previous_interrupt)
        view.stop()
    return report_outcome(job, view)


class _TimeUp(Exception):
    pass


def _time_up(*_):
    raise _TimeUp


def ask_what_next(job) -> str:
    """After Ctrl-C: cancel, stop-and-keep or detach (detach without asking off a terminal)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return "detach"
    answer = click.prompt(f"\njob {job.id} is still {job.refresh().status}: [c]ancel it, "
                          "[s]top it and keep the model so far, or [d]etach (it goes on)?",
                          type=click.Choice(list(REMOTE_CHOICES)), default="d", show_choices=False)
    choice = REMOTE_CHOICES[answer]
    if choice == "cancel":
        job.cancel()
    elif choice == "stop":
        job.stop()
    return choice


def report_outcome(job, view) -> int:
    record = job.record
    result = {"job_id": job.id, "status": job.status, "model_id": job.model_id,
              "stop_reason": record.get("stop_reason"), "error": record.get("error")}
    if job.status == "succeeded":
        model = job.model()
        result["evaluation"] = model.get("evaluation")
    if options().json:
        view.event("result", result)
    else:
        summary_lines(result)
    return EXIT_OK if job.status == "succeeded" else EXIT_JOB_FAILED


def summary_lines(result: dict) -> None:
    """`test accuracy 0.9812 (9812/10000)  loss 0.0612` (a regression: `test rmse …  mae …
    r2 …`) and the model id, or the failure."""
    if result["status"] != "succeeded":
        error = result.get("error") or {}
        detail = f": {error.get('type')}: {error.get('message')}" if error else ""
        subject = f"job {result['job_id']}" if result.get("job_id") else "training"
        click.echo(f"{subject} {result['status']}{detail}")
        return
    evaluation = result.get("evaluation") or {}
    if result.get("stop_reason") not in (None, COMPLETED):
        click.echo(f"stopped early ({result['stop_reason']})")
    if "rmse" in evaluation:  # a regression, in the target's units
        click.echo(f"test rmse {evaluation['rmse']:.4g}  mae {evaluation['mae']:.4g}  "
                   f"r2 {evaluation['r2']:.4f}")
    elif evaluation:
        total = sum(map(sum, evaluation.get("confusion_matrix") or [])) or result.get("test_samples")
        count = f" ({round(evaluation['accuracy'] * total)}/{total})" if total else ""
        note = "  (a truth table has no held-out rows: these are the training rows)" \
            if result.get("kind") == "gate" else ""
        click.echo(f"test accuracy {evaluation['accuracy']:.4f}{count}  loss {evaluation['loss']:.4f}{note}")
    if result.get("model_id"):
        click.echo(f"model {result['model_id']}")
    if result.get("path"):
        click.echo(f"saved the model to {result['path']}")


def train_here(spec: dict, save: str | None, data_dir: str | None, as_json: bool) -> int:
    view = make_view(as_json, interactive())
    try:
        outcome = local.train(spec, view, save=save, data_dir=data_dir, on_interrupt=_local_interrupt(view))
    except local.LocalError as error:
        raise CommandFailed(str(error), error.exit_code, error.details) from None
    if as_json:
        view.event("result", outcome)
    else:
        summary_lines(outcome)
    return EXIT_OK if outcome["status"] == "succeeded" else EXIT_JOB_FAILED


def _local_interrupt(view):
    def ask() -> str:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            err_console.print("stopping after this batch (Ctrl-C again to abort)")
            return "stop"
        view.pause()
        answer = click.prompt("\n[c]ancel (nothing is saved) or [s]top now and keep the model so far?",
                              type=click.Choice(["c", "s"]), default="s", show_choices=False)
        view.resume()
        return CHOICES[answer]
    return ask

