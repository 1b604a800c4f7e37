"""A table model's own parts of its card: what happens to a row before the first layer (from the
preprocessing its manifest keeps) and how to call it with a real row of its dataset."""

from __future__ import annotations

import json

from api.core.services import services
from api.datasets import builtins
from engine.datasets import DATASETS
from engine.tables import CLASSIFICATION, NUMERIC, TablePreprocessing


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _number(value) -> str:
    return f"{value:.6g}"


def row_section(table: TablePreprocessing) -> list[str]:
    """'What happens to a row before the first layer': each column's encoding, with its numbers."""
    lines = ["", "### What happens to a row before the first layer", "",
             f"A row gives {len(table.columns)} column{'s' if len(table.columns) != 1 else ''}; "
             f"they become the network's {table.input_size} inputs, in this order. The numbers "
             "are the training split's, saved in the model and applied to every prediction.", ""]
    rows = []
    for column in table.columns:
        if column.type == NUMERIC:
            rows.append((f"`{_cell(column.name)}`", "number",
                         f"(x − {_number(column.mean)}) / {_number(column.std)}",
                         f"`{_cell(column.name)}`"))
        else:
            values = ", ".join(f"`{_cell(category)}`" for category in column.categories)
            rows.append((f"`{_cell(column.name)}`", "category",
                         f"one-hot over its {len(column.categories)} values {values}: 1 for the "
                         "row's value, 0 for the others; any other value is refused",
                         ", ".join(f"`{_cell(name)}`" for name in column.unit_names)))
    lines += ["| column | type | becomes | inputs |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + ["", _target_line(table)]


def _target_line(table: TablePreprocessing) -> str:
    target = table.target
    if target.task == CLASSIFICATION:
        codes = ", ".join(f"{name} → {index}" for index, name in enumerate(target.classes))
        return (f"The target `{target.name}` is a class, learned as its index ({codes}); a "
                "prediction is the most probable class.")
    mean, std = _number(target.mean), _number(target.std)
    return (f"The target `{target.name}` is a number: the network learns its standardised value "
            f"z = (y − {mean}) / {std}, and its output is turned back into y = {mean} + {std} · z, "
            f"so predictions, RMSE and MAE are in `{target.name}`'s own units.")


def example_row(record: dict, table: TablePreprocessing) -> dict:
    """A real row of the model's dataset (its first preview row with every column filled), by
    column name without the target; made of each column's mean or first category when the
    dataset is gone."""
    dataset = record.get("dataset")
    if dataset in DATASETS:
        preview = builtins.detail(dataset).get("preview") or []
    else:
        stored = services().artifacts.get_dataset(dataset) if isinstance(dataset, str) else None
        preview = (stored or {}).get("preview") or []
    names = table.column_names
    for row in preview:
        if all(row.get(name) is not None for name in names):
            return {name: row[name] for name in names}
    return {column.name: (round(column.mean, 4) if column.type == NUMERIC else column.categories[0])
            for column in table.columns}


def how_to_call(base_url: str, model_id: str, table: TablePreprocessing, row: dict) -> list[str]:
    """curl examples that send rows by column name: as JSON, and as a CSV file."""
    predict = f"{base_url}/v1/models/{model_id}/predict"
    body = json.dumps({"rows": [row]}, ensure_ascii=False).replace("'", "'\\''")
    answer = ("Each row gets a `label`, the `probabilities` of every class and the `top_k`."
              if table.task == CLASSIFICATION else
              f"Each row gets a `value`, in `{table.target.name}`'s units.")
    return ["## How to call it", "", "```bash",
            f"curl -s {predict} -H 'Content-Type: application/json' \\", f"  -d '{body}'",
            f"curl -s -F rows=@rows.csv {predict}  # a CSV file of rows, header first",
            f"curl -s {base_url}/v1/models/{model_id}/mistakes?limit=10",
            f"curl -s -o model.zip {base_url}/v1/models/{model_id}/download", "```", "",
            f"A row names every column ({', '.join(f'`{name}`' for name in table.column_names)}) "
            "with its raw value, as in the CSV; the target column may be left in, it is ignored. "
            f"{answer} With an API key, add `-H \"Authorization: Bearer $KEY\"`."]
