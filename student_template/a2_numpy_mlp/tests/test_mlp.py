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
    np.testing.assert_allclose(out, [[-0.164]])


def test_linear_forward_hidden_layer():
    out, _ = linear_forward(X, W1, B1)
    assert out.shape == (1, 3)
    np.testing.assert_allclose(out, HIDDEN)


def test_linear_backward_matches_numerical_gradient():
    rng = np.random.default_rng(0)
    x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)
    dout = rng.normal(size=(4, 5))
    _, cache = linear_forward(x, W, b)
    dx, dW, db = linear_backward(dout, cache)
    # The scalar sum(out * dout) has gradient dout with respect to out.
    np.testing.assert_allclose(dx, numerical_gradient(lambda v: np.sum(linear_forward(v, W, b)[0] * dout), x),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dW, numerical_gradient(lambda v: np.sum(linear_forward(x, v, b)[0] * dout), W),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numerical_gradient(lambda v: np.sum(linear_forward(x, W, v)[0] * dout), b),
                               rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- relu

def test_relu_forward_hidden_layer():
    out, _ = relu_forward(HIDDEN)
    np.testing.assert_allclose(out, [[0.0, 0.0, 0.663]])


def test_relu_backward_passes_gradient_where_input_positive():
    _, cache = relu_forward(HIDDEN)
    dx = relu_backward(np.array([[-1.0, 2.0, -3.0]]), cache)
    np.testing.assert_allclose(dx, [[0.0, 0.0, -3.0]])


def test_relu_backward_matches_numerical_gradient():
    rng = np.random.default_rng(1)
    x, dout = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    _, cache = relu_forward(x)
    expected = numerical_gradient(lambda v: np.sum(relu_forward(v)[0] * dout), x)
    np.testing.assert_allclose(relu_backward(dout, cache), expected, rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- mse

def test_mse_loss_worked_example():
    loss, dpred = mse_loss(PRED, Y)
    # mean of (0.39117 - 1)^2 and (-0.52377 - 0)^2; dpred = 2 (pred - y) / 2 elements
    assert loss == pytest.approx(0.3225044909)
    np.testing.assert_allclose(dpred, [[-0.60883, -0.52377]])


def test_mse_loss_matches_numerical_gradient():
    rng = np.random.default_rng(2)
    pred, target = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    loss, dpred = mse_loss(pred, target)
    assert loss == pytest.approx(np.mean((pred - target) ** 2))
    expected = numerical_gradient(lambda v: mse_loss(v, target)[0], pred)
    np.testing.assert_allclose(dpred, expected, rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- dropout

P = 0.2  # nn.Dropout(0.2): the probability of zeroing an element


def test_dropout_train_zeroes_about_p_and_scales_the_rest():
    x = np.random.default_rng(3).uniform(0.5, 1.5, size=(100, 100))  # no zeros in x
    out, _ = dropout_forward(x, P, True, np.random.default_rng(4))
    assert out.shape == x.shape and out.dtype == x.dtype
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / (1 - P))
    # Hoeffding: |dropped fraction - p| >= t has probability <= 2 exp(-2 n t^2) = 1e-7.
    bound = math.sqrt(math.log(2 / 1e-7) / (2 * x.size))
    assert abs((1 - kept.mean()) - P) <= bound


def test_dropout_backward_reuses_the_forward_mask():
    x = np.random.default_rng(5).uniform(0.5, 1.5, size=(50, 40))
    dout = np.random.default_rng(6).normal(size=(50, 40))
    out, cache = dropout_forward(x, P, True, np.random.default_rng(7))
    dx = dropout_backward(dout, cache)
    np.testing.assert_allclose(dx, np.where(out != 0, dout / (1 - P), 0.0))


def test_dropout_mask_comes_from_rng():
    x = np.ones((30, 30))
    rng = np.random.default_rng(8)
    first, _ = dropout_forward(x, P, True, same_state(rng))
    again, _ = dropout_forward(x, P, True, same_state(rng))
    np.testing.assert_array_equal(first, again)


def test_dropout_eval_is_identity():
    x = np.random.default_rng(9).normal(size=(6, 7))
    dout = np.random.default_rng(10).normal(size=(6, 7))
    out, cache = dropout_forward(x, P, False, np.random.default_rng(11))
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(dropout_backward(dout, cache), dout)


def test_dropout_p_zero_keeps_everything():
    x = np.random.default_rng(12).normal(size=(6, 7))
    out, _ = dropout_forward(x, 0.0, True, np.random.default_rng(13))
    np.testing.assert_array_equal(out, x)


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
    np.testing.assert_allclose(grads["b2"], [-0.60883, -0.52377])
    np.testing.assert_allclose(grads["W2"], [[0.0, 0.0], [0.0, 0.0], [-0.40365429, -0.34725951]])
    np.testing.assert_allclose(grads["b1"], [0.0, 0.0, 0.0545686])
    np.testing.assert_allclose(grads["W1"], [[0.0, 0.0, 0.04911174], [0.0, 0.0, 0.03819802]])


@pytest.mark.parametrize("dropout_p", [0.0, 0.5])
def test_two_layer_net_matches_numerical_gradient(dropout_p):
    rng = np.random.default_rng(14)
    x, y, params = rng.normal(size=(5, 3)), rng.normal(size=(5, 2)), random_params(rng)
    dropout_rng = np.random.default_rng(15)

    def loss_with(name, value):
        # The same generator state on every call gives the same dropout mask.
        return two_layer_net(x, y, {**params, name: value}, dropout_p, same_state(dropout_rng))[0]

    _, grads = two_layer_net(x, y, params, dropout_p, same_state(dropout_rng))
    for name, value in params.items():
        expected = numerical_gradient(functools.partial(loss_with, name), value)
        np.testing.assert_allclose(grads[name], expected, rtol=1e-5, atol=1e-7, err_msg=f"d{name}")


# ----------------------------------------------------------------------------- optimizers

def test_sgd_step_worked_example_and_inputs_unchanged():
    params, grads = {"w": np.array([1.0, -2.0])}, {"w": np.array([0.5, -1.0])}
    new = sgd_step(params, grads, 0.1)
    np.testing.assert_allclose(new["w"], [0.95, -1.9])
    np.testing.assert_array_equal(params["w"], [1.0, -2.0])
    np.testing.assert_array_equal(grads["w"], [0.5, -1.0])


def test_sgd_momentum_two_steps_from_empty_velocity():
    params = {"w": np.array([1.0, -2.0])}
    # Step 1: v = g1 = [0.5, -1.0]; p = [1, -2] - 0.1 v = [0.95, -1.9].
    params, velocity = sgd_momentum_step(params, {"w": np.array([0.5, -1.0])}, {}, 0.1, 0.9)
    np.testing.assert_allclose(velocity["w"], [0.5, -1.0])
    np.testing.assert_allclose(params["w"], [0.95, -1.9])
    # Step 2: v = 0.9 [0.5, -1.0] + [0.5, 1.0] = [0.95, 0.1]; p = p - 0.1 v = [0.855, -1.91].
    kept_velocity = {"w": velocity["w"].copy()}
    params, new_velocity = sgd_momentum_step(params, {"w": np.array([0.5, 1.0])}, velocity, 0.1, 0.9)
    np.testing.assert_allclose(new_velocity["w"], [0.95, 0.1])
    np.testing.assert_allclose(params["w"], [0.855, -1.91])
    np.testing.assert_array_equal(velocity["w"], kept_velocity["w"])  # the old velocity is untouched


# ----------------------------------------------------------------------------- dtypes

def test_float32_in_float32_out():
    rng = np.random.default_rng(16)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    W, b = rng.normal(size=(3, 2)).astype(np.float32), np.zeros(2, np.float32)
    out, cache = linear_forward(x, W, b)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in linear_backward(np.ones_like(out), cache))
    assert relu_forward(x)[0].dtype == np.float32
    assert mse_loss(out, np.zeros_like(out))[1].dtype == np.float32
    assert dropout_forward(x, P, True, np.random.default_rng(17))[0].dtype == np.float32
    assert sgd_step({"W": W}, {"W": W}, 0.1)["W"].dtype == np.float32
