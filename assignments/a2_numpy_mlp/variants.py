"""Correct implementations of a2_numpy_mlp written differently; each must keep full marks.

Each function runs inside a copy of the reference module and replaces its target
there, so it keeps the reference's cache layout.
"""
import numpy as np

from graders.grading.catalog import variant


@variant("linear_forward", "einsum instead of the @ operator")
def linear_forward_einsum(x, W, b):
    return np.einsum("nd,dm->nm", x, W) + b, (x, W, b)


@variant("linear_backward", "einsum for every gradient")
def linear_backward_einsum(dout, cache):
    x, W, _ = cache
    return np.einsum("nm,dm->nd", dout, W), np.einsum("nd,nm->dm", x, dout), np.einsum("nm->m", dout)


@variant("relu_forward", "np.where instead of np.maximum")
def relu_forward_where(x):
    return np.where(x > 0, x, np.zeros_like(x)), x


@variant("relu_backward", "an explicit loop over the entries")
def relu_backward_loop(dout, cache):
    x = cache
    dx = np.zeros_like(dout)
    for index in np.ndindex(x.shape):
        if x[index] > 0:
            dx[index] = dout[index]
    return dx


@variant("dropout_forward", "mask drawn with rng.binomial(1, 1 - p)")
def dropout_forward_binomial(x, p, train, rng):
    if not train:
        return x.copy(), None
    mask = (rng.binomial(1, 1 - p, size=x.shape) / (1 - p)).astype(x.dtype)
    return x * mask, mask


@variant("dropout_forward", "mask drawn with rng.uniform(size=...) > p, scaling by division")
def dropout_forward_uniform(x, p, train, rng):
    if not train:
        return x.copy(), None
    keep = rng.uniform(size=x.shape) > p
    out = np.where(keep, x / x.dtype.type(1 - p), x.dtype.type(0))
    return out, (keep / (1 - p)).astype(x.dtype)


@variant("sgd_momentum_step", "first step copies the gradient into the velocity, as torch.optim.SGD does")
def sgd_momentum_step_first_copy(params, grads, velocity, lr, momentum):
    new_params, new_velocity = {}, {}
    for name, value in params.items():
        if name in velocity:
            new_velocity[name] = momentum * velocity[name] + grads[name]
        else:
            new_velocity[name] = grads[name].copy()
        new_params[name] = value - lr * new_velocity[name]
    return new_params, new_velocity
