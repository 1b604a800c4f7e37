"""A Markdown model card built from a model's record: data, spec, training, test metrics, use.

Everything comes from what was saved with the model (its manifest's record), plus the job
record for what only the job knows (the stop reason, when the model record lacks it).
"""

import math

import numpy as np

from engine.datasets import DATASETS

CONFUSED_PAIRS = 5  # worst-confused (true, predicted) pairs listed
DATASET_DESCRIPTIONS = {
    "mnist": "MNIST: 28×28 greyscale handwritten digits 0–9 (60,000 training, 10,000 test "
             "images), white on black, centred by mass in a 20×20 box",
    "fashion-mnist": "Fashion-MNIST: 28×28 greyscale photos of ten kinds of clothing "
                     "(60,000 training, 10,000 test images)",
}
STOP_REASONS = {
    "completed": "ran every epoch it was given",
    "early_stopping": "stopped early: the monitored metric stopped improving",
    "stopped": "stopped by a user (stop-and-keep) after the last complete batch",
}


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


def _data(record, info):
    training = record["spec"]["training"]
    lines = ["## Data", "", f"- Dataset: `{record['dataset']}` — "
             + DATASET_DESCRIPTIONS.get(record["dataset"], f"a truth table of {info.input_size} inputs")]
    if info.kind == "image":
        lines.append("- Inputs: 784 pixel intensities scaled to 0..1. Uploaded images are made "
                     "to look like MNIST first: greyscale, inverted if the background is light, "
                     "cropped, scaled into 20×20 and centred in 28×28.")
    split = training.get("validation_split") or 0
    lines.append(f"- Validation: the last {split:.0%} of the training set was held out"
                 if split else "- Validation: none (no validation split)")
    lines.append(f"- Classes ({info.num_classes}): " + ", ".join(info.classes))
    return lines


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


def _training(record, stop_reason):
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
        lines.append(f"- Last epoch: loss {_number(last.get('loss'))}, accuracy "
                     f"{_percent(last.get('accuracy'))}"
                     + (f"; validation loss {_number(last['val_loss'])}, accuracy "
                        f"{_percent(last.get('val_accuracy'))}" if last.get("val_loss") is not None
                        else ""))
    return lines


def _evaluation(record, classes, mistakes_url):
    evaluation = record.get("evaluation")
    if not evaluation:
        return ["## Evaluation", "", "No test-set evaluation was saved with this model."]
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


def _limitations(record, info, stop_reason):
    lines = ["## Limitations", ""]
    if info.kind == "image":
        lines += [f"- It only knows the {info.num_classes} classes of {record['dataset']}: any "
                  "input, even a letter or a photo, gets one of them, often confidently.",
                  "- A dense network sees pixels, not shapes: digits drawn off-centre, rotated, "
                  "thick or thin beyond what the dataset holds are misread more often.",
                  "- The test accuracy holds for inputs like the test split (same source, same "
                  "preprocessing), not for data from elsewhere."]
    else:
        lines.append("- A truth table has no held-out data: the test split is the training set, "
                     "so the accuracy says it learned the table, not that it generalises.")
    evaluation = record.get("evaluation")
    if evaluation:
        weakest = int(np.argmin(evaluation["recall"]))
        lines.append(f"- Weakest class: {info.classes[weakest]} (recall "
                     f"{_percent(evaluation['recall'][weakest])}).")
    if stop_reason == "stopped":
        lines.append("- Training was stopped by hand before its planned end.")
    if not record["spec"]["training"].get("validation_split"):
        lines.append("- No validation split: nothing watched for overfitting during training.")
    return lines


def _how_to_call(base_url, model_id, info):
    lines = ["## How to call it", "", "```bash"]
    if info.kind == "image":
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


def build_card(record, *, base_url, stop_reason=None):
    """The card as Markdown text; `base_url` (e.g. http://host:8000) goes into the examples."""
    info = DATASETS[record["dataset"]]
    model_id = record["id"]
    stop_reason = record.get("stop_reason") or stop_reason
    if stop_reason is None and len(record.get("metrics") or []) == record["spec"]["training"]["epochs"]:
        stop_reason = "completed"  # saved before stop reasons were recorded: every epoch ran
    header = [f"# Model card: {record.get('name') or model_id}", "",
              f"- Model id: `{model_id}`" + (f", trained by job `{record['job_id']}`"
                                             if record.get("job_id") else ""),
              f"- Saved: {record.get('created_at') or 'unknown'}",
              f"- Task: classify {info.kind} inputs of `{record['dataset']}` into "
              f"{info.num_classes} classes"]
    sections = [header, _data(record, info), _architecture(record, info.input_size),
                _training(record, stop_reason),
                _evaluation(record, info.classes, f"/v1/models/{model_id}/mistakes"),
                _limitations(record, info, stop_reason), _how_to_call(base_url, model_id, info)]
    return "\n".join("\n".join(section) + "\n" for section in sections)
