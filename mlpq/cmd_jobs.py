"""`mlpq jobs`, `status`, `cancel`, `stop`, `models`, `model`, `mistakes`, `weights`, `download`, `delete`."""

from __future__ import annotations

import click
from rich.markdown import Markdown

from mlpq.cmd_train import follow
from mlpq.progress import format_epoch
from mlpq.render import EXIT_OK, console, interactive, json_option, options, print_json, show_table
from worker.store.job_scripts import STATUSES

JOB_COLUMNS = {"id": "id", "name": "name", "status": "status", "dataset": "dataset",
               "epoch": "epoch", "accuracy": "accuracy", "model_id": "model", "created_at": "created"}
MODEL_COLUMNS = {"id": "id", "name": "name", "dataset": "dataset", "accuracy": "test accuracy",
                 "parameters": "layers", "status": "status", "created_at": "created"}


@click.command()
@click.option("--status", type=click.Choice(list(STATUSES)), help="only jobs in this status")
@click.option("--page", type=int, help="page number (newest first, 1-based)")
@click.option("--page-size", type=int, help="jobs per page (at most 100)")
@json_option
def jobs(status, page, page_size):
    """List jobs, newest first."""
    found = options().client.jobs(status, page=page, page_size=page_size)
    if options().json:
        return print_json([job.record for job in found])
    show_table([job_row(job.record) for job in found], JOB_COLUMNS, title="jobs")
    return EXIT_OK


def job_row(record: dict) -> dict:
    progress, metrics = record.get("progress") or {}, record.get("metrics") or []
    epoch = f"{progress.get('epoch', 0)}/{progress['epochs']}" if progress.get("epochs") else None
    return {**record, "epoch": epoch, "accuracy": metrics[-1].get("accuracy") if metrics else None}


@click.command()
@click.argument("job_id", metavar="ID")
@click.option("--watch", "-w", is_flag=True, help="follow it live until it ends")
@click.option("--timeout", type=float, metavar="SECONDS", help="with --watch: give up after this (exit 4)")
@json_option
def status(job_id, watch, timeout):
    """One job: status, progress, metrics, model or error (--watch to follow it)."""
    job = options().client.job(job_id)
    if watch:
        return follow(job, timeout)
    if options().json:
        return print_json(job.record)
    record = job.record
    lines = [f"job {job.id}  {record.get('name')}  [bold]{job.status}[/]  on {record.get('dataset')}"]
    progress = record.get("progress") or {}
    if progress.get("epochs"):
        lines.append(f"epoch {progress.get('epoch')}/{progress['epochs']}, "
                     f"{100 * (progress.get('fraction') or 0):.0f}% done")
    console.print(*lines, sep="\n")
    for entry in job.history[-10:]:
        console.print(format_epoch(entry, progress.get("epochs")), markup=False)
    if record.get("error"):
        console.print(f"error {record['error'].get('type')}: {record['error'].get('message')}", markup=False)
    if job.model_id:
        console.print(f"model {job.model_id}")
    return EXIT_OK


@click.command()
@click.argument("job_id", metavar="ID")
@json_option
def cancel(job_id):
    """Cancel a job: a queued one at once, a running one within a batch."""
    record = options().client.cancel(job_id)
    if options().json:
        return print_json(record)
    pending = " (stops within a batch)" if record["status"] == "running" else ""
    click.echo(f"job {job_id} {record['status']}{pending}")
    return EXIT_OK


@click.command()
@click.argument("job_id", metavar="ID")
@json_option
def stop(job_id):
    """Stop a running job after its current batch and keep the model trained so far."""
    record = options().client.stop(job_id)
    if options().json:
        return print_json(record)
    click.echo(f"job {job_id} stopping after this batch; its model is kept "
               f"(mlpq status {job_id} --watch)")
    return EXIT_OK


@click.command()
@click.option("--dataset", help="only models trained on this dataset")
@json_option
def models(dataset):
    """List trained models, newest first."""
    found = options().client.models(dataset)
    if options().json:
        return print_json(found)
    show_table([model_row(model) for model in found], MODEL_COLUMNS, title="models")
    return EXIT_OK


def model_row(model: dict) -> dict:
    layers = ((model.get("spec") or {}).get("model") or {}).get("layers") or []
    shape = "-".join(f"{layer['units']}" for layer in layers)
    return {**model, "accuracy": (model.get("evaluation") or {}).get("accuracy"), "parameters": shape}


@click.command()
@click.argument("model_id", metavar="ID")
@json_option
def model(model_id):
    """A model's card: what it is, how it was trained, how well it does (--json: its record)."""
    client = options().client
    if options().json:
        return print_json(client.model(model_id))
    card = client.card(model_id)
    if interactive():
        console.print(Markdown(card))
    else:
        click.echo(card)
    return EXIT_OK


@click.command()
@click.argument("model_id", metavar="ID")
@click.option("--true", "true_label", type=int, metavar="LABEL", help="only examples of this class")
@click.option("--predicted", type=int, metavar="LABEL", help="only examples taken for this class")
@click.option("--limit", type=int, default=10, show_default=True)
@json_option
def mistakes(model_id, true_label, predicted, limit):
    """The test examples a model gets wrong, most confidently wrong first (a regression model:
    its largest errors first); a table model's rows are shown by column name."""
    found = options().client.mistakes(model_id, true=true_label, predicted=predicted, limit=limit)
    if options().json:
        return print_json(found)
    shown = found["mistakes"]
    if found.get("task") == "regression":
        click.echo(f"the largest errors on {found['test_size']} {found['dataset']} test rows, in "
                   f"{found.get('target') or 'the target'}'s units; showing {len(shown)}")
        columns = {"index": "test index", "true_value": "true", "predicted_value": "predicted",
                   "error": "error"}
    else:
        click.echo(f"{found['mistakes_total']} of {found['test_size']} {found['dataset']} test "
                   f"examples are misclassified; {found['total']} match, showing {len(shown)}")
        columns = {"index": "test index", "true_class": "true", "predicted_class": "predicted",
                   "confidence": "confidence"}
    names = list(shown[0].get("row") or {}) if shown else []
    show_table([{**mistake, **row_cells(mistake.get("row") or {})} for mistake in shown],
               {**columns, **{f"row/{name}": name for name in names}})
    return EXIT_OK


def row_cells(row: dict) -> dict:
    """A table model's test row as cells keyed apart from the mistake's own fields (a column
    may be called "error"), values as written in the CSV (38.6, not 38.6000)."""
    return {f"row/{name}": None if value is None else str(value) for name, value in row.items()}


@click.command()
@click.argument("model_id", metavar="ID")
@click.argument("layer", type=int)
@click.option("-o", "--output", required=True, metavar="FILE.png", help="where to save the picture")
@json_option
def weights(model_id, layer, output):
    """Save a picture of one layer's weights (the first layer of an image model: 28x28 tiles)."""
    picture = options().client.weights_png(model_id, layer)
    with open(output, "wb") as file:
        file.write(picture)
    if options().json:
        return print_json({"model_id": model_id, "layer": layer, "path": output})
    click.echo(f"saved layer {layer} of model {model_id} to {output}")
    return EXIT_OK


@click.command()
@click.argument("model_id", metavar="ID")
@click.option("-o", "--output", "directory", required=True, metavar="DIR",
              help="directory for manifest.json and weights.npz (created)")
@json_option
def download(model_id, directory):
    """Download a model's files; `mlpq predict --local DIR` and engine.load(DIR) read them."""
    path = options().client.download(model_id, directory)
    if options().json:
        return print_json({"model_id": model_id, "path": str(path)})
    click.echo(f"saved model {model_id} to {path}")
    return EXIT_OK


@click.command()
@click.argument("model_id", metavar="ID")
@json_option
def delete(model_id):
    """Delete a model and its files."""
    options().client.delete_model(model_id)
    if options().json:
        return print_json({"deleted": model_id})
    click.echo(f"deleted model {model_id}")
    return EXIT_OK


COMMANDS = [jobs, status, cancel, stop, models, model, mistakes, weights, download, delete]
