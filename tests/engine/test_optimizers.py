"""Each optimizer's first two updates against values worked out by hand, state round trips,
and the learning-rate schedules."""

import math

import numpy as np
import pytest

from engine.optimizers import OPTIMIZERS, make_optimizer
from engine.schedules import SCHEDULES

GRADS = [({"W": [[0.5, -1.0]], "b": [2.0]}), ({"W": [[-0.5, 0.25]], "b": [1.0]})]


def _params():
    return [{"W": np.array([[1.0, -2.0]]), "b": np.array([0.5])}]


def _two_steps(config):
    optimizer = make_optimizer(config)
    params = _params()
    seen = []
    for grads in GRADS:
        optimizer.step(params, [{key: np.array(value, dtype=float) for key, value in grads.items()}])
        seen.append({key: value.copy() for key, value in params[0].items()})
    return seen


def _check(seen, expected):
    for got, (weights, bias) in zip(seen, expected, strict=True):
        np.testing.assert_allclose(got["W"], [weights], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(got["b"], [bias], rtol=1e-12, atol=1e-15)


def test_sgd():
    # W - 0.1 g: [1 - 0.05, -2 + 0.1], then [0.95 + 0.05, -1.9 - 0.025]; b 0.5 - 0.2 - 0.1
    _check(_two_steps({"name": "sgd", "learning_rate": 0.1}),
           [([0.95, -1.9], 0.3), ([1.0, -1.925], 0.2)])


def test_sgd_with_weight_decay_leaves_biases_alone():
    # g + 0.1 W = [0.6, -1.2] -> W [0.94, -1.88]; then [-0.5 + 0.094, 0.25 - 0.188] = [-0.406, 0.062]
    _check(_two_steps({"name": "sgd", "learning_rate": 0.1, "weight_decay": 0.1}),
           [([0.94, -1.88], 0.3), ([0.9806, -1.8862], 0.2)])


def test_momentum():
    # v = g1 -> W [0.95, -1.9]; v = 0.9 g1 + g2 = [-0.05, -0.65] -> W [0.955, -1.835]
    # bias: v = 2 -> 0.3; v = 1.8 + 1 = 2.8 -> 0.3 - 0.28
    _check(_two_steps({"name": "momentum", "learning_rate": 0.1, "momentum": 0.9}),
           [([0.95, -1.9], 0.3), ([0.955, -1.835], 0.02)])


def test_nesterov_momentum():
    # step uses g + 0.9 v: [0.95, -1.9] -> W [0.905, -1.81]; bias 2 + 1.8 = 3.8 -> 0.12
    # then v = [-0.05, -0.65]: g2 + 0.9 v = [-0.545, -0.335] -> W [0.9595, -1.7765];
    # bias v = 2.8: 1 + 2.52 = 3.52 -> 0.12 - 0.352
    _check(_two_steps({"name": "momentum", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
           [([0.905, -1.81], 0.12), ([0.9595, -1.7765], -0.232)])


def test_adam_with_bias_correction():
    lr, eps = 0.1, 1e-8
    # step 1: m̂ = g and v̂ = g², so each step is lr·g/(|g| + ε)
    first_w = [1 - lr * 0.5 / (0.5 + eps), -2 + lr * 1.0 / (1.0 + eps)]
    first_b = 0.5 - lr * 2.0 / (2.0 + eps)
    # step 2: m = 0.09 g1 + 0.1 g2, v = 0.000999 g1² + 0.001 g2², m̂ = m/0.19, v̂ = v/0.001999
    m = [0.09 * 0.5 + 0.1 * -0.5, 0.09 * -1.0 + 0.1 * 0.25, 0.09 * 2.0 + 0.1 * 1.0]
    v = [0.000999 * 0.25 + 0.001 * 0.25, 0.000999 * 1.0 + 0.001 * 0.0625,
         0.000999 * 4.0 + 0.001 * 1.0]
    step = [lr * (mi / 0.19) / (math.sqrt(vi / 0.001999) + eps) for mi, vi in zip(m, v, strict=True)]
    assert step[0] == pytest.approx(-0.1 * (0.005 / 0.19) / 0.5, rel=1e-6)  # v̂ = 0.25 exactly
    _check(_two_steps({"name": "adam", "learning_rate": lr}),
           [(first_w, first_b),
            ([first_w[0] - step[0], first_w[1] - step[1]], first_b - step[2])])


def test_adam_weight_decay_enters_the_gradient():
    # step 1 with g = [0.5 + 0.1·1, -1 + 0.1·-2] = [0.6, -1.2]: still lr·sign(g) (|g| >> ε)
    seen = _two_steps({"name": "adam", "learning_rate": 0.1, "weight_decay": 0.1})
    np.testing.assert_allclose(seen[0]["W"], [[1 - 0.1 * 0.6 / (0.6 + 1e-8),
                                               -2 + 0.1 * 1.2 / (1.2 + 1e-8)]], rtol=1e-12)


@pytest.mark.parametrize("config", [{"name": "sgd"}, {"name": "momentum", "nesterov": True},
                                    {"name": "adam"}])
def test_state_dict_round_trip_continues_identically(config):
    rng = np.random.default_rng(0)
    grads = [[{"W": rng.normal(size=(1, 2)), "b": rng.normal(size=1)}] for _ in range(3)]
    original, params = make_optimizer(config), _params()
    original.step(params, [{k: v.copy() for k, v in grads[0][0].items()}])
    copy = make_optimizer(config)
    copy.load_state_dict(original.state_dict())
    twin = [{key: value.copy() for key, value in params[0].items()}]
    for batch in grads[1:]:
        original.step(params, [{k: v.copy() for k, v in batch[0].items()}])
        copy.step(twin, [{k: v.copy() for k, v in batch[0].items()}])
    for key in ("W", "b"):
        np.testing.assert_array_equal(params[0][key], twin[0][key])


def test_make_optimizer_defaults_and_ignores_other_optimizers_keys():
    adam = make_optimizer({"name": "adam", "momentum": 0.5, "nesterov": True})
    assert (adam.learning_rate, adam.beta1, adam.beta2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-8)
    assert set(OPTIMIZERS) == {"sgd", "momentum", "adam"}
    for cls in OPTIMIZERS.values():
        assert {"learning_rate", "weight_decay"} <= set(cls.hyperparameters)


def test_schedules_by_hand():
    step, cosine, constant = SCHEDULES["step"], SCHEDULES["cosine"], SCHEDULES["constant"]
    assert [step(0.1, i, 5, step_size=2, gamma=0.5) for i in range(5)] == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025])
    assert [cosine(0.1, i, 4, min_learning_rate=0.0) for i in range(4)] == pytest.approx(
        [0.1, 0.1 * (1 + math.sqrt(0.5)) / 2, 0.05, 0.1 * (1 - math.sqrt(0.5)) / 2])
    assert cosine(0.1, 2, 4, min_learning_rate=0.02) == pytest.approx(0.06)
    assert constant(0.3, 7, 10) == 0.3
