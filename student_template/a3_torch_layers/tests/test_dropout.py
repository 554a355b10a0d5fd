"""Public tests of the dropout task; run them with `pytest` from your repository's root.

The mask is random, so these check what every correct dropout does. The course's
`nn.Dropout(0.2)` zeroes each element with probability 0.2 and scales the rest by 1/0.8.
"""
import pytest
import torch

from layers import dropout_backward, dropout_forward

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
P = 0.2


def assert_close(actual, expected, rtol=1e-5, atol=1e-8, hint=""):
    """Like ``assert torch.allclose(actual, expected)``, but a failure says how many values
    differ, the greatest absolute and relative differences and where, and what to check."""
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, check_dtype=False,
                               msg=lambda report: report + (f"\nHint: {hint}" if hint else ""))


def seeded(seed, device="cpu"):
    return torch.Generator(device=device).manual_seed(seed)


@pytest.mark.parametrize("device", DEVICES)
def test_training_mode_zeroes_about_p_and_scales_the_rest(device):
    x = torch.full((100, 100), 2.0, dtype=torch.float64, device=device)
    out, _ = dropout_forward(x, P, True, seeded(0, device))
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    kept = out != 0
    assert_close(out[kept], torch.full_like(out[kept], 2.0 / (1 - P)),
                 hint="inverted dropout scales the entries it keeps by 1 / (1 - p)")
    # 10000 draws: the dropped fraction is within 0.03 of p except with negligible probability.
    dropped = (~kept).double().mean().item()
    assert abs(dropped - P) < 0.03, (f"{dropped:.3f} of the entries were zeroed, expected about {P}: p is the "
                                     "probability of zeroing an entry (as in torch.nn.Dropout(p))")


def test_backward_uses_the_same_mask():
    x = torch.ones(50, 40, dtype=torch.float64)
    out, cache = dropout_forward(x, P, True, seeded(1))
    dout = torch.full_like(x, 3.0)
    dx = dropout_backward(dout, cache)
    assert torch.equal(dx != 0, out != 0), "backward must reuse the forward pass's mask (keep it in the cache)"
    assert_close(dx[out != 0], torch.full_like(dx[out != 0], 3.0 / (1 - P)),
                 hint="the gradient of a kept entry is scaled by 1 / (1 - p) too")


def test_generator_controls_the_mask():
    x = torch.ones(30, 30)
    first, _ = dropout_forward(x, P, True, seeded(7))
    again, _ = dropout_forward(x, P, True, seeded(7))
    other, _ = dropout_forward(x, P, True, seeded(8))
    assert_close(first, again, rtol=0, atol=0, hint="draw the mask with generator=generator")
    assert not torch.equal(first, other), "generators in different states gave the same mask"


def test_eval_mode_is_the_identity():
    x = torch.randn(4, 5, dtype=torch.float64)
    out, cache = dropout_forward(x, P, False, seeded(2))
    assert_close(out, x, rtol=0, atol=0, hint="evaluation mode is the identity: no mask, no 1 - p factor")
    dout = torch.randn(4, 5, dtype=torch.float64)
    assert_close(dropout_backward(dout, cache), dout, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_dtype_and_input_without_generator(dtype):
    x = torch.randn(10, 10, dtype=dtype)
    original = x.clone()
    out, cache = dropout_forward(x, P, True)
    assert out.dtype == dtype
    assert torch.equal(x, original), "dropout_forward must not modify its input"
    assert dropout_backward(torch.ones_like(x), cache).dtype == dtype
