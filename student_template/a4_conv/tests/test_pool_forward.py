"""Public tests of the pool_forward task; run them with `pytest` from your repository's root."""
import pytest
import torch

from conv import maxpool2d_forward

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def assert_close(actual, expected, rtol=1e-5, atol=1e-8, hint=""):
    """Like ``assert torch.allclose(actual, expected)``, but a failure says how many values
    differ, the greatest absolute and relative differences and where, and what to check."""
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, check_dtype=False,
                               msg=lambda report: report + (f"\nHint: {hint}" if hint else ""))

EXAMPLE = [[1.0, 6.0, 2.0, 3.0],
           [5.0, 4.0, 8.0, 7.0],
           [0.0, 9.0, 3.0, 1.0],
           [2.0, 4.0, 6.0, 5.0]]


def example(dtype=torch.float64, device="cpu"):
    return torch.tensor(EXAMPLE, dtype=dtype, device=device).reshape(1, 1, 4, 4)


def test_forward_worked_example():
    out, _ = maxpool2d_forward(example(), 2, 2)
    assert_close(out[0, 0], torch.tensor([[6.0, 8.0], [9.0, 6.0]], dtype=torch.float64), rtol=0, atol=0)


def test_forward_overlapping_windows():
    # Kernel 3, stride 1: four windows, and the 9 at row 2, column 1 lies in all of them.
    out, _ = maxpool2d_forward(example(), 3, 1)
    assert_close(out[0, 0], torch.full((2, 2), 9.0, dtype=torch.float64), rtol=0, atol=0,
                 hint="windows move by the stride, not by the kernel size")


def test_two_2x2_pools_equal_one_4x4_pool():
    # The course's question: MaxPool2d(2, 2) twice gives the same as MaxPool2d(4, 4) once.
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    twice, _ = maxpool2d_forward(maxpool2d_forward(x, 2, 2)[0], 2, 2)
    once, _ = maxpool2d_forward(x, 4, 4)
    assert once.shape == (2, 3, 2, 2)
    assert_close(twice, once, rtol=0, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_shape_dtype_device_and_input_untouched(dtype, device):
    # A 9 x 6 input, kernel 3, stride 3: 3 x 2 windows that do not overlap.
    x = torch.randn(2, 3, 9, 6, dtype=dtype, device=device)
    original = x.clone()
    out, _ = maxpool2d_forward(x, 3, 3)
    assert out.shape == (2, 3, 3, 2) and out.dtype == dtype and out.device == x.device
    assert_close(out[0, 0, 1, 1], x[0, 0, 3:6, 3:6].max(), rtol=0, atol=0)
    assert torch.equal(x, original), "maxpool2d_forward must not modify its input"
