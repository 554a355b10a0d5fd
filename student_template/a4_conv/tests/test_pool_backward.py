"""Public tests of the pool_backward task; run them with `pytest` from your repository's root."""
import pytest
import torch

from conv import maxpool2d_backward, maxpool2d_forward

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


def test_backward_worked_example():
    # Each window's gradient goes to where its maximum was.
    dout = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64)
    _, cache = maxpool2d_forward(example(), 2, 2)
    dx = maxpool2d_backward(dout, cache)
    expected = torch.zeros(4, 4, dtype=torch.float64)
    expected[0, 1], expected[1, 2], expected[2, 1], expected[3, 2] = 1.0, 2.0, 3.0, 4.0
    assert_close(dx[0, 0], expected, rtol=0, atol=0, hint="only each window's maximum gets the window's dout; "
                 "the other elements get 0")


def test_backward_overlapping_windows_add_up():
    # The 9 is the maximum of all four windows, so it receives 1 + 2 + 3 + 4 = 10.
    dout = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64)
    _, cache = maxpool2d_forward(example(), 3, 1)
    dx = maxpool2d_backward(dout, cache)
    expected = torch.zeros(4, 4, dtype=torch.float64)
    expected[2, 1] = 10.0
    assert_close(dx[0, 0], expected, rtol=0, atol=0, hint="where windows overlap, add (+=) each window's "
                 "gradient; assigning (=) keeps only the last window's")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_device_and_input_untouched(dtype, device):
    # A 7 x 8 input, kernel 3, stride 2: (7 - 3) // 2 + 1 = 3 rows, (8 - 3) // 2 + 1 = 3 columns.
    x = torch.randn(2, 3, 7, 8, dtype=dtype, device=device)
    original = x.clone()
    out, cache = maxpool2d_forward(x, 3, 2)
    assert out.shape == (2, 3, 3, 3) and out.dtype == dtype and out.device == x.device
    dx = maxpool2d_backward(torch.ones_like(out), cache)
    assert dx.shape == x.shape and dx.dtype == dtype and dx.device == x.device
    assert torch.equal(x, original), "maxpool2d_forward must not modify its input"


@pytest.mark.parametrize("kernel_size, stride", [(2, 2), (3, 2), (2, 1)])
def test_backward_matches_numerical_gradients(kernel_size, stride):
    torch.manual_seed(0)
    x = torch.randn(2, 2, 7, 6, dtype=torch.float64)  # continuous values: no ties in a window
    out, cache = maxpool2d_forward(x, kernel_size, stride)
    dout = torch.randn_like(out)
    dx = maxpool2d_backward(dout, cache)
    h = 1e-6
    numerical = torch.zeros_like(x)
    for i in range(x.numel()):
        bumped_up, bumped_down = x.clone(), x.clone()
        bumped_up.view(-1)[i] += h
        bumped_down.view(-1)[i] -= h
        plus = (maxpool2d_forward(bumped_up, kernel_size, stride)[0] * dout).sum()
        minus = (maxpool2d_forward(bumped_down, kernel_size, stride)[0] * dout).sum()
        numerical.view(-1)[i] = (plus - minus) / (2 * h)
    assert_close(dx, numerical, atol=1e-6, hint="dout goes to each window's maximum only, added up where "
                 "windows overlap")
