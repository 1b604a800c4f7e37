"""L2 weight decay: the penalty λ/2 ‖W‖² added to the loss, beside its gradient λW.

Biases are not decayed. The optimizers add the gradient during training; `Network.compute_loss`,
`Network.gradients` and `engine.trace` use the same two functions, so the rule is stated once.
"""

import numpy as np


def l2_penalty(weights, weight_decay) -> float:
    """λ/2 ‖W‖² for the flat weight vector (or any array of weights)."""
    weights = np.ravel(weights)
    return 0.5 * weight_decay * float(np.dot(weights, weights))


def add_l2_gradient(grad, weights, weight_decay):
    """grad += λW, in place (grad is a weight gradient of W's shape); returns grad."""
    if weight_decay:
        grad += weight_decay * weights
    return grad
