"""The jobs the suites train, by name: XOR on the engine's own tutorial network where it fits."""

from __future__ import annotations

from engine.examples import example

# `*_JOB` is a POST /v1/jobs body; `*_SPEC` and `mnist_spec()` are what `JobStore.create` takes
# as `spec` (model and training), for tests that queue jobs without the API.


def layer(units: int, activation: str) -> dict:
    return {"units": units, "activation": activation}


def adam(learning_rate: float) -> dict:
    return {"name": "adam", "learning_rate": learning_rate}


def mnist_model(units: int) -> dict:
    """784-units-10: one relu layer, a softmax output."""
    return {"layers": [layer(units, "relu"), layer(10, "softmax")]}


def with_training(body: dict, **changes) -> dict:
    """A copy of a job body or spec with some training fields changed."""
    return {**body, "training": {**body["training"], **changes}}


# ---- XOR --------------------------------------------------------------------------------------

# The XOR tutorial's 2-3-1 network (tanh, sigmoid, log loss, Xavier), as engine.examples has it.
XOR_MODEL = example("xor-log-loss")["spec"]["model"]
# 2-8-1: wide enough that 300 epochs of Adam get all four rows right.
WIDE_XOR_MODEL = {"layers": [layer(8, "tanh"), layer(1, "sigmoid")],
                  "loss": "binary_cross_entropy", "init": "xavier"}

XOR_JOB = {"name": "xor", "dataset": "xor", "model": WIDE_XOR_MODEL,
           "training": {"epochs": 300, "batch_size": 4, "optimizer": adam(0.05)}}
# The tutorial network, learning all four rows in 300 epochs of Adam from seed 0.
TUTORIAL_XOR_JOB = {"name": "xor", "dataset": "xor", "model": XOR_MODEL,
                    "training": {"epochs": 300, "batch_size": 4, "seed": 0,
                                 "optimizer": adam(0.1)}}
# One epoch at a tiny learning rate: an XOR net that still gets some rows wrong.
UNTRAINED_XOR_JOB = {"name": "insight-xor", "dataset": "xor", "model": XOR_MODEL,
                     "training": {"epochs": 1, "batch_size": 4, "seed": 3,
                                  "optimizer": {"name": "sgd", "learning_rate": 0.0001}}}
# What the studio's form builds: the tutorial's layers and loss, with the default (He) init.
STUDIO_XOR_JOB = {"name": "xor-studio", "dataset": "xor",
                  "model": {"layers": XOR_MODEL["layers"], "loss": XOR_MODEL["loss"]},
                  "training": {"optimizer": adam(0.05), "epochs": 40, "batch_size": 4}}
# A sweep's base: the tutorial network, every run the same length.
SWEEP_XOR_BASE = {"dataset": "xor", "model": XOR_MODEL,
                  "training": {"epochs": 60, "batch_size": 4, "optimizer": adam(0.05),
                               "early_stopping": None}}

# Two softmax outputs with cross-entropy; 300 epochs of Adam get all four rows right.
SOFTMAX_XOR_SPEC = {"model": {"layers": [layer(8, "tanh"), layer(2, "softmax")],
                              "loss": "cross_entropy", "init": "xavier"},
                    "training": {"optimizer": adam(0.05), "batch_size": 4, "epochs": 300,
                                 "seed": 0, "early_stopping": None}}
# A job of this name hangs after its second batch on a worker started with
# `--include tests.support.hanging`; one sample per batch gives it two hundred batches to hang in.
HANG_JOB_NAME = "hang-after-two-batches"
HANGING_XOR_SPEC = {"model": WIDE_XOR_MODEL,
                    "training": {"epochs": 50, "batch_size": 1, "seed": 0, "early_stopping": None}}

# ---- MNIST ------------------------------------------------------------------------------------

# ~0.3-0.8 s per epoch on one core: a job spans many seconds of epochs that can be interrupted,
# yet each epoch is cheap to redo.
SMALL_MNIST_MODEL = mnist_model(16)


def mnist_spec(epochs: int, units: int = 16, batch_size: int = 256, seed: int = 3) -> dict:
    """A JobStore spec: MNIST through one relu layer of `units`, every epoch trained."""
    return {"model": mnist_model(units),
            "training": {"epochs": epochs, "batch_size": batch_size, "seed": seed,
                         "early_stopping": None}}


def mnist_job(epochs: int, name: str = "fault-mnist", **options) -> dict:
    """`mnist_spec(epochs, **options)` as a POST /v1/jobs body."""
    return {"name": name, "dataset": "mnist", **mnist_spec(epochs, **options)}


SMALL_MNIST_JOB = {"name": "small-mnist", "dataset": "mnist", "model": SMALL_MNIST_MODEL,
                   "training": {"epochs": 2, "batch_size": 256, "seed": 0,
                                "validation_split": 0.1}}
# An image model in a few seconds: one epoch of MNIST through a small hidden layer.
STUDIO_MNIST_JOB = {"name": "mnist-studio", "dataset": "mnist",
                    "model": mnist_model(32),
                    "training": {"epochs": 1, "batch_size": 128, "validation_split": 0.1}}
# Small enough for quick epochs, long enough to be caught between its first and last epoch.
SLOW_MNIST_JOB = {"name": "job-predict", "dataset": "mnist",
                  "model": mnist_model(32),
                  "training": {"epochs": 40, "batch_size": 64, "seed": 1}}
# The session's trained model (tests/support/models.py): 784-128-10, two epochs.
TRAINED_MNIST_JOB = {"name": "predict-suite-mnist", "dataset": "mnist",
                     "model": mnist_model(128),
                     "training": {"epochs": 2, "batch_size": 128, "seed": 0}}
# Big enough to keep the worker busy for many seconds: 50 epochs of MNIST through 784-512-10.
LONG_MNIST_JOB = {"name": "long-mnist", "dataset": "mnist",
                  "model": mnist_model(512),
                  "training": {"epochs": 50, "batch_size": 64}}
