"""A Markdown model card built from a model's record: data, spec, training, test metrics, use.

Everything comes from what was saved with the model (its manifest's record and, for a table
model, the preprocessing the manifest keeps), plus the job record for what only the job knows
(the stop reason, when the model record lacks it). A table model's own sections (what happens to
a row, calling it with rows) are api.insight.card_tables'.
"""

import math
from dataclasses import dataclass

import numpy as np

from api.insight import card_tables
from engine.datasets import DATASETS, DatasetInfo
from engine.stopping import COMPLETED, STOPPED
from engine.tables import TablePreprocessing
from engine.tasks import CLASSIFICATION, DEFAULT_TASK
from worker.store.jobs import STOP_REASONS

CONFUSED_PAIRS = 5  # worst-confused (true, predicted) pairs listed
DATASET_DESCRIPTIONS = {
    "mnist": "MNIST: 28×28 greyscale handwritten digits 0–9 (60,000 training, 10,000 test "
             "images), white on black, centred by mass in a 20×20 box",
    "fashion-mnist": "Fashion-MNIST: 28×28 greyscale photos of ten kinds of clothing "
                     "(60,000 training, 10,000 test images)",
}


@dataclass(frozen=True)
class Facts:
    """What the card says of the model's data, from its record."""

    dataset: str  # a built-in's name or an uploaded dataset's id
    info: DatasetInfo | None  # a built-in's
    table: TablePreprocessing | None  # a table model's preprocessing
    task: str  # the model's
    classes: tuple[str, ...]
    input_size: int

    @property
    def kind(self) -> str:
        return "table" if self.table is not None else self.info.kind


def facts(record) -> Facts:
    dataset = record["dataset"]
    info = DATASETS.get(dataset)
    table = (TablePreprocessing.from_dict(record["preprocessing"])
             if record.get("preprocessing") else None)
    model = record["spec"]["model"]
    task = record.get("task") or model.get("task") or DEFAULT_TASK
    classes = ((table.classes or []) if table is not None else list(info.classes))
    return Facts(dataset, info, table, task, tuple(classes) if task == CLASSIFICATION else (),
                 model.get("input_size") or info.input_size)


def confused_pairs(matrix, limit=CONFUSED_PAIRS):
    """The largest off-diagonal cells: [(true, predicted, count, share of the true class)]."""
    counts = np.asarray(matrix, dtype=np.int64)
    if counts.size == 0:
        return []
    off = counts.copy()
    np.fill_diagonal(off, 0)
    totals = counts.sum(axis=1)
    order = np.argsort(-off, axis=None, kind="stable")[:limit]
    pairs = []
    for flat in order:
        true, predicted = divmod(int(flat), counts.shape[1])
        if off[true, predicted] == 0:
            break
        pairs.append((true, predicted, int(off[true, predicted]),
                      float(off[true, predicted] / max(totals[true], 1))))
    return pairs


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _percent(value):
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _number(value, digits=4):
    return "n/a" if value is None else f"{value:.{digits}g}"


def _dataset_line(record, about):
    if about.info is None:  # an uploaded table
        return (f"- Dataset: `{record.get('dataset_name') or about.dataset}`, an uploaded table "
                f"(id `{about.dataset}`); file SHA-256 `{record.get('dataset_sha256') or 'unknown'}`")
    description = (DATASET_DESCRIPTIONS.get(about.dataset) or about.info.source
                   or f"a truth table of {about.info.input_size} inputs")
    line = f"- Dataset: `{about.dataset}` (built in) — {description}"
    if about.info.licence:
        line += f"; licence: {about.info.licence}"
    if about.info.sha256:
        line += "; files (SHA-256): " + ", ".join(
            f"{file} `{digest}`" for file, digest in sorted(about.info.sha256.items()))
    return line


def _data(record, about):
    training = record["spec"]["training"]
    lines = ["## Data", "", _dataset_line(record, about)]
    if about.kind == "image":
        lines.append("- Inputs: 784 pixel intensities scaled to 0..1. Uploaded images are made "
                     "to look like MNIST first: greyscale, inverted if the background is light, "
                     "cropped, scaled into 20×20 and centred in 28×28.")
    split = training.get("validation_split") or 0
    lines.append(f"- Validation: the last {split:.0%} of the training set was held out"
                 if split else "- Validation: none (no validation split)")
    if about.task == CLASSIFICATION:
        lines.append(f"- Classes ({len(about.classes)}): " + ", ".join(about.classes))
    else:
        lines.append(f"- Target: {_target(about)}, a number (regression)")
    if about.table is not None:
        lines += card_tables.row_section(about.table)
    return lines


def _target(about):
    return f"`{about.table.target.name}`" if about.table is not None else "the class index"


def _architecture(record, input_size):
    model = record["spec"]["model"]
    rows, fan_in, total = [], input_size, 0
    for index, layer in enumerate(model["layers"]):
        parameters = fan_in * layer["units"] + layer["units"]
        total += parameters
        rows.append((index, f"{fan_in} → {layer['units']}", layer["activation"],
                     layer.get("dropout", 0.0), f"{parameters:,}"))
        fan_in = layer["units"]
    lines = ["## Model", "", f"A multilayer perceptron: {input_size} inputs, "
             f"{len(model['layers'])} dense layers, {total:,} parameters; loss "
             f"`{model['loss']}`, initialisation `{model['init']}`.", ""]
    return lines + _table(("layer", "shape", "activation", "dropout", "parameters"), rows)


def _epoch_figures(entry, prefix, task):
    """'loss 0.1, accuracy 97.00%' (or rmse, r2) of one epoch's entry, `prefix` "" or "val_"."""
    loss = _number(entry.get(prefix + "loss"))
    if task == CLASSIFICATION:
        return f"loss {loss}, accuracy {_percent(entry.get(prefix + 'accuracy'))}"
    return (f"loss {loss}, RMSE {_number(entry.get(prefix + 'rmse'))}, "
            f"R² {_number(entry.get(prefix + 'r2'), 3)}")


def _training(record, stop_reason, task):
    training, metrics = record["spec"]["training"], record.get("metrics") or []
    optimizer = dict(training["optimizer"])
    name = optimizer.pop("name")
    settings = ", ".join(f"{key} {value}" for key, value in optimizer.items())
    seconds = sum(entry.get("seconds") or 0 for entry in metrics)
    lines = ["## Training", "",
             f"- Optimizer: {name} ({settings}); batch size {training['batch_size']}; "
             f"learning-rate schedule `{training['lr_schedule']['name']}`; seed {training['seed']}",
             f"- Epochs: {len(metrics)} of {training['epochs']}; "
             + (STOP_REASONS.get(stop_reason, stop_reason) if stop_reason else "stop reason unknown"),
             f"- Training time: {seconds:.1f} s"]
    if training.get("early_stopping"):
        stopping = training["early_stopping"]
        lines.append(f"- Early stopping on `{stopping['monitor']}`, patience {stopping['patience']}"
                     + (", best weights restored" if stopping.get("restore_best_weights") else ""))
    if metrics:
        last = metrics[-1]
        lines.append(f"- Last epoch: {_epoch_figures(last, '', task)}"
                     + (f"; validation {_epoch_figures(last, 'val_', task)}"
                        if last.get("val_loss") is not None else ""))
    return lines


def _evaluation(record, about, mistakes_url):
    evaluation = record.get("evaluation")
    if not evaluation:
        return ["## Evaluation", "", "No test-set evaluation was saved with this model."]
    if about.task != CLASSIFICATION:
        return ["## Evaluation (test split)", "",
                f"- RMSE {_number(evaluation.get('rmse'))} and MAE "
                f"{_number(evaluation.get('mae'))}, in {_target(about)}'s own units; R² "
                f"{_number(evaluation.get('r2'), 3)} (1 predicts every row exactly, 0 is no "
                f"better than always answering the test rows' mean); loss "
                f"{_number(evaluation.get('loss'))} on the standardised target",
                f"- The largest errors: `GET {mistakes_url}`"]
    classes = about.classes
    matrix = np.asarray(evaluation["confusion_matrix"])
    support = matrix.sum(axis=1)
    n, accuracy = int(support.sum()), evaluation["accuracy"]
    margin = 1.96 * math.sqrt(accuracy * (1 - accuracy) / n) if n else 0.0
    lines = ["## Evaluation (test split)", "",
             f"- Accuracy {_percent(accuracy)} on {n:,} test examples (95% interval "
             f"±{100 * margin:.2f} points); loss {_number(evaluation['loss'])}", ""]
    rows = [(name, _percent(precision), _percent(recall), int(count)) for name, precision, recall,
            count in zip(classes, evaluation["precision"], evaluation["recall"], support, strict=True)]
    lines += _table(("class", "precision", "recall", "support"), rows)
    pairs = confused_pairs(matrix)
    lines += ["", "### Worst-confused pairs", ""]
    if not pairs:
        lines.append("None: every test example was classified correctly.")
    else:
        lines += _table(("true", "predicted as", "count", "share of the true class", "see them"), [
            (classes[true], classes[predicted], count, _percent(share),
             f"`GET {mistakes_url}?true={true}&predicted={predicted}`")
            for true, predicted, count, share in pairs])
    return lines


def _limitations(record, about, stop_reason):
    lines = ["## Limitations", ""]
    if about.kind == "image":
        lines += [f"- It only knows the {len(about.classes)} classes of {record['dataset']}: any "
                  "input, even a letter or a photo, gets one of them, often confidently.",
                  "- A dense network sees pixels, not shapes: digits drawn off-centre, rotated, "
                  "thick or thin beyond what the dataset holds are misread more often.",
                  "- The test accuracy holds for inputs like the test split (same source, same "
                  "preprocessing), not for data from elsewhere."]
    elif about.kind == "table":
        lines += ["- It learned from the rows of its dataset only: its test figures hold for rows "
                  "like them (same columns, values in the same ranges); a value far outside the "
                  "training range is an extrapolation, answered without a warning.",
                  "- A category value that the training split did not hold is refused, not guessed."]
    else:
        lines.append("- A truth table has no held-out data: the test split is the training set, "
                     "so the accuracy says it learned the table, not that it generalises.")
    evaluation = record.get("evaluation")
    if evaluation and about.task == CLASSIFICATION:
        weakest = int(np.argmin(evaluation["recall"]))
        lines.append(f"- Weakest class: {about.classes[weakest]} (recall "
                     f"{_percent(evaluation['recall'][weakest])}).")
    elif evaluation:
        lines.append(f"- A prediction is off by {_number(evaluation.get('mae'))} on average "
                     f"(MAE, in {_target(about)}'s units), more for unusual rows.")
    if stop_reason == STOPPED:
        lines.append("- Training was stopped by hand before its planned end.")
    if not record["spec"]["training"].get("validation_split"):
        lines.append("- No validation split: nothing watched for overfitting during training.")
    return lines


def _how_to_call(base_url, model_id, about):
    lines = ["## How to call it", "", "```bash"]
    if about.kind == "image":
        lines += [f"curl -s -F image=@digit.png {base_url}/v1/models/{model_id}/predict",
                  "python3 -c 'import json; print(json.dumps({\"inputs\": [[0.0] * 784]}))' |",
                  f"  curl -s {base_url}/v1/models/{model_id}/predict "
                  "-H 'Content-Type: application/json' -d @-"]
    else:
        lines.append(f"curl -s {base_url}/v1/models/{model_id}/predict "
                     "-H 'Content-Type: application/json' -d '{\"inputs\": [[0, 1], [1, 1]]}'")
    lines += [f"curl -s {base_url}/v1/models/{model_id}/mistakes?limit=10",
              f"curl -s -o model.zip {base_url}/v1/models/{model_id}/download", "```", "",
              "The answer lists a `label`, the `probabilities` of every class and the `top_k`. "
              "With an API key, add `-H \"Authorization: Bearer $KEY\"`."]
    return lines


def _task_line(record, about):
    if about.kind != "table":
        return (f"- Task: classify {about.kind} inputs of `{record['dataset']}` into "
                f"{len(about.classes)} classes")
    name = record.get("dataset_name") or about.dataset
    if about.task == CLASSIFICATION:
        return f"- Task: classification — sort rows of `{name}` into {len(about.classes)} classes"
    return f"- Task: regression — predict {_target(about)}, a number, from rows of `{name}`"


def build_card(record, *, base_url, stop_reason=None, example_row=None):
    """The card as Markdown text; `base_url` (e.g. http://host:8000) goes into the examples.
    A table model's example row is `example_row`, else a real row of its dataset."""
    about = facts(record)
    model_id = record["id"]
    stop_reason = record.get("stop_reason") or stop_reason
    if stop_reason is None and len(record.get("metrics") or []) == record["spec"]["training"]["epochs"]:
        stop_reason = COMPLETED  # saved before stop reasons were recorded: every epoch ran
    header = [f"# Model card: {record.get('name') or model_id}", "",
              f"- Model id: `{model_id}`" + (f", trained by job `{record['job_id']}`"
                                             if record.get("job_id") else ""),
              f"- Saved: {record.get('created_at') or 'unknown'}", _task_line(record, about)]
    if about.table is not None:
        row = example_row or card_tables.example_row(record, about.table)
        calling = card_tables.how_to_call(base_url, model_id, about.table, row)
    else:
        calling = _how_to_call(base_url, model_id, about)
    sections = [header, _data(record, about), _architecture(record, about.input_size),
                _training(record, stop_reason, about.task),
                _evaluation(record, about, f"/v1/models/{model_id}/mistakes"),
                _limitations(record, about, stop_reason), calling]
    return "\n".join("\n".join(section) + "\n" for section in sections)
