"""`mlpq datasets` (list, `upload`, `delete`) and `mlpq dataset ID`: your own tables."""

from __future__ import annotations

import click

from engine.tables import TASKS
from mlpq.render import EXIT_OK, console, interactive, json_option, options, print_json, show_table

DATASET_COLUMNS = {"id": "id", "name": "name", "kind": "kind", "task": "task", "target": "target",
                   "rows": "rows", "input_size": "inputs", "created_at": "created"}
FEATURE_COLUMNS = {"name": "column", "type": "type", "count": "count", "missing": "missing",
                   "min": "min", "max": "max", "mean": "mean", "std": "std",
                   "categories": "most frequent values"}
SHOWN_CATEGORIES = 5


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def datasets(ctx):
    """List the datasets a job can train on: the built-ins, then your uploads (newest first).

    \b
      mlpq datasets upload titanic.csv --target survived
      mlpq dataset ID                     # columns, statistics, class balance, preview
      mlpq train --dataset ID --layers 32:relu,2:softmax --epochs 20 --watch
      mlpq datasets delete ID
    """
    if ctx.invoked_subcommand is not None:
        return None
    found = options().client.datasets()
    if options().json:
        return print_json(found)
    show_table([{**item, "rows": item["train_size"] + item["test_size"]} for item in found],
               DATASET_COLUMNS, title="datasets")
    return EXIT_OK


@datasets.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--target", metavar="COLUMN", help="the label column (default: the last column)")
@click.option("--task", type=click.Choice(list(TASKS)),
              help="default: classification for text or a few distinct integers, else regression")
@click.option("--name", help="the dataset's name (default: the file's)")
@click.option("--test-fraction", type=float, metavar="FRACTION",
              help="share of the rows held out for testing (default 0.2; stratified for classification)")
@click.option("--seed", type=int, help="seed of the split (default 0): the same upload, the same split")
@click.option("--missing", metavar="POLICY", help="what to do with empty cells: mean, most_frequent "
              "or drop (default: the upload is refused, naming the row and column)")
@click.option("--test-file", type=click.Path(exists=True, dir_okay=False),
              help="a CSV file with the same columns to test on (instead of --test-fraction)")
@json_option
def upload(file, **fields):
    """Upload a CSV table (plain or .gz; comma, semicolon or tab separated; a header row).

    Numeric columns are standardised, text columns become categories (one-hot); the same file
    with the same options is stored once.
    """
    record = options().client.upload_dataset(file, **fields)
    if options().json:
        return print_json(record)
    console.print(f"dataset [bold]{record['id']}[/] uploaded:", markup=True)
    console.print(f"  {summary_line(record)}", markup=False)
    console.print(f"  train on it: {train_hint(record)}", markup=False)
    return EXIT_OK


@datasets.command()
@click.argument("dataset_id", metavar="ID")
@json_option
def delete(dataset_id):
    """Delete an uploaded dataset (models trained on it stay)."""
    options().client.delete_dataset(dataset_id)
    if options().json:
        return print_json({"deleted": dataset_id})
    click.echo(f"deleted dataset {dataset_id}")
    return EXIT_OK


@click.command()
@click.argument("dataset_id", metavar="ID")
@json_option
def dataset(dataset_id):
    """One dataset: its columns with types and statistics, class balance, split sizes and the
    first rows (--json: the whole record, with the preprocessing a model will carry)."""
    record = options().client.dataset(dataset_id)
    if options().json:
        return print_json(record)
    show_dataset(record)
    return EXIT_OK


def summary_line(record: dict) -> str:
    """`table 'titanic.csv', classification of 'survived' (2 classes): 712 train + 179 test rows, 10 inputs`."""
    if record.get("task") == "regression":
        what = f"regression of {record.get('target')!r}"
    else:
        classes = record.get("classes") or []
        of = f" of {record['target']!r}" if record.get("target") else ""
        what = f"classification{of} ({len(classes)} classes: {', '.join(map(str, classes[:10]))}" \
               f"{', ...' if len(classes) > 10 else ''})"
    return (f"{record.get('kind')} {record.get('name')!r}, {what}: {record['train_size']:,} train + "
            f"{record['test_size']:,} test rows, {record['input_size']:,} inputs")


def train_hint(record: dict) -> str:
    """A first command to train on the dataset: one hidden layer and the task's output layer."""
    if record.get("task") == "regression":
        layers = "--task regression --layers 32:relu,1:identity"
    else:
        layers = f"--layers 32:relu,{len(record.get('classes') or [])}:softmax"
    return f"mlpq train --dataset {record['id']} {layers} --epochs 20 --watch"


def show_dataset(record: dict) -> None:
    console.print(f"[bold]dataset {record['id']}[/]", markup=True)
    lines = [summary_line(record)]
    if record.get("file_name"):
        lines.append(f"file {record['file_name']!r} ({record.get('format')}, "
                     f"{record.get('delimiter')} separated, {record.get('size_bytes') or 0:,} bytes), "
                     f"sha256 {record.get('sha256')}")
    asked = record.get("options") or {}
    if record.get("test_file"):
        lines.append(f"test split: its own file {record['test_file']['file_name']!r}")
    elif asked:
        lines.append(f"split: test_fraction {asked.get('test_fraction')}, seed {asked.get('seed')}"
                     + (f", missing values: {asked['missing']}" if asked.get("missing") else ""))
    if record.get("rows_dropped"):
        lines.append(f"{record['rows_dropped']} rows with missing values dropped")
    for key in ("source", "licence", "created_at"):
        if record.get(key):
            lines.append(f"{key.replace('_at', '')}: {record[key]}")
    console.print(*(f"  {line}" for line in lines), sep="\n", markup=False)
    if record.get("features"):
        _section(f"columns (target {record.get('target')!r} not among them)",
                 [feature_row(feature) for feature in record["features"]], FEATURE_COLUMNS)
    if record.get("target_stats"):
        _section(f"target {record.get('target')!r}",
                 [feature_row({"name": record.get("target"), "type": "numeric",
                               "stats": record["target_stats"]})],
                 FEATURE_COLUMNS)
    if record.get("class_balance"):
        _section("class balance", balance_rows(record["class_balance"]),
                 {"class": "class", **{split: split for split in record["class_balance"]}})
    if record.get("preview"):
        names = list(record["preview"][0])
        _section("first rows", [{name: _number(value) for name, value in row.items()}
                                for row in record["preview"]], {name: name for name in names})


def _section(title: str, rows: list[dict], columns: dict[str, str]) -> None:
    if not interactive():  # show_table prints a rich title on a terminal only
        click.echo(f"\n{title}:")
    show_table(rows, columns, title=title)


def feature_row(feature: dict) -> dict:
    stats = feature.get("stats") or {}
    counts = stats.get("counts") or {}
    shown = ", ".join(f"{value} {count}" for value, count in list(counts.items())[:SHOWN_CATEGORIES])
    more = (stats.get("distinct") or len(counts)) - min(len(counts), SHOWN_CATEGORIES)
    return {"name": feature["name"], "type": feature["type"],
            **{key: _number(value) for key, value in stats.items()},
            "categories": (shown + (f" (+{more} more)" if more > 0 else "")) or None}


def _number(value):
    """A raw number as written in a table (41, 5.03, 0.000123), not at a fixed precision."""
    return format(value, ".6g") if isinstance(value, float) else value


def balance_rows(balance: dict[str, dict[str, int]]) -> list[dict]:
    """{split: {class: n}} -> one row per class with a column per split."""
    classes = list(dict.fromkeys(name for counts in balance.values() for name in counts))
    return [{"class": name, **{split: counts.get(name, 0) for split, counts in balance.items()}}
            for name in classes]


COMMANDS = [datasets, dataset]
