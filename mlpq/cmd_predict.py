"""`mlpq predict`, `curves`, `evaluate` and `fetch`: using trained models and their histories."""

from __future__ import annotations

from pathlib import Path

import click

from mlpq import local, rows
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
@click.argument("arguments", nargs=-1, required=True, metavar="MODEL [FILE...]")
@click.option("--local", "model_dir", metavar="DIR", type=click.Path(file_okay=False),
              help="predict here with the model saved in DIR (then every argument is a FILE)")
@click.option("--dataset", help="with MODEL latest: the newest model of this dataset")
@click.option("--row", "row_texts", multiple=True, metavar="'COL=VALUE,...'",
              help="a table model's row by column name, e.g. 'age=22,sex=male' (repeatable; "
                   "quote a value with commas or one to keep as text: 'name=\"Smith, J\"')")
@click.option("--csv", "csv_path", metavar="FILE.csv", type=click.Path(exists=True, dir_okay=False),
              help="a CSV file of a table model's rows: the predictions as CSV (stdout, or -o)")
@click.option("-o", "--output", metavar="FILE.csv", type=click.Path(dir_okay=False),
              help="with --row or --csv: write the rows and their predictions here as CSV")
@json_option
def predict(arguments, model_dir, dataset, row_texts, csv_path, output):
    """Classify images (PNG/JPEG, preprocessed like MNIST) or rows (.json list, .npy array), or
    predict a table model's rows given by column name (--row, --csv).

    \b
      mlpq predict latest seven.png boot.png
      mlpq predict --local mnist-model seven.png
      mlpq predict --local xor-model rows.json
      mlpq predict MODEL --row 'age=22,sex=male' --row 'age=40,sex=female'
      mlpq predict MODEL --csv passengers.csv -o predictions.csv
    """
    if row_texts or csv_path:
        return predict_table(arguments, model_dir, dataset, row_texts, csv_path, output)
    if output:
        raise click.UsageError("-o goes with --row or --csv")
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


def predict_table(arguments, model_dir, dataset, row_texts, csv_path, output) -> int:
    """--row or --csv: named-feature rows to a served table model; predictions shown, as JSON,
    or as CSV (the input columns, then label and probabilities, or value)."""
    if row_texts and csv_path:
        raise click.UsageError("give --row or --csv, not both")
    if model_dir or len(arguments) != 1:
        raise click.UsageError("--row and --csv take one served MODEL: no FILE, no --local")
    client, hint = options().client, "--csv" if csv_path else "--row"
    try:
        if csv_path:
            answers = client.predict(arguments[0], csv=csv_path, dataset=dataset)
            header, cells = rows.read_csv(csv_path)
        else:
            given = [rows.parse_row(text) for text in row_texts]
            answers = client.predict(arguments[0], rows=given, dataset=dataset)
            header, cells = rows.table_of(given)
        if output:
            with open(output, "w", newline="", encoding="utf-8") as file:
                rows.write_predictions(file, header, cells, answers, answers.classes)
        elif csv_path and not options().json:
            rows.write_predictions(click.get_text_stream("stdout"), header, cells, answers,
                                   answers.classes)
    except rows.RowError as error:
        raise click.BadParameter(str(error), param_hint=hint) from None
    if options().json:
        return print_json([{"row": index, "input": dict(zip(header, line, strict=False)), **answer}
                           for index, (line, answer) in enumerate(zip(cells, answers, strict=True))])
    if output:
        click.echo(f"saved {len(answers)} predictions to {output}")
    elif not csv_path:
        show_rows(given, answers)
    return EXIT_OK


def show_rows(given: list[dict], answers) -> None:
    """Each --row and its prediction: the value, or the class with a bar per class."""
    for index, (row, answer) in enumerate(zip(given, answers, strict=True), 1):
        shown = ", ".join(f"{name}={value}" for name, value in row.items())
        if "value" in answer:
            click.echo(f"row {index} ({shown}): {answer['value']:.6g}")
            continue
        click.echo(f"row {index} ({shown}): {answer['class']} "
                   f"({answer['probabilities'][answer['label']]:.1%})")
        for line in probability_bars(answer["probabilities"], answers.classes, answer["label"]):
            console.print(line, markup=False)


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
@click.option("--data-dir", help="dataset directory (default: MLPQ_DATA_DIR)")
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
@click.option("--data-dir", help="dataset directory (default: MLPQ_DATA_DIR)")
def fetch(names, data_dir):
    """Download datasets ahead of time (SHA-256 checked), e.g. `mlpq fetch mnist fashion-mnist`."""
    for name in names:
        try:
            click.echo(f"{name}: files in {local.fetch(name, data_dir)}")
        except local.LocalError as error:
            raise CommandFailed(str(error), error.exit_code) from None
    return EXIT_OK


COMMANDS = [predict, curves, evaluate, fetch]
