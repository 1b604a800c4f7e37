"""`mlpq predict`, `curves`, `evaluate` and `fetch`: using trained models and their histories."""

from __future__ import annotations

from pathlib import Path

import click

from mlpq import local
from mlpq.charts import plot_curves, probability_bars, text_curves
from mlpq.progress import format_epoch
from mlpq.render import (
    EXIT_OK,
    CommandFailed,
    console,
    interactive,
    json_option,
    options,
    print_json,
)

ROW_SUFFIXES = (".json", ".npy")  # files of input rows; anything else is sent as an image


@click.command()
@click.argument("arguments", nargs=-1, required=True, metavar="MODEL FILE [FILE...]")
@click.option("--local", "model_dir", metavar="DIR", type=click.Path(file_okay=False),
              help="predict here with the model saved in DIR (then every argument is a FILE)")
@click.option("--dataset", help="with MODEL latest: the newest model of this dataset")
@json_option
def predict(arguments, model_dir, dataset):
    """Classify images (PNG/JPEG, preprocessed like MNIST) or rows (.json list, .npy array).

    \b
      mlpq predict latest seven.png boot.png
      mlpq predict --local mnist-model seven.png
      mlpq predict --local xor-model rows.json
    """
    if model_dir:
        results = _local(model_dir, arguments)
    else:
        if len(arguments) < 2:
            raise click.UsageError("give MODEL and at least one FILE (or --local DIR FILE...)")
        results = _remote(arguments[0], arguments[1:], dataset)
    if options().json:
        return print_json(results)
    for result in results:
        where = f"{result['file']}[{result['row']}]" if "row" in result else result["file"]
        console.print(f"[bold]{where}[/]: {result['class']}  "
                      f"({result['probabilities'][result['label']]:.1%})")
        names = result.get("classes") or [str(i) for i in range(len(result["probabilities"]))]
        for line in probability_bars(result["probabilities"], names, result["label"]):
            console.print(line, markup=False)
    return EXIT_OK


def _local(model_dir: str, files) -> list[dict]:
    try:
        net_classes = local.load_model(model_dir)[1]["classes"]
        return [{**result, "classes": net_classes} for result in local.predict(model_dir, list(files))]
    except local.LocalError as error:
        raise CommandFailed(str(error), error.exit_code) from None


def _remote(model_ref: str, files, dataset: str | None) -> list[dict]:
    """One request for all images (in order), one per file of rows; results in file order."""
    client = options().client
    results: dict[str, list[dict]] = {}
    images = [name for name in files if Path(name).suffix.lower() not in ROW_SUFFIXES]
    if images:
        answers = client.predict(model_ref, images=images, dataset=dataset)
        for name, answer in zip(images, answers, strict=True):
            results[name] = [{**answer, "classes": answers.classes}]  # one image per file
    for name in files:
        if name not in results:
            try:
                rows = local.read_inputs(name)
            except local.LocalError as error:
                raise CommandFailed(str(error), error.exit_code) from None
            answers = client.predict(model_ref, inputs=rows, dataset=dataset)
            results[name] = [{**answer, "classes": answers.classes, "row": index}
                             for index, answer in enumerate(answers)]
    return [{"file": name, **answer} for name in files for answer in results[name]]


@click.command()
@click.argument("job_id", metavar="JOB")
@click.option("-o", "--output", metavar="FILE.png", help="save a matplotlib chart here")
@json_option
def curves(job_id, output):
    """Loss and accuracy per epoch, train and validation (a text chart without -o)."""
    job = options().client.job(job_id)
    history = job.history
    if not history:
        raise CommandFailed(f"job {job_id} has no finished epoch yet ({job.status})", 1)
    if output:
        path = plot_curves(history, output, f"{job.record.get('name')} on {job.record.get('dataset')}")
        if options().json:
            return print_json({"job_id": job_id, "path": str(path)})
        click.echo(f"saved {path}")
    elif options().json:
        print_json(history)
    elif interactive():
        for line in text_curves(history):
            console.print(line, markup=False)
    else:
        for entry in history:
            click.echo(format_epoch(entry, len(history)))
    return EXIT_OK


@click.command()
@click.argument("model_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--dataset", help="the dataset to test on (default: the model's)")
@click.option("--data-dir", envvar="MLPQ_DATA_DIR", help="dataset directory")
@json_option
def evaluate(model_dir, dataset, data_dir):
    """Test-set accuracy, per-class precision and recall, and confusion of a saved model."""
    try:
        metrics = local.evaluate(model_dir, dataset, data_dir)
    except local.LocalError as error:
        raise CommandFailed(str(error), error.exit_code) from None
    if options().json:
        return print_json(metrics)
    click.echo(f"{metrics['dataset']} test set: accuracy {metrics['accuracy']:.4f}, loss {metrics['loss']:.4f}")
    width = max(len(label) for label in metrics["classes"])
    click.echo(f"{'class':<{width}}  precision  recall")
    for label, precision, recall in zip(metrics["classes"], metrics["precision"], metrics["recall"], strict=True):
        click.echo(f"{label:<{width}}  {_score(precision):>9}  {_score(recall):>6}")
    click.echo("confusion matrix (rows: true class, columns: predicted):")
    for row in metrics["confusion_matrix"]:
        click.echo(" ".join(f"{count:5d}" for count in row))
    return EXIT_OK


def _score(value) -> str:
    return "-" if value is None else f"{value:.4f}"


@click.command()
@click.argument("names", nargs=-1, required=True, metavar="DATASET...")
@click.option("--data-dir", envvar="MLPQ_DATA_DIR", help="dataset directory")
def fetch(names, data_dir):
    """Download datasets ahead of time (SHA-256 checked), e.g. `mlpq fetch mnist fashion-mnist`."""
    for name in names:
        try:
            click.echo(f"{name}: files in {local.fetch(name, data_dir)}")
        except local.LocalError as error:
            raise CommandFailed(str(error), error.exit_code) from None
    return EXIT_OK


COMMANDS = [predict, curves, evaluate, fetch]
