"""Draw docs/seeing-inside.md's pictures and numbers from a REAL run against a running service.

    MLPQ_DATA_DIR=../shared/datasets ./run serve --port 8000 &   # the whole service
    .venv/bin/python docs/seeing_inside_figures.py --url http://127.0.0.1:8000

It plans and trains an MNIST model (784-64-10, relu, Adam, 5 epochs), asks the running job
for predictions after each epoch, then fetches the model's weights picture, mistakes, saliency
and card, and a one-step trace of XOR. Pictures go to docs/img/, the numbers the page quotes
are printed as JSON.
"""

import argparse
import base64
import io
import json
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from engine import datasets

IMG = Path(__file__).resolve().parent / "img"
JOB = {
    "name": "seeing-inside", "dataset": "mnist",
    "model": {"layers": [{"units": 64, "activation": "relu"}, {"units": 10, "activation": "softmax"}]},
    "training": {"epochs": 5, "batch_size": 32, "validation_split": 0.1, "seed": 0},
}
TRACE = {
    "model": {"layers": [{"units": 2, "activation": "sigmoid"}, {"units": 1, "activation": "sigmoid"}],
              "loss": "binary_cross_entropy"},
    "inputs": [[0, 0], [0, 1], [1, 0], [1, 1]], "labels": [0, 1, 1, 0],
    "optimizer": {"name": "sgd", "learning_rate": 0.5},
    "weights": [{"W": [[0.5, -0.3], [0.8, 0.2]], "b": [0.1, -0.1]}, {"W": [[1.2], [-0.7]], "b": [0.05]}],
}


def data_url_image(url):
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def save(figure, name):
    figure.savefig(IMG / name, dpi=80)
    print(f"wrote docs/img/{name} ({(IMG / name).stat().st_size} bytes)", file=sys.stderr)


def watch_training(http, job_id, digits, labels):
    """The running job's answers for test digits after each epoch; the digit that changed most."""
    answers = {}
    while True:
        job = http.get(f"/v1/jobs/{job_id}").json()
        response = http.post(f"/v1/jobs/{job_id}/predict", json={"inputs": digits.tolist()})
        if response.status_code == 200:
            body = response.json()
            answers.setdefault(body["epoch"], (body["weights"], body["predictions"]))
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.1)
    epochs = sorted(answers)
    truth = [[p["probabilities"][label] for p, label in zip(answers[e][1], labels, strict=True)]
             for e in epochs]
    pick = int(np.argmax(np.ptp(np.array(truth), axis=0)))  # the answer that moved the most
    return job, pick, [{"epoch": e, "weights": answers[e][0], "label": answers[e][1][pick]["label"],
                        "probability_of_true_label": round(truth[i][pick], 4),
                        "probability_of_label": round(max(answers[e][1][pick]["probabilities"]), 4)}
                       for i, e in enumerate(epochs)]


def mistakes_figure(mistakes):
    figure = Figure(figsize=(8, 1.55), layout="constrained")
    for index, mistake in enumerate(mistakes):
        axes = figure.add_subplot(1, len(mistakes), index + 1)
        axes.imshow(np.asarray(data_url_image(mistake["image"])), cmap="gray")
        axes.set_title(f"#{mistake['index']}\n{mistake['true']} → {mistake['predicted']}"
                       f" ({mistake['confidence']:.0%})", fontsize=8)
        axes.set_axis_off()
    return figure


def saliency_figure(predictions, digits):
    figure = Figure(figsize=(6, 2.6), layout="constrained")
    for index, (prediction, digit) in enumerate(zip(predictions, digits, strict=True)):
        axes = figure.add_subplot(2, len(digits), index + 1)
        axes.imshow(digit.reshape(28, 28), cmap="gray")
        axes.set_title(f"says {prediction['label']}", fontsize=8)
        axes.set_axis_off()
        axes = figure.add_subplot(2, len(digits), len(digits) + index + 1)
        axes.imshow(np.asarray(data_url_image(prediction["saliency_overlay"])))
        axes.set_axis_off()
    return figure


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    IMG.mkdir(exist_ok=True)
    _, (X_test, y_test) = datasets.load("mnist")
    numbers = {}
    with httpx.Client(base_url=args.url, timeout=120) as http:
        numbers["plan"] = http.post("/v1/plans", json=JOB).json()
        job = http.post("/v1/jobs", json=JOB).json()
        job, pick, numbers["watch"] = watch_training(http, job["id"], X_test[:300], y_test[:300])
        numbers["watched_digit"] = {"index": pick, "true": int(y_test[pick])}
        figure = Figure(figsize=(1.2, 1.2), layout="constrained")
        axes = figure.add_subplot()
        axes.imshow(X_test[pick].reshape(28, 28), cmap="gray")
        axes.set_axis_off()
        save(figure, "watched-digit.png")
        numbers["job"] = {"status": job["status"], "stop_reason": job.get("stop_reason"),
                          "metrics": job["metrics"]}
        model_id = job["model_id"]
        (IMG / "weights-layer0.png").write_bytes(http.get(f"/v1/models/{model_id}/weights/0.png").content)
        (IMG / "weights-layer1.png").write_bytes(http.get(f"/v1/models/{model_id}/weights/1.png").content)
        mistakes = http.get(f"/v1/models/{model_id}/mistakes", params={"limit": 8}).json()
        numbers["mistakes"] = {key: value for key, value in mistakes.items() if key != "mistakes"}
        save(mistakes_figure(mistakes["mistakes"]), "mistakes.png")
        record = http.get(f"/v1/models/{model_id}").json()
        matrix = np.array(record["evaluation"]["confusion_matrix"])
        off = matrix - np.diag(np.diag(matrix))
        true, predicted = (int(v) for v in np.unravel_index(off.argmax(), off.shape))
        cell = http.get(f"/v1/models/{model_id}/mistakes",
                        params={"true": true, "predicted": predicted, "limit": 8}).json()
        numbers["cell"] = {"true": true, "predicted": predicted, "count": int(matrix[true, predicted]),
                           "total": cell["total"]}
        save(mistakes_figure(cell["mistakes"]), "mistakes-cell.png")
        chosen = [int(np.flatnonzero(y_test == digit)[0]) for digit in (0, 2, 3, 7, 9)]
        explained = http.post(f"/v1/models/{model_id}/predict", params={"explain": "true"},
                              json={"inputs": X_test[chosen].tolist()}).json()
        save(saliency_figure(explained["predictions"], X_test[chosen]), "saliency.png")
        numbers["card"] = http.get(f"/v1/models/{model_id}/card").text
        numbers["trace"] = http.post("/v1/trace", json=TRACE).json()
    print(json.dumps(numbers, indent=1))


if __name__ == "__main__":
    main()
