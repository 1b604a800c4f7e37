"""The training work of a network, in floating-point operations counted from its layer sizes.

This is the one place a FLOP count is computed: the service's work limit
(`MLPQ_MAX_JOB_FLOPS`), plans and time estimates all call these functions.

Counting convention (one sample, layers of sizes n_0 = input_size, n_1, ..., n_L; a
multiply-add is 2 FLOPs, as BLAS benchmarks count it):

    forward,  layer l:  z = a_prev @ W + b            2·n_{l-1}·n_l + n_l
    backward, layer l:  dW = a_prevᵀ @ δ              2·n_{l-1}·n_l
                        db = Σ_rows δ                 n_l
                        δ_prev = δ @ Wᵀ (l > 1 only)  2·n_{l-1}·n_l

So a sample costs about 6 FLOPs per weight, less the first layer's input gradient, which
backprop never needs (`Network.backprop` stops at layer 1): exactly the matrix work the engine
executes. Element-wise work (activations, their derivatives, the loss, the optimizer step) is
left out: it grows with the number of units, not with the number of weights, and is a few
percent of a network of any size worth limiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["flops_per_sample", "job_flops", "training_samples", "format_flops"]


def _sizes(layers: Iterable, input_size: int) -> list[int]:
    """[input_size, units_1, ..., units_L]; a layer is a spec dict with "units" or an int."""
    units = [int(layer["units"]) if isinstance(layer, Mapping) else int(layer) for layer in layers]
    return [int(input_size), *units]


def flops_per_sample(layers: Iterable, input_size: int) -> int:
    """Forward plus backward FLOPs of one training sample (see the module docstring).

    `layers`: the spec's layers (dicts with "units") or their widths as ints.
    >>> flops_per_sample([3, 1], 2)   # XOR 2-3-1: forward 15 + 7, backward 15 + 7 + 6
    50
    """
    sizes = _sizes(layers, input_size)
    total = 0
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        matmul = 2 * fan_in * fan_out
        total += matmul + fan_out  # forward: z = a_prev @ W + b
        total += matmul + fan_out  # backward: dW and db
        if index > 0:
            total += matmul  # backward: δ of the layer below
    return total


def job_flops(layers: Iterable, input_size: int, samples: int, epochs: int) -> int:
    """Training work of a whole job: epochs × training samples × FLOPs per sample.

    `samples` is the number of samples trained on per epoch (a validation split's rows are
    only fed forward once per epoch and are not counted)."""
    return int(epochs) * int(samples) * flops_per_sample(layers, input_size)


def training_samples(dataset_size: int, validation_split: float = 0.0) -> int:
    """The rows one epoch trains on: the first (1 - validation_split) of the training set, as
    `Network.fit` splits it (the last fraction is held out for validation)."""
    return int(dataset_size * (1.0 - validation_split))


def format_flops(flops: float) -> str:
    """A FLOP count the way a learner reads it: 2.1e15, 4.2e9, 50."""
    if flops < 1e4:
        return f"{flops:g}"
    mantissa, exponent = f"{flops:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"
