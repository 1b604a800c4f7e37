"""Built-in examples: the classic from-scratch networks as ready-to-post job specs.

`EXAMPLES` maps a name to {name, title, description, idea, expect, spec}: `spec` is the body
of `POST /v1/jobs` (also what `python -m engine train` reads), set up as its tutorial does;
`expect` says, as data, what a full run reaches: {"metric": "accuracy", "split": "test",
"min": ..., "epochs_note": ...} (regression: "metric": "r2"), where `split` "test" is the
dataset's test split (for the truth tables, the table itself). The service lists these at `GET /v1/examples`, and the studio
and the CLI read them from there; nothing else keeps its own copy.
"""

from __future__ import annotations

import copy
from types import MappingProxyType


def _layer(units: int, activation: str, **extra) -> dict:
    return {"units": units, "activation": activation, **extra}


def _sgd(learning_rate: float) -> dict:
    return {"name": "sgd", "learning_rate": learning_rate}


def _example(name, title, description, idea, expect, dataset, model, training):
    metric = "r2" if model.get("task") == "regression" else "accuracy"
    return name, {
        "name": name, "title": title, "description": description, "idea": idea,
        "expect": {"metric": metric, "split": "test", **expect},
        "spec": {"name": name, "dataset": dataset, "model": model, "training": training},
    }


_EXAMPLES = dict([
    _example(
        "and-perceptron", "AND with Rosenblatt's perceptron",
        "One step unit learns the AND gate, one sample at a time.",
        "The perceptron rule w <- w + eta (y - prediction) x: a single threshold unit separates "
        "any linearly separable classes (Rosenblatt 1958). mse on a step unit with its "
        "straight-through slope of 1 is exactly that rule.",
        {"min": 1.0, "epochs_note": "all 4 rows right within about 20 epochs"},
        "and",
        {"layers": [_layer(1, "step")], "loss": "mse", "init": "normal"},
        {"optimizer": _sgd(0.1), "batch_size": 1, "epochs": 50, "seed": 0}),
    _example(
        "xor-log-loss", "XOR with a hidden layer and log loss",
        "2-3-1, tanh then sigmoid, log loss, plain gradient descent on the full batch.",
        "XOR is not linearly separable, so it needs a hidden layer; backpropagation finds one "
        "(Rumelhart, Hinton & Williams 1986). With so few hidden units some seeds stall at 50% "
        "in a local minimum: change training.seed and watch.",
        {"min": 1.0, "epochs_note": "all 4 rows right by epoch 1500 with seed 0 (loss about 0.03)"},
        "xor",
        {"layers": [_layer(3, "tanh"), _layer(1, "sigmoid")], "loss": "binary_cross_entropy",
         "init": "xavier"},
        {"optimizer": _sgd(0.1), "batch_size": 4, "epochs": 1500, "seed": 0}),
    _example(
        "nielsen-784-30-10", "Nielsen's network.py: 784-30-10 with the quadratic cost",
        "Sigmoid everywhere, N(0, 1) weights, quadratic cost, SGD with eta = 3.0 on mini-batches of 10.",
        "Chapter 1 of Nielsen's Neural Networks and Deep Learning: the first network most "
        "learners write. The quadratic cost learns slowly when a sigmoid output saturates, "
        "which is what chapter 3's cross-entropy fixes.",
        {"min": 0.94, "epochs_note": "91.5% after 1 epoch, 94.9% after 30 (Nielsen reports 95.42%, best epoch, 50,000 training images)"},
        "mnist",
        {"layers": [_layer(30, "sigmoid"), _layer(10, "sigmoid")], "loss": "mse", "init": "normal"},
        {"optimizer": _sgd(3.0), "batch_size": 10, "epochs": 30, "seed": 0}),
    _example(
        "sigmoid-784-64-64-10", "All-sigmoid 784-64-64-10 with per-unit log loss",
        "Sigmoid on every layer, including 10 sigmoid outputs trained on one-hot targets with "
        "binary cross-entropy.",
        "With a sigmoid output and the log loss, the output error is simply delta = a - y: no "
        "sigmoid' factor, so saturated outputs still learn. Each output unit answers its own "
        "yes/no question; the prediction is the unit that says yes most loudly.",
        {"min": 0.96, "epochs_note": "95.6% after 2 epochs, 97.1% after 10"},
        "mnist",
        {"layers": [_layer(64, "sigmoid"), _layer(64, "sigmoid"), _layer(10, "sigmoid")],
         "loss": "binary_cross_entropy", "init": "xavier"},
        {"optimizer": _sgd(0.5), "batch_size": 10, "epochs": 10, "seed": 0}),
    _example(
        "mixed-relu-tanh-softmax", "Mixed activations: relu, tanh, softmax",
        "784-128-64-10: a relu layer, a tanh layer, a softmax output with cross-entropy, Adam.",
        "Each layer may have its own activation; backprop multiplies by each one's own local "
        "derivative (relu: 0 or 1, tanh: 1 - a^2). Softmax with cross-entropy again gives "
        "delta = a - y at the output.",
        {"min": 0.975, "epochs_note": "97.2% after 2 epochs, 97.9% after 10"},
        "mnist",
        {"layers": [_layer(128, "relu"), _layer(64, "tanh"), _layer(10, "softmax")],
         "loss": "cross_entropy", "init": "he"},
        {"optimizer": {"name": "adam", "learning_rate": 0.001}, "batch_size": 64, "epochs": 10,
         "seed": 0}),
    _example(
        "strong-mnist", "A strong MNIST MLP: 784-512-512-10, dropout, Adam, cosine decay",
        "relu 512-512 with dropout 0.2, He init, Adam (lr 1e-3) decayed by a cosine to 1e-5, "
        "batch 128, 20 epochs.",
        "What a plain MLP reaches with today's defaults: He init for relu, dropout against "
        "overfitting, Adam and a decaying learning rate. Keras's MLP example reports 98.40%.",
        {"min": 0.985, "epochs_note": "98.56% after 20 epochs (bench/accuracy.py, docs/benchmarks.md); "
                                      "96.7% when run for 1 epoch"},
        "mnist",
        {"layers": [_layer(512, "relu", dropout=0.2), _layer(512, "relu", dropout=0.2),
                    _layer(10, "softmax")], "loss": "cross_entropy", "init": "he"},
        {"optimizer": {"name": "adam", "learning_rate": 0.001}, "batch_size": 128, "epochs": 20,
         "seed": 0, "lr_schedule": {"name": "cosine", "min_learning_rate": 1e-5}}),
    _example(
        "iris-mlp", "Iris: a small network on a table",
        "4-16-3: Fisher's four flower measurements, standardised, a tanh layer, softmax over the "
        "three species, Adam.",
        "A table's columns are numbers on different scales (centimetres here, euros or years "
        "elsewhere): each is standardised with the training split's mean and std first, so no "
        "column dominates z = W·x + b at the start. The model keeps those numbers and applies "
        "them to every row it is asked about.",
        {"min": 0.86, "epochs_note": "90% (27 of the 30 test rows) after 60 epochs with seed 0; "
                                     "90-93% with seeds 0-7"},
        "iris",
        {"layers": [_layer(16, "tanh"), _layer(3, "softmax")], "loss": "cross_entropy",
         "init": "xavier"},
        {"optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 8, "epochs": 60,
         "seed": 0}),
    _example(
        "diabetes-regression", "Diabetes: regression with early stopping",
        "10-8-1: ten baseline measurements to disease progression a year later, a tanh layer, one "
        "identity output, mean squared error, Adam, early stopping on the validation loss.",
        "Regression predicts a number, so the output unit is linear (identity) and the loss is "
        "the squared error. The target is standardised for training and turned back into its "
        "own units for predictions and metrics (RMSE, MAE, R²). 442 rows overfit fast: early "
        "stopping keeps the epoch with the best validation loss.",
        {"min": 0.42, "epochs_note": "R² 0.50 on the test split with seed 0, stopping after 17 "
                                     "epochs (0.44-0.51 with seeds 0-7); a plain linear model "
                                     "reaches 0.52"},
        "diabetes",
        {"task": "regression", "layers": [_layer(8, "tanh"), _layer(1, "identity")],
         "loss": "mse", "init": "xavier"},
        {"optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 32, "epochs": 200,
         "validation_split": 0.2, "seed": 0,
         "early_stopping": {"monitor": "val_loss", "patience": 10, "restore_best_weights": True}}),
])

EXAMPLES = MappingProxyType(_EXAMPLES)  # read-only at the top; `example()` hands out copies


def example(name: str) -> dict:
    """A deep copy of example `name` (KeyError naming the known ones when there is none)."""
    if name not in EXAMPLES:
        raise KeyError(f"no example {name!r}; known examples: {', '.join(EXAMPLES)}")
    return copy.deepcopy(EXAMPLES[name])
