"""Table models in the insight views: test rows shown by column name, and a regression model's
mistakes, which are its largest errors (true against predicted, in the target's units)."""

import numpy as np
from flask_smorest import abort

from engine.tables import NUMERIC

SHOWN_DIGITS = 7  # a float32 split holds about 7 significant digits of a raw value


def shown(value: float) -> float:
    """A raw value decoded from the float32 split, to the digits the split holds (99.0, not
    98.99999815)."""
    return float(f"{value:.{SHOWN_DIGITS}g}")


def raw_row(table, x: np.ndarray) -> dict:
    """An encoded row -> {column: raw value}: a number un-standardised, a category by its hot
    unit (None when no unit is hot: a value the training split did not have)."""
    row, start = {}, 0
    for column in table.columns:
        block = x[start:start + column.width]
        if column.type == NUMERIC:
            row[column.name] = shown(float(block[0]) * column.std + column.mean)
        else:
            row[column.name] = column.categories[int(block.argmax())] if block.max() > 0 else None
        start += column.width
    return row


def largest_errors(model, dataset: str, split, args: dict) -> dict:
    """GET /mistakes of a regression model: its test rows, the largest absolute error first
    (`order=confidence`, the default) or in test-set order (`order=index`)."""
    for field in ("true", "predicted"):
        if field in args:
            abort(422, message=f"{field} picks a class; model {model.model_id} is a regression "
                               "model, whose mistakes are its largest errors.",
                  errors={field: ["only for classification models"]})
    if split.predicted.ndim != 1:
        abort(409, message=f"Model {model.model_id} predicts several values per row; its "
                           "mistakes are listed for models of one output value.")
    errors = np.abs(split.predicted - split.y)
    chosen = (np.argsort(-errors, kind="stable") if args["order"] == "confidence"
              else np.arange(len(errors)))
    page = chosen[args["offset"]:args["offset"] + args["limit"]]
    target = model.table.target.name if model.table is not None else None
    return {
        "model_id": model.model_id, "dataset": dataset, "task": model.task, "target": target,
        "classes": [], "test_size": len(split.y), "mistakes_total": len(split.y),
        "total": len(split.y), "limit": args["limit"], "offset": args["offset"],
        "order": args["order"], "mistakes": [regression_mistake(split, int(index), model)
                                             for index in page],
    }


def regression_mistake(split, index: int, model) -> dict:
    true, predicted = shown(float(split.y[index])), float(split.predicted[index])
    entry = {"index": index, "true_value": true, "predicted_value": predicted,
             "error": predicted - true, "inputs": split.X[index].tolist()}
    if model.table is not None:
        entry["row"] = raw_row(model.table, split.X[index])
    return entry
