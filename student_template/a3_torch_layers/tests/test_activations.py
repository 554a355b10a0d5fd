"""Public tests of the activations task (sigmoid, tanh); run them with `pytest` from your repository's root."""
import pytest
import torch

from layers import sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
ACTIVATIONS = pytest.mark.parametrize("forward, backward", [(sigmoid_forward, sigmoid_backward),
                                                            (tanh_forward, tanh_backward)],
                                      ids=["sigmoid", "tanh"])


def assert_close(actual, expected, rtol=1e-5, atol=1e-8, hint=""):
    """Like ``assert torch.allclose(actual, expected)``, but a failure says how many values
    differ, the greatest absolute and relative differences and where, and what to check."""
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, check_dtype=False,
                               msg=lambda report: report + (f"\nHint: {hint}" if hint else ""))


def numerical_gradient(f, x, dout, h=1e-6):
    """d/dx of sum(f(x) * dout) by central differences, one entry at a time (float64 x)."""
    x = x.detach().clone()
    grad = torch.zeros_like(x)
    flat, flat_grad = x.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        plus = (f(x) * dout).sum().item()
        flat[i] = old - h
        minus = (f(x) * dout).sum().item()
        flat[i] = old
        flat_grad[i] = (plus - minus) / (2 * h)
    return grad


def test_sigmoid_course_values():
    # The course prints sigmoid(v) for v = 0, 0.1, ..., 0.9, 0.99; sigmoid(0) = 1/2 exactly.
    v = torch.tensor([0.0, 0.1, 0.5, 0.9, 0.99], dtype=torch.float64)
    out, _ = sigmoid_forward(v)
    expected = [0.5, 0.5249792, 0.6224593, 0.7109495, 0.7290879]
    assert out.tolist() == pytest.approx(expected, abs=1e-7)


def test_sigmoid_derivative_values():
    # sigmoid'(x) = s (1 - s): 1/4 at 0, 0.6224593 * 0.3775407 = 0.2350037 at 0.5.
    v = torch.tensor([0.0, 0.5], dtype=torch.float64)
    _, cache = sigmoid_forward(v)
    dx = sigmoid_backward(torch.ones_like(v), cache)
    assert dx.tolist() == pytest.approx([0.25, 0.2350037], abs=1e-7)


def test_tanh_course_values():
    # The course's input [[0.37, 0.192, 0.571]]; tanh'(x) = 1 - tanh(x)^2.
    x = torch.tensor([[0.37, 0.192, 0.571]], dtype=torch.float64)
    out, cache = tanh_forward(x)
    assert out.shape == (1, 3)
    assert out[0].tolist() == pytest.approx([0.3539917, 0.1896750, 0.5160933], abs=1e-6)
    dx = tanh_backward(torch.ones_like(x), cache)
    assert dx[0].tolist() == pytest.approx([0.8746899, 0.9640234, 0.7336477], abs=1e-6)


@ACTIVATIONS
def test_backward_matches_numerical_gradient(forward, backward):
    torch.manual_seed(0)
    x = torch.randn(3, 4, dtype=torch.float64) * 2
    dout = torch.randn(3, 4, dtype=torch.float64)
    _, cache = forward(x)
    dx = backward(dout, cache)
    expected = numerical_gradient(lambda t: forward(t)[0], x, dout)
    assert_close(dx, expected, rtol=1e-5, atol=1e-8,
                 hint="the derivative is written with the forward's OUTPUT (s (1 - s), 1 - tanh^2), "
                 "keep that in the cache, and dx multiplies it by dout")


def test_saturation_without_nan():
    # exp(1000) overflows; a correct sigmoid/tanh still returns 0, 1 or -1 there.
    x = torch.tensor([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=torch.float64)
    assert sigmoid_forward(x)[0].tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0], abs=1e-12)
    assert tanh_forward(x)[0].tolist() == pytest.approx([-1.0, -1.0, 0.0, 1.0, 1.0], abs=1e-12)
    assert tanh_forward(x.float())[0].tolist() == pytest.approx([-1.0, -1.0, 0.0, 1.0, 1.0], abs=1e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@ACTIVATIONS
def test_keeps_shape_dtype_device_and_input(forward, backward, dtype, device):
    x = torch.tensor([[-1.5, 0.0, 2.0], [0.25, -3.0, 1.0]], dtype=dtype, device=device)
    original = x.clone()
    out, cache = forward(x)
    dx = backward(torch.ones_like(x), cache)
    for result in (out, dx):
        assert result.shape == x.shape and result.dtype == dtype and result.device == x.device
    assert torch.equal(x, original), "the forward pass must not modify its input"
