"""Public tests of the neuron task; run them with `pytest` from your repository's root."""
import pytest
import torch

from foundations import neuron, relu


def assert_close(actual, expected, rtol=1e-5, atol=1e-8, hint=""):
    """Like ``assert torch.allclose(actual, expected)``, but a failure says how many values
    differ, the greatest absolute and relative differences and where, and what to check."""
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, check_dtype=False,
                               msg=lambda report: report + (f"\nHint: {hint}" if hint else ""))


def test_neuron_course_example():
    # 0.9 * (-0.3) + 0.7 * 0.15 + 0.001 = -0.27 + 0.105 + 0.001 = -0.164
    x = torch.tensor([0.9, 0.7], dtype=torch.float64)
    w = torch.tensor([-0.3, 0.15], dtype=torch.float64)
    out = neuron(x, w, 0.001)
    assert isinstance(out, torch.Tensor) and out.shape == ()
    assert out.item() == pytest.approx(-0.164)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_neuron_keeps_dtype(dtype):
    x = torch.tensor([1.0, 2.0, 3.0], dtype=dtype)
    w = torch.tensor([0.5, -1.0, 2.0], dtype=dtype)
    out = neuron(x, w, torch.tensor(0.25, dtype=dtype))  # 0.5 - 2 + 6 + 0.25
    assert out.dtype == dtype and out.shape == ()
    assert out.item() == pytest.approx(4.75)


def test_relu_course_examples():
    # ReLU(3) = 3 and ReLU(-3) = 0; the course's neuron output -0.164 becomes 0.
    out = relu(torch.tensor([3.0, -3.0, -0.164, 0.0]))
    assert_close(out, torch.tensor([3.0, 0.0, 0.0, 0.0]), rtol=0, atol=0,
                 hint="ReLU keeps what is above zero and replaces the rest by 0")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_relu_keeps_shape_and_dtype_and_input(dtype):
    x = torch.tensor([[-1.5, 2.0], [0.5, -0.25]], dtype=dtype)
    original = x.clone()
    out = relu(x)
    assert out.dtype == dtype and out.shape == (2, 2)
    assert_close(out, torch.tensor([[0.0, 2.0], [0.5, 0.0]], dtype=dtype), rtol=0, atol=0)
    assert torch.equal(x, original), "relu must not modify its input"
