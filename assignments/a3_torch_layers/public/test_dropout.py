"""Public tests of the dropout task; run them with `pytest` from your repository's root.

The mask is random, so these check what every correct dropout does. The course's
`nn.Dropout(0.2)` zeroes each element with probability 0.2 and scales the rest by 1/0.8.
"""
import pytest
import torch

from layers import dropout_backward, dropout_forward

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
P = 0.2


def seeded(seed, device="cpu"):
    return torch.Generator(device=device).manual_seed(seed)


@pytest.mark.parametrize("device", DEVICES)
def test_training_mode_zeroes_about_p_and_scales_the_rest(device):
    x = torch.full((100, 100), 2.0, dtype=torch.float64, device=device)
    out, _ = dropout_forward(x, P, True, seeded(0, device))
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    kept = out != 0
    assert torch.allclose(out[kept], torch.full_like(out[kept], 2.0 / (1 - P)))
    # 10000 draws: the dropped fraction is within 0.03 of p except with negligible probability.
    assert abs((~kept).double().mean().item() - P) < 0.03


def test_backward_uses_the_same_mask():
    x = torch.ones(50, 40, dtype=torch.float64)
    out, cache = dropout_forward(x, P, True, seeded(1))
    dout = torch.full_like(x, 3.0)
    dx = dropout_backward(dout, cache)
    assert torch.equal(dx != 0, out != 0)
    assert torch.allclose(dx[out != 0], torch.full_like(dx[out != 0], 3.0 / (1 - P)))


def test_generator_controls_the_mask():
    x = torch.ones(30, 30)
    first, _ = dropout_forward(x, P, True, seeded(7))
    again, _ = dropout_forward(x, P, True, seeded(7))
    other, _ = dropout_forward(x, P, True, seeded(8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_eval_mode_is_the_identity():
    x = torch.randn(4, 5, dtype=torch.float64)
    out, cache = dropout_forward(x, P, False, seeded(2))
    assert torch.equal(out, x)
    dout = torch.randn(4, 5, dtype=torch.float64)
    assert torch.equal(dropout_backward(dout, cache), dout)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_dtype_and_input_without_generator(dtype):
    x = torch.randn(10, 10, dtype=dtype)
    original = x.clone()
    out, cache = dropout_forward(x, P, True)
    assert out.dtype == dtype and torch.equal(x, original)
    assert dropout_backward(torch.ones_like(x), cache).dtype == dtype
