"""Teaching warnings about a network before it trains: a registry of rules, each declared as data.

A rule has an `id`, a `title`, a `reason` (what goes wrong, and why, in a learner's words), a
`suggestion`, and a predicate over the `Setup` that returns the facts it found (a dict, filled
into the reason) or None when it does not apply. `advise(...)` runs every rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from engine import data_advice
from engine.activations import ACTIVATIONS, SATURATING_ACTIVATIONS
from engine.spec import count_parameters
from engine.tasks import DEFAULT_TASK, TASKS

# Nielsen (ch. 5) shows the gradient shrinking by ~4x per sigmoid layer: three saturating hidden
# layers already leave the first learning tens of times slower than the last.
DEEP_SATURATING_LAYERS = 3
# N(0, 1) weights give z a standard deviation of about √(fan_in · E[a²]): past ~10 inputs of
# unit size |z| > 3 is common, where σ'(z) < 0.05 (Nielsen ch. 3, "weight initialization").
SATURATING_FAN_IN = 10
PARAMETERS_PER_SAMPLE = 10  # past this many weights per training sample a net can memorise
# Largest plain-SGD learning rate before a step likely overshoots, by loss and output
# activation. With mse, a sigmoid/tanh output's slope σ' ≤ ¼ (or 1) damps each step, which is
# why Nielsen's η = 3.0 trains; an identity or relu output has no damping.
SGD_LEARNING_RATE_LIMITS = {
    ("cross_entropy", "softmax"): 2.0,
    ("binary_cross_entropy", "sigmoid"): 5.0,
    ("mse", "sigmoid"): 10.0,
    ("mse", "tanh"): 2.0,
    ("mse", "step"): 10.0,
    ("mse", "identity"): 0.5,
    ("mse", "relu"): 0.5,
    ("mse", "leaky_relu"): 0.5,
}
ADAM_LEARNING_RATE_LIMIT = 0.05


@dataclass(frozen=True)
class Setup:
    """What the rules look at: the model spec, the training config, and the data's shape.

    `samples` is the number of training samples per epoch (None when unknown);
    `dataset_task` the dataset's own task (classification or regression), when known; `data`
    a table's training-data profile (`engine.data_advice.profile`), when known."""

    model: Mapping
    training: Mapping
    input_size: int
    samples: int | None = None
    dataset: str | None = None
    dataset_task: str | None = None
    data: Mapping | None = None

    @property
    def layers(self) -> list:
        return list(self.model.get("layers", []))

    @property
    def task(self) -> str | None:
        """The spec's task (its default when left out), or None when it names no task."""
        task = self.model.get("task", DEFAULT_TASK)
        return task if isinstance(task, str) and task in TASKS else None

    @property
    def loss(self) -> str:
        return self.model.get("loss", TASKS[self.task or DEFAULT_TASK].default_loss)

    @property
    def optimizer(self) -> Mapping:
        return self.training.get("optimizer") or {}

    @property
    def batch_size(self) -> int | None:
        return self.training.get("batch_size")


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    reason: str  # a template filled with the predicate's facts
    suggestion: str
    applies: Callable[[Setup], dict | None]


def _saturating(name) -> bool:
    """Whether the activation `name` saturates (a raw spec may hold anything here)."""
    return isinstance(name, str) and name in SATURATING_ACTIVATIONS


def _deep_saturating(setup: Setup) -> dict | None:
    hidden = [j for j, layer in enumerate(setup.layers[:-1])
              if _saturating(layer.get("activation"))]
    if len(hidden) < DEEP_SATURATING_LAYERS:
        return None
    return {"layers": hidden, "count": len(hidden), "where": _listed(hidden),
            "names": ", ".join(sorted({setup.layers[j]["activation"] for j in hidden}))}


def _sgd_rate(setup: Setup) -> dict | None:
    optimizer = setup.optimizer
    if optimizer.get("name") not in ("sgd", "momentum") or not setup.layers:
        return None
    output = setup.layers[-1].get("activation")
    limit = SGD_LEARNING_RATE_LIMITS.get((setup.loss, output))
    rate = float(optimizer.get("learning_rate", 0.01))
    # momentum μ multiplies the steady-state step by 1 / (1 - μ)
    effective = rate / (1.0 - float(optimizer.get("momentum", 0.0) or 0.0)) \
        if optimizer.get("name") == "momentum" else rate
    if limit is None or effective <= limit:
        return None
    return {"rate": rate, "effective": effective, "limit": limit, "loss": setup.loss, "output": output}


def _adam_rate(setup: Setup) -> dict | None:
    optimizer = setup.optimizer
    rate = float(optimizer.get("learning_rate", 0.001))
    if optimizer.get("name") != "adam" or rate <= ADAM_LEARNING_RATE_LIMIT:
        return None
    return {"rate": rate, "limit": ADAM_LEARNING_RATE_LIMIT}


def _xor_without_hidden(setup: Setup) -> dict | None:
    return {} if setup.dataset == "xor" and len(setup.layers) == 1 else None


def _batch_too_large(setup: Setup) -> dict | None:
    batch, samples = setup.batch_size, setup.samples
    if batch is None or samples is None or batch <= samples:
        return None
    return {"batch": batch, "samples": samples}


def _softmax_with_mse(setup: Setup) -> dict | None:
    output = setup.layers[-1].get("activation") if setup.layers else None
    classifying = setup.task == "classification"  # regression: _bounded_regression_output
    return {} if classifying and output == "softmax" and setup.loss == "mse" else None


def _sigmoid_with_mse(setup: Setup) -> dict | None:
    output = setup.layers[-1].get("activation") if setup.layers else None
    classifying = setup.task == "classification"  # regression: _bounded_regression_output
    return {"output": output} if classifying and _saturating(output) and setup.loss == "mse" else None


def _bounded_regression_output(setup: Setup) -> dict | None:
    """A regression output whose activation's range is not the whole number line."""
    output = setup.layers[-1].get("activation") if setup.layers else None
    activation = ACTIVATIONS.get(output) if isinstance(output, str) else None
    if setup.task != "regression" or activation is None:
        return None
    low, high = activation.range
    if low == -float("inf") and high == float("inf"):
        return None
    return {"output": output, "range": f"[{_end(low)}, {_end(high)}]"}


def _end(bound: float) -> str:
    return {float("inf"): "∞", -float("inf"): "-∞"}.get(bound, f"{bound:g}")


def _classes_as_regression(setup: Setup) -> dict | None:
    return {} if setup.task == "regression" and setup.dataset_task == "classification" else None


def _too_many_parameters(setup: Setup) -> dict | None:
    if not setup.samples or any(not isinstance(layer.get("units"), int) for layer in setup.layers):
        return None
    parameters = count_parameters(setup.layers, setup.input_size)
    if parameters <= PARAMETERS_PER_SAMPLE * setup.samples:
        return None
    return {"parameters": parameters, "samples": setup.samples,
            "ratio": parameters / setup.samples}


def _normal_init_saturates(setup: Setup) -> dict | None:
    if setup.model.get("init", "he") != "normal":
        return None
    sizes = [setup.input_size] + [layer.get("units") for layer in setup.layers]
    hit = [j for j, layer in enumerate(setup.layers)
           if _saturating(layer.get("activation")) and isinstance(sizes[j], int)
           and sizes[j] >= SATURATING_FAN_IN]
    if not hit:
        return None
    return {"layers": hit, "where": _listed(hit), "fan_in": max(sizes[j] for j in hit)}


def _listed(indexes: list[int]) -> str:
    names = [str(index) for index in indexes]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


RULES: dict[str, Rule] = {rule.id: rule for rule in (
    Rule("vanishing_gradients", "Sigmoid or tanh in a deep stack",
         "{count} hidden layers ({where}) use {names}. Each one multiplies the gradient by σ'(z) ≤ ¼ "
         "(tanh: ≤ 1, and far less when saturated) on the way back, so the first layers get a "
         "tiny δ and barely learn: the vanishing-gradient problem.",
         "Use relu (with he init) in the hidden layers, or fewer layers.",
         _deep_saturating),
    Rule("sgd_learning_rate_diverges", "SGD learning rate likely to diverge",
         "A learning rate of {rate:g} (effective {effective:g}) with the {loss} loss and a "
         "{output} output is above {limit:g}: each step can overshoot the minimum and the loss "
         "grows instead of shrinking, until it becomes NaN.",
         "Lower the learning rate by 10x, or use adam (default 0.001).",
         _sgd_rate),
    Rule("adam_learning_rate_high", "Adam learning rate unusually high",
         "Adam's step is about the learning rate for every weight, whatever the gradient's "
         "size: {rate:g} is above {limit:g}, so weights jump around instead of settling.",
         "Start with adam's default 0.001.",
         _adam_rate),
    Rule("xor_without_hidden_layer", "XOR with no hidden layer",
         "XOR is not linearly separable: no single line splits (0,1),(1,0) from (0,0),(1,1), so a "
         "network without a hidden layer can get at most 3 of the 4 cases right, however long "
         "it trains (Minsky and Papert, 1969).",
         "Add a hidden layer of 2-4 tanh or sigmoid units.",
         _xor_without_hidden),
    Rule("batch_larger_than_dataset", "Batch larger than the dataset",
         "The batch size {batch} is larger than the {samples} training samples, so every batch "
         "is the whole dataset: this is full-batch gradient descent, one step per epoch.",
         "Use a batch size at most the number of samples (e.g. 32-128), or keep it and expect "
         "one update per epoch.",
         _batch_too_large),
    Rule("softmax_with_mse", "Softmax with the quadratic cost",
         "A softmax output with mse learns slowly when it is badly wrong: the gradient carries "
         "the softmax's own slope, which is near zero for a confident wrong answer (the "
         "slow-learning problem). mlpq refuses this pairing.",
         "Use the cross_entropy loss with softmax: its δᴸ is simply a - y.",
         _softmax_with_mse),
    Rule("saturating_output_with_mse", "Sigmoid/tanh output with the quadratic cost",
         "With mse and a {output} output, δᴸ = (a - y) ⊙ σ'(zᴸ): a unit that is confidently "
         "wrong sits where σ' ≈ 0 and learns slowest exactly when it is most wrong (the "
         "slow-learning problem, Nielsen ch. 3).",
         "Use softmax with cross_entropy (or sigmoid with binary_cross_entropy): δᴸ = a - y.",
         _sigmoid_with_mse),
    Rule("more_parameters_than_samples", "Far more parameters than training samples",
         "{parameters:,} parameters for {samples:,} training samples ({ratio:.0f} per sample): "
         "the network can memorise the training set instead of learning what generalises.",
         "Hold out data with validation_split and watch val_loss, add dropout or weight_decay, "
         "or use a smaller network.",
         _too_many_parameters),
    Rule("normal_init_with_sigmoid", "`normal` init with sigmoid or tanh",
         "N(0, 1) weights with {fan_in} inputs make |z| large (its spread is about √fan_in), so "
         "sigmoid/tanh units in layers {where} start saturated, with σ'(z) ≈ 0: they learn "
         "slowly from the first step.",
         "Use xavier init for sigmoid/tanh layers (he for relu).",
         _normal_init_saturates),
    Rule("regression_output_bounded", "Regression through a bounded output",
         "A {output} output only gives values in {range}, but a regression target (standardised "
         "for training) spreads over the whole number line, about a third of it beyond ±1: the "
         "network can never predict a value outside {range}, however long it trains, and it "
         "strains its last layer pushing towards the edge.",
         "Use an identity (linear) output layer for regression: its value can be any number.",
         _bounded_regression_output),
    Rule("classification_data_as_regression", "Class labels trained as numbers",
         "The dataset's target is a class, but this network is trained as regression: it learns "
         "the class indexes as numbers, as if class 1 lay halfway between classes 0 and 2 and "
         "a prediction of 1.4 meant something. Class indexes have no such order or distance.",
         "Set task to classification: one softmax output unit per class, with cross_entropy.",
         _classes_as_regression),
    Rule("constant_columns", "Columns that never change",
         "{count} input(s) ({names}) take one value in every training row: they carry no "
         "information, and their weights only ever learn from the bias-like constant.",
         "Drop those columns from the CSV, or check that the file holds what you meant.",
         data_advice.constant_columns),
    Rule("unscaled_columns", "Inputs on very different scales",
         "{count} input(s) ({names}) are far from mean 0 and spread 1 ({worst}: mean {mean:.3g}, "
         "std {std:.3g}). Such an input dominates z = W·a + b at the start and its weight's "
         "gradient dwarfs the others', so one learning rate is too large for it and too small "
         "for the rest.",
         "Standardise each input ((x - mean) / std on the training rows), as CSV uploads do, "
         "or scale pixel values to [0, 1].",
         data_advice.unscaled_columns),
    Rule("class_imbalance", "One class far rarer than another",
         "The training rows hold {common_count:,} of class {common!r} but only {rare_count:,} "
         "of {rare!r}: always answering {common!r} already scores {share:.0%}, so accuracy "
         "says little and the rare class is learned last, if at all.",
         "Look at per-class recall (the model card and confusion matrix), collect more "
         "{rare!r} rows, or judge the model on the rare class's recall.",
         data_advice.class_imbalance),
)}


def advise(model: Mapping, training: Mapping | None = None, *, input_size: int,
           samples: int | None = None, dataset: str | None = None,
           dataset_task: str | None = None, data: Mapping | None = None) -> list[dict]:
    """Every warning that applies: [{id, title, reason, suggestion, facts}, ...] in RULES order.

    `model` and `training` may be validated (defaults filled) or raw; `samples` is the number of
    training samples per epoch; `dataset_task` the dataset's task (classification or
    regression), when known; `data` a table's training-data profile (engine.data_advice)."""
    setup = Setup(model, training or {}, int(input_size), samples, dataset, dataset_task, data)
    warnings = []
    for rule in RULES.values():
        facts = rule.applies(setup)
        if facts is None:
            continue
        warnings.append({"id": rule.id, "title": rule.title, "reason": rule.reason.format(**facts),
                         "suggestion": rule.suggestion, "facts": facts})
    return warnings
