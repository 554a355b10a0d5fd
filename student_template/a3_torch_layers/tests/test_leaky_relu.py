"""Public tests of the leaky-ReLU task; run them with `pytest` from your repository's root."""
import pytest
import torch

from layers import leaky_relu_backward, leaky_relu_forward

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def assert_close(actual, expected, rtol=1e-5, atol=1e-8, hint=""):
    """Like ``assert torch.allclose(actual, expected)``, but a failure says how many values
    differ, the greatest absolute and relative differences and where, and what to check."""
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, check_dtype=False,
                               msg=lambda report: report + (f"\nHint: {hint}" if hint else ""))


def test_forward_default_slope():
    x = torch.tensor([-2.0, -0.5, 0.0, 1.5], dtype=torch.float64)
    out, _ = leaky_relu_forward(x)
    assert out.tolist() == pytest.approx([-0.02, -0.005, 0.0, 1.5])


def test_forward_and_backward_with_a_slope():
    x = torch.tensor([[-2.0, 3.0], [0.5, -1.0]], dtype=torch.float64)
    out, cache = leaky_relu_forward(x, slope=0.2)
    assert out.tolist() == [pytest.approx([-0.4, 3.0]), pytest.approx([0.5, -0.2])]
    dx = leaky_relu_backward(torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64), cache)
    # The derivative is 1 where x > 0 and the slope elsewhere.
    assert dx.tolist() == [pytest.approx([0.2, 2.0]), pytest.approx([3.0, 0.8])]


def test_backward_matches_numerical_gradient():
    torch.manual_seed(1)
    x = torch.randn(4, 5, dtype=torch.float64)
    dout = torch.randn(4, 5, dtype=torch.float64)
    h = 1e-6
    _, cache = leaky_relu_forward(x, 0.1)
    dx = leaky_relu_backward(dout, cache)
    # leaky ReLU acts elementwise, so one perturbation of the whole tensor gives every entry.
    plus, _ = leaky_relu_forward(x + h, 0.1)
    minus, _ = leaky_relu_forward(x - h, 0.1)
    assert_close(dx, dout * (plus - minus) / (2 * h), rtol=1e-6, atol=1e-9,
                 hint="the derivative is 1 where x > 0 and the slope (not 0) elsewhere")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_dtype_device_and_input(dtype, device):
    x = torch.tensor([-1.0, 2.0, -3.0], dtype=dtype, device=device)
    original = x.clone()
    out, cache = leaky_relu_forward(x, 0.1)
    dx = leaky_relu_backward(torch.ones_like(x), cache)
    for result in (out, dx):
        assert result.dtype == dtype and result.device == x.device and result.shape == x.shape
    assert torch.equal(x, original), "leaky_relu_forward must not modify its input"
