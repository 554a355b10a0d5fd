"""Public tests of the conv_forward task; run them with `pytest` from your repository's root."""
import pytest
import torch

from conv import conv2d_forward

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def assert_close(actual, expected, rtol=1e-5, atol=1e-8, hint=""):
    """Like ``assert torch.allclose(actual, expected)``, but a failure says how many values
    differ, the greatest absolute and relative differences and where, and what to check."""
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, check_dtype=False,
                               msg=lambda report: report + (f"\nHint: {hint}" if hint else ""))


def worked_example(dtype=torch.float64, device="cpu"):
    """The handout's example: the numbers 1..16 in a 4 x 4 image, filter [[1, 2], [3, 4]], bias 1."""
    x = torch.arange(1.0, 17.0, dtype=dtype, device=device).reshape(1, 1, 4, 4)
    w = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=dtype, device=device)
    b = torch.tensor([1.0], dtype=dtype, device=device)
    return x, w, b


def test_forward_worked_example():
    # out[0, 0] = 1*1 + 2*2 + 5*3 + 6*4 + 1 = 45; one step right adds 1+2+3+4 = 10, one step down 40.
    # (A flipped filter, the textbook convolution, would give 27 at the top left instead.)
    x, w, b = worked_example()
    out, _ = conv2d_forward(x, w, b)
    expected = torch.tensor([[45.0, 55.0, 65.0], [85.0, 95.0, 105.0], [125.0, 135.0, 145.0]], dtype=torch.float64)
    assert out.shape == (1, 1, 3, 3)
    assert_close(out[0, 0], expected, hint="27 at the top left means the filter was flipped: a convolution layer "
                 "slides the filter as it is (cross-correlation)")


def test_forward_worked_example_with_stride_2():
    x, w, b = worked_example()
    out, _ = conv2d_forward(x, w, b, stride=2)
    assert_close(out[0, 0], torch.tensor([[45.0, 65.0], [125.0, 145.0]], dtype=torch.float64),
                 hint="window (i, j) starts at row i * stride and column j * stride")


def test_forward_worked_example_with_padding_1():
    # At the top left only x[0, 0] = 1 meets the filter's last element 4: 1*4 + 1 = 5.
    x, w, b = worked_example()
    out, _ = conv2d_forward(x, w, b, padding=1)
    expected = torch.tensor([[5.0, 12.0, 19.0, 26.0, 13.0],
                             [23.0, 45.0, 55.0, 65.0, 29.0],
                             [47.0, 85.0, 95.0, 105.0, 45.0],
                             [71.0, 125.0, 135.0, 145.0, 61.0],
                             [27.0, 42.0, 45.0, 48.0, 17.0]], dtype=torch.float64)
    assert out.shape == (1, 1, 5, 5), "padding adds zeros on both sides: (4 + 2 * 1 - 2) + 1 = 5"
    assert_close(out[0, 0], expected)


def test_forward_is_a_cross_correlation():
    # A filter whose only 1 sits at its top-left corner copies the top-left of each window.
    x = torch.randn(2, 1, 5, 6, dtype=torch.float64)
    w = torch.zeros(1, 1, 2, 3, dtype=torch.float64)
    w[0, 0, 0, 0] = 1.0
    out, _ = conv2d_forward(x, w, torch.zeros(1, dtype=torch.float64))
    assert_close(out, x[:, :, :4, :4], hint="filter element (0, 0) multiplies each window's top-left element")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_shape_dtype_device_and_inputs_untouched(dtype, device):
    # Non-square input (7 x 4) and filters (3 x 1), stride 2, padding 1:
    # (7 + 2 - 3) // 2 + 1 = 4 rows and (4 + 2 - 1) // 2 + 1 = 3 columns.
    x = torch.randn(2, 3, 7, 4, dtype=dtype, device=device)
    w = torch.randn(5, 3, 3, 1, dtype=dtype, device=device)
    b = torch.randn(5, dtype=dtype, device=device)
    copies = [t.clone() for t in (x, w, b)]
    out, _ = conv2d_forward(x, w, b, stride=2, padding=1)
    assert out.shape == (2, 5, 4, 3)
    assert out.dtype == dtype and out.device == x.device
    assert all(torch.equal(t, c) for t, c in zip((x, w, b), copies)), "inputs must not be modified"


def test_forward_1x1_filters_mix_channels_at_each_pixel():
    # A 1 x 1 convolution is an inner product of each pixel's channels with each filter.
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    w = torch.randn(4, 3, 1, 1, dtype=torch.float64)
    b = torch.randn(4, dtype=torch.float64)
    out, _ = conv2d_forward(x, w, b)
    expected = torch.einsum("nchw,fc->nfhw", x, w[:, :, 0, 0]) + b.reshape(1, 4, 1, 1)
    assert out.shape == (2, 4, 4, 5)
    assert_close(out, expected, hint="out[n, f] sums over every input channel c of x[n, c] * w[f, c]")
