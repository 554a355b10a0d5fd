"""The A4 reference against oracles nobody here wrote: torch's own conv2d and max_pool2d, their
autograd gradients, and numerical gradients, in float64, on the CPU and (when present) a GPU."""
import pytest
import torch
import torch.nn.functional as F

CUDA_MISSING = "no CUDA device on this machine (torch.cuda.is_available() is False)"
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                reason=CUDA_MISSING))]
# (N, C, H, W, F, KH, KW, stride, padding): the hidden tests' features and a few larger ones.
CONV_CASES = [
    (2, 3, 7, 7, 4, 3, 3, 1, 0),
    (2, 3, 5, 5, 4, 3, 3, 1, 1),
    (1, 2, 4, 4, 3, 2, 2, 1, 2),
    (2, 3, 8, 8, 4, 3, 3, 3, 0),   # the last row and column are never read
    (2, 3, 9, 9, 4, 3, 3, 2, 1),
    (2, 2, 5, 8, 3, 2, 3, 2, 1),   # non-square input and filters
    (2, 2, 7, 4, 3, 3, 1, 2, 1),
    (3, 4, 6, 5, 2, 1, 1, 1, 0),   # 1 x 1 filters
    (2, 16, 12, 10, 8, 5, 3, 2, 2),
]
POOL_CASES = [(8, 8, 2, 2), (9, 6, 3, 3), (7, 7, 2, 2), (9, 9, 3, 2), (7, 8, 3, 2), (6, 6, 2, 1),
              (8, 5, 3, 1), (13, 11, 4, 3)]


@pytest.fixture(scope="module")
def conv(load):
    return load("a4_conv").reference


def _generator(device):
    generator = torch.Generator(device=device)
    generator.manual_seed(4)
    return generator


def _randn(generator, *shape, device):
    return torch.randn(*shape, generator=generator, dtype=torch.float64, device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "N{}C{}H{}W{}F{}K{}x{}s{}p{}".format(*c))
def test_conv_matches_torch_conv2d_and_autograd(conv, case, device):
    N, C, H, W, Fn, KH, KW, stride, padding = case
    g = _generator(device)
    x, w, b = _randn(g, N, C, H, W, device=device), _randn(g, Fn, C, KH, KW, device=device), _randn(g, Fn, device=device)
    out, cache = conv.conv2d_forward(x, w, b, stride=stride, padding=padding)

    leaves = [t.clone().requires_grad_(True) for t in (x, w, b)]
    expected = F.conv2d(*leaves, stride=stride, padding=padding)
    assert out.shape == expected.shape and out.dtype == torch.float64 and out.device == x.device
    assert out.shape[2:] == (conv.conv_output_size(H, KH, stride, padding), conv.conv_output_size(W, KW, stride, padding))
    torch.testing.assert_close(out, expected.detach(), rtol=1e-10, atol=1e-10)

    dout = _randn(g, *out.shape, device=device)
    grads = conv.conv2d_backward(dout, cache)
    for mine, theirs, name in zip(grads, torch.autograd.grad(expected, leaves, dout), ("dx", "dw", "db")):
        assert mine.shape == theirs.shape and mine.device == x.device, name
        torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-10, msg=name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: "H{}W{}k{}s{}".format(*c))
def test_maxpool_matches_torch_max_pool2d_and_autograd(conv, case, device):
    H, W, k, stride = case
    g = _generator(device)
    x = _randn(g, 2, 3, H, W, device=device)
    out, cache = conv.maxpool2d_forward(x, k, stride)
    leaf = x.clone().requires_grad_(True)
    expected = F.max_pool2d(leaf, k, stride)
    assert out.shape[2:] == (conv.conv_output_size(H, k, stride, 0), conv.conv_output_size(W, k, stride, 0))
    torch.testing.assert_close(out, expected.detach(), rtol=0, atol=0)
    dout = _randn(g, *out.shape, device=device)
    (theirs,) = torch.autograd.grad(expected, leaf, dout)
    torch.testing.assert_close(conv.maxpool2d_backward(dout, cache), theirs, rtol=1e-12, atol=1e-12)


def _numerical(loss, t, h=1e-6):
    grad = torch.zeros_like(t)
    for i in range(t.numel()):
        bumped = [t.clone(), t.clone()]
        bumped[0].view(-1)[i] += h
        bumped[1].view(-1)[i] -= h
        grad.view(-1)[i] = (loss(bumped[0]) - loss(bumped[1])) / (2 * h)
    return grad


@pytest.mark.parametrize("device", DEVICES)
def test_conv_gradients_match_finite_differences(conv, device):
    g = _generator(device)
    x, w, b = _randn(g, 2, 2, 5, 6, device=device), _randn(g, 3, 2, 3, 2, device=device), _randn(g, 3, device=device)
    out, cache = conv.conv2d_forward(x, w, b, stride=2, padding=1)
    dout = _randn(g, *out.shape, device=device)
    dx, dw, db = conv.conv2d_backward(dout, cache)
    forward = lambda x, w, b: (conv.conv2d_forward(x, w, b, stride=2, padding=1)[0] * dout).sum()  # noqa: E731
    torch.testing.assert_close(dx, _numerical(lambda t: forward(t, w, b), x), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(dw, _numerical(lambda t: forward(x, t, b), w), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(db, _numerical(lambda t: forward(x, w, t), b), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_maxpool_gradient_matches_finite_differences(conv, device):
    g = _generator(device)
    x = _randn(g, 2, 2, 7, 7, device=device)
    out, cache = conv.maxpool2d_forward(x, 3, 2)
    dout = _randn(g, *out.shape, device=device)
    numerical = _numerical(lambda t: (conv.maxpool2d_forward(t, 3, 2)[0] * dout).sum(), x)
    torch.testing.assert_close(conv.maxpool2d_backward(dout, cache), numerical, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_reference_leaves_inputs_untouched_and_keeps_float32(conv, device):
    g = _generator(device)
    x, w, b = (_randn(g, *s, device=device).float() for s in ((2, 3, 6, 5), (4, 3, 3, 2), (4,)))
    before = [t.clone() for t in (x, w, b)]
    out, cache = conv.conv2d_forward(x, w, b, stride=2, padding=1)
    grads = conv.conv2d_backward(torch.ones_like(out), cache)
    pooled, pool_cache = conv.maxpool2d_forward(x, 2, 1)
    dx = conv.maxpool2d_backward(torch.ones_like(pooled), pool_cache)
    assert all(t.dtype == torch.float32 and t.device == x.device for t in (out, *grads, pooled, dx))
    assert all(torch.equal(t, c) for t, c in zip((x, w, b), before))
    # Against float64 torch: cuDNN may use TF32 for a float32 conv2d on a GPU, so no float32 oracle.
    exact = F.conv2d(x.double(), w.double(), b.double(), stride=2, padding=1).float()
    torch.testing.assert_close(out, exact, rtol=1e-5, atol=1e-5)
