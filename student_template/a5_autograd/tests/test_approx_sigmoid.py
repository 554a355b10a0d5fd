"""Public tests of ApproxSigmoidFunction; run them with `pytest` from your repository's root."""
import math

import pytest
import torch

from functions import ApproxSigmoidFunction

# The course's vector, and s(x) = 1/(1 + 2^(-1.44x)) at a few of its entries.
V = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99]
WORKED = {0.0: 0.5, 0.5: 0.622240, 0.99: 0.728722}
SLOPE = 1.44 * math.log(2)  # ≈ 0.998132: the derivative is SLOPE * s * (1 - s)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
FORBIDDEN = ("sigmoid", "sigmoid_", "expit", "logsigmoid", "tanh", "tanh_")


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


def approx_sigmoid(x):
    """The same function in pure Python, for comparison."""
    return 1.0 / (1.0 + 2.0 ** (-1.44 * x))


def test_course_vector(refuse):
    x = torch.tensor(V, dtype=torch.float64, requires_grad=True)
    with refuse(*FORBIDDEN):
        s = ApproxSigmoidFunction.apply(x)
        s.sum().backward()  # dL/ds = 1, so x.grad is ds/dx
    expected = torch.tensor([approx_sigmoid(v) for v in V], dtype=torch.float64)
    assert_close(s.detach(), expected, rtol=1e-12, hint="s = 1 / (1 + 2^(-1.44 x)): a power of 2, not e^(-x)")
    for value, worked in WORKED.items():
        assert s[V.index(value)].item() == pytest.approx(worked, abs=1e-6)
    assert_close(x.grad, SLOPE * expected * (1 - expected), rtol=1e-10,
                 hint="ds/dx = 1.44 ln 2 s (1 - s), times grad_out")
    assert x.grad[0].item() == pytest.approx(SLOPE / 4)  # at x = 0: 1.44 ln 2 / 4 ≈ 0.249533


def test_close_to_but_not_the_exact_sigmoid():
    x = torch.tensor(V, dtype=torch.float64)
    s = ApproxSigmoidFunction.apply(x)
    exact = 1 / (1 + torch.exp(-x))
    assert_close(s, exact, rtol=0, atol=1e-3)
    assert not torch.allclose(s[1:], exact[1:], rtol=1e-6), "this is the exact sigmoid: use 2^(-1.44 x)"


def test_gradcheck_float64(refuse):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 5, dtype=torch.float64, generator=generator, requires_grad=True) * 3
    with refuse(*FORBIDDEN):
        assert torch.autograd.gradcheck(ApproxSigmoidFunction.apply, (x.detach().requires_grad_(),))


def test_backward_by_hand_without_autograd(call_by_hand):
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, dtype=torch.float64, generator=generator) * 3
    grad_out = torch.randn(3, 4, dtype=torch.float64, generator=generator)
    s, grad_x = call_by_hand(ApproxSigmoidFunction, x, grad_out, *FORBIDDEN)
    expected = 1 / (1 + 2.0 ** (-1.44 * x))
    assert_close(s, expected, rtol=1e-12)
    assert_close(grad_x, grad_out * SLOPE * expected * (1 - expected), rtol=1e-10, atol=1e-14,
                 hint="backward multiplies the local derivative by grad_out")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_large_inputs_stay_finite(call_by_hand, dtype):
    x = torch.tensor([-1000.0, -200.0, -100.0, 100.0, 200.0, 1000.0], dtype=dtype)
    s, grad_x = call_by_hand(ApproxSigmoidFunction, x, torch.ones_like(x))
    assert_finite(s, hint="where 2^(-1.44 x) overflows to inf, 1 / (1 + inf) is 0, not nan")
    assert_finite(grad_x, hint="build the gradient from s, which stays in [0, 1]")
    assert_close(s, torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0], dtype=dtype), rtol=0, atol=1e-20)
    assert_close(grad_x, torch.zeros_like(grad_x), rtol=0, atol=1e-20)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_shape_dtype_device_and_input(dtype, device):
    x = torch.tensor([[-1.5, 0.0], [0.5, 2.0]], dtype=dtype, device=device)
    original = x.clone()
    leaf = x.clone().requires_grad_(True)
    s = ApproxSigmoidFunction.apply(leaf)
    (grad_x,) = torch.autograd.grad(s, leaf, torch.ones_like(s))
    for tensor in (s, grad_x):
        assert tensor.shape == x.shape and tensor.dtype == dtype and tensor.device == x.device
    assert torch.equal(x, original), "the input must be left unchanged: compute on new tensors"
