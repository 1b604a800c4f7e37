"""engine.flops: training work counted by hand for small nets, and the figures the docs quote."""

import pytest

from engine.flops import flops_per_sample, format_flops, job_flops


def test_xor_2_3_1_by_hand():
    # layer 1 (2->3): z = x@W + b is 2*2*3 + 3 = 15; dW + db is 12 + 3 = 15; no input gradient.
    # layer 2 (3->1): forward 2*3*1 + 1 = 7; dW + db 6 + 1 = 7; δ to layer 1 is 6.
    assert flops_per_sample([{"units": 3}, {"units": 1}], 2) == 15 + 15 + 7 + 7 + 6


def test_perceptron_has_no_input_gradient():
    # one layer 2->1: forward 4 + 1, backward 4 + 1
    assert flops_per_sample([1], 2) == 10


def test_nielsen_784_30_10_by_hand():
    first = 2 * 784 * 30 + 30  # forward, and the same again for dW + db
    second = 2 * 30 * 10 + 10
    assert flops_per_sample([30, 10], 784) == 2 * first + 2 * second + 2 * 30 * 10 == 95960


def test_layers_as_spec_dicts_or_ints_agree():
    layers = [{"units": 64, "activation": "sigmoid"}, {"units": 64, "activation": "sigmoid"},
              {"units": 10, "activation": "sigmoid"}]
    assert flops_per_sample(layers, 784) == flops_per_sample([64, 64, 10], 784)


def test_about_six_flops_per_weight():
    # a wide net: everything but the first layer's input gradient is 6 FLOPs per weight
    weights = 784 * 1024 + 1024 * 1024 + 1024 * 10
    count = flops_per_sample([1024, 1024, 10], 784)
    assert 6 * weights - 2 * 784 * 1024 < count < 6 * weights


def test_benchmark_figure_784_256_128_10():
    # docs/benchmarks.md counts 60.4 GFLOP executed per MNIST epoch of 784-256-128-10
    assert job_flops([256, 128, 10], 784, 60000, 1) == 60000 * 1_007_892
    assert round(job_flops([256, 128, 10], 784, 60000, 1) / 1e9, 1) == 60.5


def test_job_flops_scales_with_samples_and_epochs():
    per_sample = flops_per_sample([3, 1], 2)
    assert job_flops([3, 1], 2, samples=4, epochs=1500) == 4 * 1500 * per_sample == 300_000
    assert job_flops([3, 1], 2, samples=0, epochs=10) == 0


@pytest.mark.parametrize(("flops", "text"), [
    (2.1e15, "2.1e15"), (1e15, "1e15"), (300_000, "3e5"), (50, "50"), (123_456_789, "1.2e8"),
])
def test_format_flops(flops, text):
    assert format_flops(flops) == text
