"""Public tests of TanhFunction; run them with `pytest` from your repository's root."""
import math

import pytest
import torch

from functions import TanhFunction

SEED_X = [[0.37, 0.192, 0.571]]
SEED_Y = [[0.353992, 0.189675, 0.516093]]  # tanh of the course's input
SEED_DYDX = [[0.874690, 0.964023, 0.733648]]  # 1 - y^2
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
FORBIDDEN = ("tanh", "tanh_", "sigmoid", "sigmoid_", "expit")


def assert_close(actual, expected, rtol=1e-5, atol=1e-8, hint=""):
    """Like ``assert torch.allclose(actual, expected)``, but a failure says how many values
    differ, the greatest absolute and relative differences and where, and what to check."""
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, check_dtype=False,
                               msg=lambda report: report + (f"\nHint: {hint}" if hint else ""))


def assert_finite(tensor, hint=""):
    """Every value finite; a failure says how many are nan or inf and where the first one is."""
    __tracebackhide__ = True
    bad = ~torch.isfinite(tensor)
    if bad.any():
        where = tuple(torch.nonzero(bad)[0].tolist())
        raise AssertionError(f"{int(bad.sum())} of {tensor.numel()} values are nan or inf; the first, at index "
                             f"{where}, is {tensor[where].item()}." + (f"\nHint: {hint}" if hint else ""))


def test_course_example(refuse):
    x = torch.tensor(SEED_X, dtype=torch.float64, requires_grad=True)
    with refuse(*FORBIDDEN):
        y = TanhFunction.apply(x)
        y.sum().backward()  # dL/dy = 1, so x.grad is dy/dx
    assert_close(y.detach(), torch.tensor(SEED_Y, dtype=torch.float64), atol=1e-6)
    assert_close(x.grad, torch.tensor(SEED_DYDX, dtype=torch.float64), atol=1e-6,
                 hint="tanh's derivative 1 - y^2 is written with the OUTPUT y: save y in forward")


def test_agrees_with_math_tanh():
    values = [-3.0, -1.2, -0.5, -1e-6, 0.0, 1e-6, 0.25, 0.9, 2.0, 5.0]
    y = TanhFunction.apply(torch.tensor(values, dtype=torch.float64))
    expected = torch.tensor([math.tanh(v) for v in values], dtype=torch.float64)
    assert_close(y, expected, rtol=1e-10, atol=1e-12)


def test_gradcheck_float64(refuse):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 5, dtype=torch.float64, generator=generator, requires_grad=True)
    with refuse(*FORBIDDEN):
        assert torch.autograd.gradcheck(TanhFunction.apply, (x,))


def test_backward_multiplies_the_upstream_gradient(call_by_hand):
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, dtype=torch.float64, generator=generator)
    grad_out = torch.randn(3, 4, dtype=torch.float64, generator=generator)
    y, grad_x = call_by_hand(TanhFunction, x, grad_out, *FORBIDDEN)
    expected_y = torch.tensor([[math.tanh(v) for v in row] for row in x.tolist()], dtype=torch.float64)
    assert_close(y, expected_y, atol=1e-12)
    assert_close(grad_x, grad_out * (1 - expected_y ** 2), atol=1e-12,
                 hint="backward returns grad_out * (1 - y^2): the chain rule multiplies by grad_out")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_large_inputs_stay_finite(call_by_hand, dtype):
    # e^x overflows float32 beyond x ≈ 88.7 (float64 beyond 709.8): tanh is ±1 there, its slope 0.
    x = torch.tensor([-1000.0, -100.0, -50.0, 50.0, 100.0, 1000.0], dtype=dtype)
    y, grad_x = call_by_hand(TanhFunction, x, torch.ones_like(x))
    assert_close(y, torch.tensor([-1.0, -1.0, -1.0, 1.0, 1.0, 1.0], dtype=dtype), rtol=0, atol=0,
                 hint="e^x overflows to inf and inf / inf is nan: write tanh with e^(-2|x|) and put the sign back")
    assert_finite(grad_x)
    assert_close(grad_x, torch.zeros_like(grad_x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_shape_dtype_device_and_input(dtype, device):
    x = torch.tensor([[-1.5, 0.0], [0.5, 2.0]], dtype=dtype, device=device)
    original = x.clone()
    leaf = x.clone().requires_grad_(True)
    y = TanhFunction.apply(leaf)
    (grad_x,) = torch.autograd.grad(y, leaf, torch.ones_like(y))
    for tensor in (y, grad_x):
        assert tensor.shape == x.shape and tensor.dtype == dtype and tensor.device == x.device
    assert torch.equal(x, original), "the input must be left unchanged: compute on new tensors"
