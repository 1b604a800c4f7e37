"""The built-in examples are valid jobs under the service's default limits, as their tutorials
set them up; their training runs are checked over HTTP in tests/api/test_examples.py."""

import pytest

from engine.datasets import DATASETS
from engine.examples import EXAMPLES, example
from engine.spec import Limits, validate_job_work, validate_model_spec, validate_training_config

REQUIRED = {"and-perceptron", "xor-log-loss", "nielsen-784-30-10", "sigmoid-784-64-64-10",
            "mixed-relu-tanh-softmax", "strong-mnist", "iris-mlp", "diabetes-regression"}


def test_the_classics_are_all_there():
    assert REQUIRED <= set(EXAMPLES)
    for name, entry in EXAMPLES.items():
        assert set(entry) == {"name", "title", "description", "idea", "expect", "spec"}
        assert entry["name"] == name == entry["spec"]["name"]
        regression = entry["spec"]["model"].get("task") == "regression"
        assert entry["expect"]["metric"] == ("r2" if regression else "accuracy")
        assert entry["expect"]["split"] == "test"
        assert 0.0 < entry["expect"]["min"] <= 1.0 and entry["expect"]["epochs_note"]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_each_example_is_a_valid_job_within_the_default_limits(name):
    spec = EXAMPLES[name]["spec"]
    info = DATASETS[spec["dataset"]]
    model = validate_model_spec(spec["model"], input_size=info.input_size,
                                num_classes=info.num_classes, limits=Limits(),
                                dataset_task=info.task)
    training = validate_training_config(spec["training"], limits=Limits(), task=model["task"])
    assert validate_job_work(model, training, dataset_size=info.train_size, limits=Limits()) > 0


def test_as_the_tutorials_set_them_up():
    xor = EXAMPLES["xor-log-loss"]["spec"]
    assert [(layer["units"], layer["activation"]) for layer in xor["model"]["layers"]] == [
        (3, "tanh"), (1, "sigmoid")]
    assert xor["model"]["loss"] == "binary_cross_entropy"
    assert xor["training"]["optimizer"] == {"name": "sgd", "learning_rate": 0.1}
    assert (xor["training"]["batch_size"], xor["training"]["epochs"]) == (4, 1500)  # full batch
    nielsen = EXAMPLES["nielsen-784-30-10"]["spec"]
    assert nielsen["model"]["loss"] == "mse" and nielsen["model"]["init"] == "normal"
    assert nielsen["training"]["optimizer"] == {"name": "sgd", "learning_rate": 3.0}
    assert nielsen["training"]["batch_size"] == 10
    sigmoid = EXAMPLES["sigmoid-784-64-64-10"]["spec"]["model"]
    assert [layer["activation"] for layer in sigmoid["layers"]] == ["sigmoid"] * 3
    assert sigmoid["layers"][-1]["units"] == 10 and sigmoid["loss"] == "binary_cross_entropy"
    perceptron = EXAMPLES["and-perceptron"]["spec"]
    assert perceptron["model"]["layers"] == [{"units": 1, "activation": "step"}]
    assert perceptron["training"]["batch_size"] == 1  # online learning
    mixed = EXAMPLES["mixed-relu-tanh-softmax"]["spec"]["model"]
    assert [layer["activation"] for layer in mixed["layers"]] == ["relu", "tanh", "softmax"]
    assert EXAMPLES["strong-mnist"]["expect"]["min"] >= 0.985


def test_example_hands_out_copies():
    copy = example("xor-log-loss")
    copy["spec"]["training"]["epochs"] = 1
    assert EXAMPLES["xor-log-loss"]["spec"]["training"]["epochs"] == 1500
    with pytest.raises(KeyError, match="known examples: and-perceptron"):
        example("nope")
