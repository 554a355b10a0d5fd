"""Public tests of the conv_backward task; run them with `pytest` from your repository's root."""
import pytest
import torch

from conv import conv2d_backward, conv2d_forward

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


def numerical_gradient(f, t, h=1e-6):
    """Central differences of the scalar function f() with respect to every element of t."""
    grad = torch.zeros_like(t)
    flat, grad_flat = t.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        grad_flat[i] = (plus - minus) / (2 * h)
    return grad


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradient_shapes_dtype_device_and_inputs_untouched(dtype, device):
    # Non-square input (5 x 8) and filters (2 x 3), stride 2, padding 1: out is 3 x 4.
    x = torch.randn(2, 3, 5, 8, dtype=dtype, device=device)
    w = torch.randn(4, 3, 2, 3, dtype=dtype, device=device)
    b = torch.randn(4, dtype=dtype, device=device)
    copies = [t.clone() for t in (x, w, b)]
    out, cache = conv2d_forward(x, w, b, stride=2, padding=1)
    assert out.shape == (2, 4, 3, 4)
    assert out.dtype == dtype and out.device == x.device
    dx, dw, db = conv2d_backward(torch.ones_like(out), cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    assert [(g.dtype, g.device) for g in (dx, dw, db)] == [(dtype, x.device)] * 3
    assert all(torch.equal(t, c) for t, c in zip((x, w, b), copies)), "inputs must not be modified"


def test_backward_worked_example():
    # With dout all ones: db counts the 9 outputs; dw[p, q] adds up the inputs that met w[p, q]
    # (x[0:3, 0:3] sums to 54); dx[i, j] adds up the filter elements that touched x[i, j].
    x, w, b = worked_example()
    out, cache = conv2d_forward(x, w, b)
    dx, dw, db = conv2d_backward(torch.ones_like(out), cache)
    assert_close(db, torch.tensor([9.0], dtype=torch.float64), hint="db adds dout up over every output position")
    assert_close(dw[0, 0], torch.tensor([[54.0, 63.0], [90.0, 99.0]], dtype=torch.float64),
                 hint="dw[p, q] adds up dout times the input element that w[p, q] met in each window")
    assert_close(dx[0, 0], torch.tensor([[1.0, 3.0, 3.0, 2.0],
                                         [4.0, 10.0, 10.0, 6.0],
                                         [4.0, 10.0, 10.0, 6.0],
                                         [3.0, 7.0, 7.0, 4.0]], dtype=torch.float64),
                 hint="each output sends dout * w back to the window it read, and overlapping windows add up")


def test_backward_worked_example_with_padding_1():
    # With padding 1 every pixel meets every filter element once: dx = 1+2+3+4 = 10 everywhere,
    # and each dw[p, q] is the sum of the whole image, 136.
    x, w, b = worked_example()
    out, cache = conv2d_forward(x, w, b, padding=1)
    dx, dw, db = conv2d_backward(torch.ones_like(out), cache)
    assert dx.shape == (1, 1, 4, 4), "dx has the shape of x, without the padding"
    assert_close(dx, torch.full_like(x, 10.0), hint="crop p rows and columns from EVERY side of the padded dx")
    assert_close(dw, torch.full_like(w, 136.0))
    assert_close(db, torch.tensor([25.0], dtype=torch.float64))


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 1), (2, 0)])
def test_backward_matches_numerical_gradients(stride, padding):
    torch.manual_seed(0)
    x = torch.randn(2, 2, 5, 6, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 2, dtype=torch.float64)
    b = torch.randn(3, dtype=torch.float64)
    out, cache = conv2d_forward(x, w, b, stride=stride, padding=padding)
    dout = torch.randn_like(out)
    dx, dw, db = conv2d_backward(dout, cache)

    def loss():  # sum(out * dout) has gradient dout with respect to out
        return (conv2d_forward(x, w, b, stride=stride, padding=padding)[0] * dout).sum().item()

    stride_hint = "output (i, j) read the window at (i * stride, j * stride): its gradient goes back there"
    assert_close(dx, numerical_gradient(loss, x), atol=1e-6, hint=stride_hint)
    assert_close(dw, numerical_gradient(loss, w), atol=1e-6, hint=stride_hint + "; dw sums over the batch")
    assert_close(db, numerical_gradient(loss, b), atol=1e-6)


def test_db_adds_up_over_the_batch_and_positions():
    x = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    w = torch.randn(2, 2, 3, 3, dtype=torch.float64)
    out, cache = conv2d_forward(x, w, torch.zeros(2, dtype=torch.float64))
    _, _, db = conv2d_backward(torch.ones_like(out), cache)
    assert_close(db, torch.tensor([12.0, 12.0], dtype=torch.float64),  # 3 samples x 2 x 2 outputs
                 hint="db is a sum over the batch and the output positions, not a mean")
