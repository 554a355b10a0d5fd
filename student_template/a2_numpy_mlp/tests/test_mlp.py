"""Public tests of mlp.py: the course's worked numbers and numerical gradient checks.

Run them from the repository root with ``python -m pytest``. The grader's hidden tests
check the same things on random inputs (float64 and float32, several shapes).
"""
import functools
import math

import numpy as np
import pytest

from mlp import (dropout_backward, dropout_forward, linear_backward, linear_forward, mse_loss,
                 relu_backward, relu_forward, sgd_momentum_step, sgd_step, two_layer_net)

# The course's worked MLP: inputs x = [0.9, 0.7], three hidden ReLU units, two outputs.
# W1 and W2 are stored (D_in, D_out), so a layer computes x @ W + b.
X = np.array([[0.9, 0.7]])
W1 = np.array([[-0.3, 0.32, 0.37],
               [0.15, -0.91, 0.47]])
B1 = np.full(3, 0.001)
W2 = np.array([[0.15, 0.10],
               [-0.46, 0.32],
               [0.59, -0.79]])
B2 = np.zeros(2)
Y = np.array([[1.0, 0.0]])  # our choice of target for the MSE

HIDDEN = np.array([[-0.164, -0.348, 0.663]])  # X @ W1 + B1
PRED = np.array([[0.39117, -0.52377]])  # relu(HIDDEN) @ W2 + B2


def assert_close(actual, expected, rtol=1e-7, atol=0.0, hint=""):
    """Like np.testing.assert_allclose, but a failure says how many values differ, by how
    much (absolute and relative) and where the worst one is, and what to check first."""
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}. {hint}"
    error = np.abs(actual - expected)
    bad = ~np.isclose(actual, expected, rtol=rtol, atol=atol)
    if not bad.any():
        return
    worst = np.unravel_index(np.argmax(np.where(bad, error, -1)), error.shape) if error.ndim else ()
    relative = error[worst] / abs(expected[worst]) if expected[worst] != 0 else float("inf")
    raise AssertionError(
        f"{int(bad.sum())} of {bad.size} values differ (rtol={rtol:g}, atol={atol:g}). Largest absolute "
        f"difference {error[worst]:.3g} (relative {relative:.3g}) at index {tuple(int(i) for i in worst)}: "
        f"got {float(actual[worst])!r}, expected {float(expected[worst])!r}." + (f"\nHint: {hint}" if hint else ""))


def numerical_gradient(f, x, h=1e-6):
    """Central differences (f(x + h e_i) - f(x - h e_i)) / 2h of a scalar function f."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = h
        grad[index] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def same_state(rng):
    """A second generator that will draw exactly what ``rng`` would draw next."""
    twin = np.random.Generator(np.random.PCG64())
    twin.bit_generator.state = rng.bit_generator.state
    return twin


# ----------------------------------------------------------------------------- linear

def test_linear_forward_single_neuron():
    out, _ = linear_forward(X, np.array([[-0.3], [0.15]]), np.array([0.001]))
    assert_close(out, [[-0.164]], hint="a linear layer computes x @ W + b")


def test_linear_forward_hidden_layer():
    out, _ = linear_forward(X, W1, B1)
    assert out.shape == (1, 3)
    assert_close(out, HIDDEN, hint="W is stored (D_in, D_out): x @ W, not x @ W.T")


def test_linear_backward_matches_numerical_gradient():
    rng = np.random.default_rng(0)
    x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)
    dout = rng.normal(size=(4, 5))
    _, cache = linear_forward(x, W, b)
    dx, dW, db = linear_backward(dout, cache)
    # The scalar sum(out * dout) has gradient dout with respect to out.
    assert_close(dx, numerical_gradient(lambda v: np.sum(linear_forward(v, W, b)[0] * dout), x),
                 rtol=1e-6, atol=1e-8, hint="dx = dout @ W.T has x's shape (N, D)")
    assert_close(dW, numerical_gradient(lambda v: np.sum(linear_forward(x, v, b)[0] * dout), W),
                 rtol=1e-6, atol=1e-8, hint="dW = x.T @ dout has W's shape (D, M); it is a sum over the "
                 "batch, not a mean (a loss that averages puts the 1/N in dout already)")
    assert_close(db, numerical_gradient(lambda v: np.sum(linear_forward(x, W, v)[0] * dout), b),
                 rtol=1e-6, atol=1e-8, hint="db sums dout over the batch axis (sum, not mean)")


# ----------------------------------------------------------------------------- relu

def test_relu_forward_hidden_layer():
    out, _ = relu_forward(HIDDEN)
    assert_close(out, [[0.0, 0.0, 0.663]], hint="ReLU keeps positive values and zeroes the rest")


def test_relu_backward_passes_gradient_where_input_positive():
    _, cache = relu_forward(HIDDEN)
    dout = np.array([[-1.0, 2.0, -3.0]])
    dx = relu_backward(dout, cache)
    assert_close(dx, [[0.0, 0.0, -3.0]], hint="the gradient passes where the forward input x was positive, "
                 "whatever the sign of dout")
    np.testing.assert_array_equal(dout, [[-1.0, 2.0, -3.0]], err_msg="relu_backward must not change dout in "
                                  "place: dx = dout names the same array; build a new one")


def test_relu_backward_matches_numerical_gradient():
    rng = np.random.default_rng(1)
    x, dout = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    _, cache = relu_forward(x)
    expected = numerical_gradient(lambda v: np.sum(relu_forward(v)[0] * dout), x)
    assert_close(relu_backward(dout.copy(), cache), expected, rtol=1e-6, atol=1e-8,
                 hint="dx = dout where x > 0, and 0 elsewhere")


# ----------------------------------------------------------------------------- mse

def test_mse_loss_worked_example():
    loss, dpred = mse_loss(PRED, Y)
    # mean of (0.39117 - 1)^2 and (-0.52377 - 0)^2; dpred = 2 (pred - y) / 2 elements
    assert loss == pytest.approx(0.3225044909), "the loss is the plain mean of the squares (not halved)"
    assert_close(dpred, [[-0.60883, -0.52377]], hint="dpred = 2 (pred - target) / pred.size")


def test_mse_loss_matches_numerical_gradient():
    rng = np.random.default_rng(2)
    pred, target = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    loss, dpred = mse_loss(pred, target)
    assert loss == pytest.approx(np.mean((pred - target) ** 2))
    expected = numerical_gradient(lambda v: mse_loss(v, target)[0], pred)
    assert_close(dpred, expected, rtol=1e-6, atol=1e-8, hint="the mean runs over all N * M elements: divide "
                 "by pred.size, not by N, and keep the factor 2 of the square")


# ----------------------------------------------------------------------------- dropout

P = 0.2  # nn.Dropout(0.2): the probability of zeroing an element


def test_dropout_train_zeroes_about_p_and_scales_the_rest():
    x = np.random.default_rng(3).uniform(0.5, 1.5, size=(100, 100))  # no zeros in x
    out, _ = dropout_forward(x, P, True, np.random.default_rng(4))
    assert out.shape == x.shape and out.dtype == x.dtype
    kept = out != 0
    assert_close(out[kept], x[kept] / (1 - P), hint="inverted dropout scales the entries it keeps by 1 / (1 - p)")
    # Hoeffding: |dropped fraction - p| >= t has probability <= 2 exp(-2 n t^2) = 1e-7.
    bound = math.sqrt(math.log(2 / 1e-7) / (2 * x.size))
    dropped = 1 - kept.mean()
    assert abs(dropped - P) <= bound, (f"{dropped:.3f} of the entries were zeroed, expected {P} +- {bound:.3f}: "
                                       "p is the probability of zeroing an entry (keep it when rng.random() >= p)")


def test_dropout_backward_reuses_the_forward_mask():
    x = np.random.default_rng(5).uniform(0.5, 1.5, size=(50, 40))
    dout = np.random.default_rng(6).normal(size=(50, 40))
    out, cache = dropout_forward(x, P, True, np.random.default_rng(7))
    dx = dropout_backward(dout, cache)
    assert_close(dx, np.where(out != 0, dout / (1 - P), 0.0), hint="backward reuses the forward pass's mask "
                 "(keep it in the cache) and scales by 1 / (1 - p) too")


def test_dropout_mask_comes_from_rng():
    x = np.ones((30, 30))
    rng = np.random.default_rng(8)
    first, _ = dropout_forward(x, P, True, same_state(rng))
    again, _ = dropout_forward(x, P, True, same_state(rng))
    assert_close(first, again, rtol=0, hint="draw the mask from the rng argument, not from np.random")


def test_dropout_eval_is_identity():
    x = np.random.default_rng(9).normal(size=(6, 7))
    dout = np.random.default_rng(10).normal(size=(6, 7))
    out, cache = dropout_forward(x, P, False, np.random.default_rng(11))
    assert_close(out, x, rtol=0, hint="in evaluation mode inverted dropout is the identity (no 1 - p factor)")
    assert_close(dropout_backward(dout, cache), dout, rtol=0)


def test_dropout_p_zero_keeps_everything():
    x = np.random.default_rng(12).normal(size=(6, 7))
    out, _ = dropout_forward(x, 0.0, True, np.random.default_rng(13))
    assert_close(out, x, rtol=0, hint="with p = 0 nothing is zeroed and 1 / (1 - p) = 1")


# ----------------------------------------------------------------------------- two_layer_net

def worked_params():
    return {"W1": W1, "b1": B1, "W2": W2, "b2": B2}


def random_params(rng, d=3, h=6, m=2):
    return {"W1": rng.normal(size=(d, h)), "b1": rng.normal(size=h) * 0.1,
            "W2": rng.normal(size=(h, m)), "b2": rng.normal(size=m) * 0.1}


def test_two_layer_net_worked_example():
    loss, grads = two_layer_net(X, Y, worked_params())
    assert loss == pytest.approx(0.3225044909)
    assert set(grads) == {"W1", "b1", "W2", "b2"}
    # Only the third hidden unit is active (ReLU zeroes the other two), so only its
    # weights get a gradient: dhidden_3 = 0.59 * -0.60883 + -0.79 * -0.52377 = 0.0545686.
    first = "when the layer tests above fail too, fix those first: the network is built from them"
    assert_close(grads["b2"], [-0.60883, -0.52377], hint=first)
    assert_close(grads["W2"], [[0.0, 0.0], [0.0, 0.0], [-0.40365429, -0.34725951]], hint=first)
    assert_close(grads["b1"], [0.0, 0.0, 0.0545686], hint=first)
    assert_close(grads["W1"], [[0.0, 0.0, 0.04911174], [0.0, 0.0, 0.03819802]], hint=first)


@pytest.mark.parametrize("dropout_p", [0.0, 0.5])
def test_two_layer_net_matches_numerical_gradient(dropout_p):
    rng = np.random.default_rng(14)
    x, y, params = rng.normal(size=(5, 3)), rng.normal(size=(5, 2)), random_params(rng)
    dropout_rng = np.random.default_rng(15)

    def loss_with(name, value):
        # The same generator state on every call gives the same dropout mask.
        return two_layer_net(x, y, {**params, name: value}, dropout_p, same_state(dropout_rng))[0]

    loss, grads = two_layer_net(x, y, params, dropout_p, same_state(dropout_rng))
    if dropout_p > 0:
        # A network that skips dropout matches its own gradients trivially: make sure it did not.
        assert loss != two_layer_net(x, y, params)[0], "dropout_p > 0 changed nothing: apply dropout after the ReLU"
    for name, value in params.items():
        expected = numerical_gradient(functools.partial(loss_with, name), value)
        assert_close(grads[name], expected, rtol=1e-5, atol=1e-7,
                     hint=f"d{name} differs from the numerical gradient of your own loss; with dropout, "
                     "backward must send the gradient through the forward pass's mask")


# ----------------------------------------------------------------------------- optimizers

def test_sgd_step_worked_example_and_inputs_unchanged():
    params, grads = {"w": np.array([1.0, -2.0])}, {"w": np.array([0.5, -1.0])}
    new = sgd_step(params, grads, 0.1)
    assert_close(new["w"], [0.95, -1.9], hint="p - lr * g")
    np.testing.assert_array_equal(params["w"], [1.0, -2.0])
    np.testing.assert_array_equal(grads["w"], [0.5, -1.0])


def test_sgd_momentum_two_steps_from_empty_velocity():
    params = {"w": np.array([1.0, -2.0])}
    # Step 1: v = g1 = [0.5, -1.0]; p = [1, -2] - 0.1 v = [0.95, -1.9].
    params, velocity = sgd_momentum_step(params, {"w": np.array([0.5, -1.0])}, {}, 0.1, 0.9)
    momentum_rule = ("PyTorch's rule: v = mu v + g, then p = p - lr v (CS231n's v = mu v - lr g gives "
                     "the same parameters but a velocity -lr times this one)")
    assert_close(velocity["w"], [0.5, -1.0], hint=momentum_rule)
    assert_close(params["w"], [0.95, -1.9], hint=momentum_rule)
    # Step 2: v = 0.9 [0.5, -1.0] + [0.5, 1.0] = [0.95, 0.1]; p = p - 0.1 v = [0.855, -1.91].
    kept_velocity = {"w": velocity["w"].copy()}
    params, new_velocity = sgd_momentum_step(params, {"w": np.array([0.5, 1.0])}, velocity, 0.1, 0.9)
    assert_close(new_velocity["w"], [0.95, 0.1], hint=momentum_rule)
    assert_close(params["w"], [0.855, -1.91], hint=momentum_rule)
    np.testing.assert_array_equal(velocity["w"], kept_velocity["w"])  # the old velocity is untouched


# ----------------------------------------------------------------------------- dtypes

def test_float32_in_float32_out():
    rng = np.random.default_rng(16)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    W, b = rng.normal(size=(3, 2)).astype(np.float32), np.zeros(2, np.float32)
    out, cache = linear_forward(x, W, b)
    assert out.dtype == np.float32
    assert [g.dtype for g in linear_backward(np.ones_like(out), cache)] == [np.float32] * 3
    assert relu_forward(x)[0].dtype == np.float32
    assert mse_loss(out, np.zeros_like(out))[1].dtype == np.float32
    assert dropout_forward(x, P, True, np.random.default_rng(17))[0].dtype == np.float32
    assert sgd_step({"W": W}, {"W": W}, 0.1)["W"].dtype == np.float32
