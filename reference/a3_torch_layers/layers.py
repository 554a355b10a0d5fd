"""A3: neural-network layers in PyTorch, forward and backward written by hand.

Activations (sigmoid, tanh, leaky ReLU), a numerically stable softmax and log-softmax,
the cross-entropy loss with label smoothing, batch normalisation in training and
evaluation mode, and inverted dropout drawn from a ``torch.Generator``.

Conventions of every function here:

- ``*_forward`` returns ``(out, cache)`` and ``*_backward(dout, cache)`` returns the
  gradient(s) with respect to the forward's input(s). The cache is yours: only your own
  backward reads it, so put in it whatever that backward needs.
- Backward passes are written by hand: no ``torch.autograd``, no ``.backward()``, and no
  torch function that computes the thing being implemented (``torch.sigmoid``,
  ``torch.tanh``, ``F.leaky_relu``, ``torch.softmax``, ``F.cross_entropy``,
  ``F.batch_norm``, ``F.dropout``, ...). The grader refuses those calls while your
  functions run.
- Every function works on whatever device its inputs are on (CPU or GPU) and returns
  results of the inputs' dtype, on the inputs' device. No function modifies its inputs
  in place.
"""
import torch


# --------------------------------------------------------------------------- activations

def sigmoid_forward(x):
    """The logistic sigmoid ``1 / (1 + exp(-x))``, elementwise.

    Must not overflow: for large ``|x|`` the result saturates at 0 or 1 (never nan).

    Args:
        x: a floating-point tensor of any shape.

    Returns:
        out: tensor of ``x``'s shape, dtype and device, every entry in [0, 1].
        cache: what ``sigmoid_backward`` needs (the output ``out`` is enough).
    """
    ### BEGIN SOLUTION
    # exp of a non-positive number never overflows: write both branches with exp(-|x|).
    z = torch.exp(-x.abs())
    out = torch.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return out, out
    ### END SOLUTION


def sigmoid_backward(dout, cache):
    """Backward pass of ``sigmoid_forward``: ``dx = dout * s * (1 - s)`` with ``s = sigmoid(x)``.

    Args:
        dout: upstream gradient, shape of the forward's ``x``.
        cache: what ``sigmoid_forward`` returned.

    Returns:
        dx: tensor of ``dout``'s shape, dtype and device.
    """
    ### BEGIN SOLUTION
    out = cache
    return dout * out * (1 - out)
    ### END SOLUTION


def tanh_forward(x):
    """The hyperbolic tangent ``(e^x - e^-x) / (e^x + e^-x)``, elementwise.

    Must not overflow: for large ``|x|`` the result saturates at -1 or 1 (never nan).

    Args:
        x: a floating-point tensor of any shape.

    Returns:
        out: tensor of ``x``'s shape, dtype and device, every entry in [-1, 1].
        cache: what ``tanh_backward`` needs (the output ``out`` is enough).
    """
    ### BEGIN SOLUTION
    # tanh(|x|) = (1 - e^(-2|x|)) / (1 + e^(-2|x|)); with t = expm1(-2|x|) = e^(-2|x|) - 1
    # this is -t / (2 + t): no overflow, and no cancellation for small |x|.
    t = torch.expm1(-2 * x.abs())
    out = torch.sign(x) * (-t / (2 + t))
    return out, out
    ### END SOLUTION


def tanh_backward(dout, cache):
    """Backward pass of ``tanh_forward``: ``dx = dout * (1 - tanh(x)^2)``.

    Args:
        dout: upstream gradient, shape of the forward's ``x``.
        cache: what ``tanh_forward`` returned.

    Returns:
        dx: tensor of ``dout``'s shape, dtype and device.
    """
    ### BEGIN SOLUTION
    out = cache
    return dout * (1 - out * out)
    ### END SOLUTION


def leaky_relu_forward(x, slope=0.01):
    """Leaky ReLU: ``x`` where ``x > 0``, ``slope * x`` elsewhere.

    Args:
        x: a floating-point tensor of any shape.
        slope: the slope for non-positive inputs, a Python float (0.01 by default, as
            ``torch.nn.LeakyReLU``).

    Returns:
        out: tensor of ``x``'s shape, dtype and device.
        cache: what ``leaky_relu_backward`` needs: the input ``x`` (or its sign mask) and
            ``slope``.
    """
    ### BEGIN SOLUTION
    out = torch.where(x > 0, x, x * slope)
    return out, (x, slope)
    ### END SOLUTION


def leaky_relu_backward(dout, cache):
    """Backward pass of ``leaky_relu_forward``.

    The derivative is 1 where ``x > 0`` and ``slope`` where ``x <= 0`` (at exactly 0
    PyTorch takes ``slope``; so do we).

    Args:
        dout: upstream gradient, shape of the forward's ``x``.
        cache: what ``leaky_relu_forward`` returned.

    Returns:
        dx: tensor of ``dout``'s shape, dtype and device.
    """
    ### BEGIN SOLUTION
    x, slope = cache
    return torch.where(x > 0, dout, dout * slope)
    ### END SOLUTION


# --------------------------------------------------------------------------- softmax

def softmax(x, dim=-1):
    """Softmax along ``dim``: ``exp(x_i) / sum_j exp(x_j)``.

    Numerically stable: correct, with no nan or inf, for logits as large as +-1e4.

    Args:
        x: a floating-point tensor of any shape (at least one dimension).
        dim: the dimension that sums to 1 (the last one by default).

    Returns:
        probs: tensor of ``x``'s shape, dtype and device; entries in [0, 1], summing
            to 1 along ``dim``.
    """
    ### BEGIN SOLUTION
    # Softmax does not change when a constant is subtracted along dim; subtracting the
    # maximum makes every exponent <= 0 (no overflow) and the largest term exactly 1.
    shifted = x - x.amax(dim=dim, keepdim=True)
    exps = shifted.exp()
    return exps / exps.sum(dim=dim, keepdim=True)
    ### END SOLUTION


def log_softmax(x, dim=-1):
    """The logarithm of the softmax along ``dim``: ``x_i - log(sum_j exp(x_j))``.

    Numerically stable: correct, with no nan or inf, for logits as large as +-1e4,
    where the softmax itself underflows to 0 and its log would be -inf.

    Args:
        x: a floating-point tensor of any shape (at least one dimension).
        dim: the dimension to normalise over (the last one by default).

    Returns:
        log_probs: tensor of ``x``'s shape, dtype and device, every entry <= 0.
    """
    ### BEGIN SOLUTION
    shifted = x - x.amax(dim=dim, keepdim=True)
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()
    ### END SOLUTION


# --------------------------------------------------------------------------- cross-entropy

def cross_entropy_forward(logits, targets, label_smoothing=0.0):
    """Mean cross-entropy of softmax(logits) against integer class targets.

    The target distribution of sample n is ``q_n = (1 - eps) * onehot(targets[n]) + eps / C``
    with ``eps = label_smoothing``: the target class gets ``1 - eps + eps / C`` and every
    other class ``eps / C``. The loss is the batch mean of ``-sum_c q_nc log p_nc`` with
    ``p_n = softmax(logits[n])``, exactly what
    ``torch.nn.functional.cross_entropy(logits, targets, label_smoothing=eps)`` gives.
    Stable for logits as large as +-1e4.

    Args:
        logits: (N, C) floating-point scores.
        targets: (N,) int64 class indices in [0, C), on ``logits``' device.
        label_smoothing: eps, a Python float in [0, 1).

    Returns:
        loss: a 0-dim tensor (shape ``()``) of ``logits``' dtype, on its device.
        cache: what ``cross_entropy_backward`` needs (the softmax probabilities and the
            target distribution q, say).
    """
    ### BEGIN SOLUTION
    n, c = logits.shape
    log_probs = log_softmax(logits, dim=1)
    classes = torch.arange(c, device=logits.device)
    onehot = (classes == targets[:, None]).to(logits.dtype)
    q = (1 - label_smoothing) * onehot + label_smoothing / c
    loss = -(q * log_probs).sum() / n
    return loss, (log_probs.exp(), q)
    ### END SOLUTION


def cross_entropy_backward(cache):
    """Gradient of ``cross_entropy_forward``'s loss with respect to the logits.

    The loss is the end of the network, so there is no upstream gradient: this returns
    ``dL/dlogits = (softmax(logits) - q) / N``.

    Args:
        cache: what ``cross_entropy_forward`` returned.

    Returns:
        dlogits: (N, C) tensor of the logits' dtype, on their device.
    """
    ### BEGIN SOLUTION
    probs, q = cache
    return (probs - q) / probs.shape[0]
    ### END SOLUTION


# --------------------------------------------------------------------------- batch norm

def batchnorm_forward(x, gamma, beta, running_mean, running_var, train, momentum=0.1, eps=1e-5):
    """Batch normalisation of a (N, D) batch, as ``torch.nn.BatchNorm1d``.

    Training mode (``train=True``) normalises each feature with the batch's own mean and
    *biased* variance (divided by N),

        out = gamma * (x - mean) / sqrt(var + eps) + beta,

    and updates the running estimates with PyTorch's rule, using the *unbiased* batch
    variance (divided by N - 1) for the running variance:

        new_running_mean = (1 - momentum) * running_mean + momentum * mean
        new_running_var  = (1 - momentum) * running_var  + momentum * var * N / (N - 1)

    Evaluation mode (``train=False``) normalises with ``running_mean`` and ``running_var``
    instead and returns them unchanged as the new running estimates.

    Args:
        x: (N, D) inputs, N >= 2 in training mode.
        gamma: (D,) scale.   beta: (D,) shift.
        running_mean: (D,) running mean.   running_var: (D,) running variance.
        train: True for training mode, False for evaluation.
        momentum: weight of the new batch statistic in the running estimates.
        eps: added to the variance before the square root.

    Returns:
        out: (N, D) tensor of ``x``'s dtype, on its device.
        cache: what ``batchnorm_backward`` needs, e.g. ``x_hat``, ``gamma`` and
            ``1 / sqrt(var + eps)``; only a training-mode cache is ever passed to it (in
            evaluation mode return anything, None say).
        new_running_mean: (D,) tensor.   new_running_var: (D,) tensor.
        None of the arguments is modified: the new running estimates are new tensors.
    """
    ### BEGIN SOLUTION
    if not train:
        x_hat = (x - running_mean) / torch.sqrt(running_var + eps)
        return gamma * x_hat + beta, None, running_mean.clone(), running_var.clone()
    n = x.shape[0]
    mean = x.mean(dim=0)
    centered = x - mean
    var = (centered * centered).mean(dim=0)  # biased: divided by N
    inv_std = 1 / torch.sqrt(var + eps)
    x_hat = centered * inv_std
    out = gamma * x_hat + beta
    new_running_mean = (1 - momentum) * running_mean + momentum * mean
    new_running_var = (1 - momentum) * running_var + momentum * var * (n / (n - 1))
    return out, (x_hat, gamma, inv_std), new_running_mean, new_running_var
    ### END SOLUTION


def batchnorm_backward(dout, cache):
    """Backward pass of ``batchnorm_forward`` in training mode.

    The batch mean and variance depend on every sample of the batch, so the gradient
    with respect to ``x`` has three paths: through ``x`` directly, through the mean and
    through the variance. With ``x_hat = (x - mean) / sqrt(var + eps)`` and
    ``g = dout * gamma``:

        dx = (g - mean_n(g) - x_hat * mean_n(g * x_hat)) / sqrt(var + eps)

    (``mean_n`` is the mean over the batch axis).

    Args:
        dout: (N, D) upstream gradient.
        cache: what ``batchnorm_forward`` returned in training mode.

    Returns:
        dx: (N, D).   dgamma: (D,).   dbeta: (D,). All of ``dout``'s dtype and device.
    """
    ### BEGIN SOLUTION
    x_hat, gamma, inv_std = cache
    dbeta = dout.sum(dim=0)
    dgamma = (dout * x_hat).sum(dim=0)
    g = dout * gamma
    dx = (g - g.mean(dim=0) - x_hat * (g * x_hat).mean(dim=0)) * inv_std
    return dx, dgamma, dbeta
    ### END SOLUTION


# --------------------------------------------------------------------------- dropout

def dropout_forward(x, p, train, generator=None):
    """Inverted dropout, as ``torch.nn.Dropout(p)``.

    In training mode each element is zeroed independently with probability ``p`` and the
    survivors are scaled by ``1 / (1 - p)``, so the expected output equals ``x``. In
    evaluation mode the layer is the identity.

    Args:
        x: a floating-point tensor of any shape.
        p: the probability of zeroing an element, 0 <= p < 1.
        train: True for training mode, False for evaluation.
        generator: a ``torch.Generator`` on ``x``'s device, the only source of
            randomness; None means torch's default generator for that device. Pass it
            to torch's random functions together with ``device=x.device``.

    Returns:
        out: tensor of ``x``'s shape, dtype and device.
        cache: what ``dropout_backward`` needs to send the gradient through the same
            elements that were kept: the keep mask and ``p`` (or the mask already scaled
            by ``1 / (1 - p)``); in evaluation mode, something that says so (None, say).
    """
    ### BEGIN SOLUTION
    if not train:
        return x.clone(), None
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep / (1 - p), (keep, p)
    ### END SOLUTION


def dropout_backward(dout, cache):
    """Backward pass of ``dropout_forward``: the gradient flows through the kept elements only,
    scaled by ``1 / (1 - p)`` in training mode; in evaluation mode ``dx = dout``.

    Args:
        dout: upstream gradient, shape of the forward's ``x``.
        cache: what ``dropout_forward`` returned.

    Returns:
        dx: tensor of ``dout``'s shape, dtype and device.
    """
    ### BEGIN SOLUTION
    if cache is None:  # evaluation mode: the layer was the identity
        return dout.clone()
    keep, p = cache
    return dout * keep / (1 - p)
    ### END SOLUTION
