"""The a3_torch_layers reference against oracles nobody here wrote.

Forward passes against ``torch.nn.functional`` (and ``torch.sigmoid``/``torch.tanh``),
backward passes against ``torch.autograd`` gradients of those torch functions, and every
backward wrapped in a ``torch.autograd.Function`` for ``torch.autograd.gradcheck``
(numerical gradients by finite differences). All in float64, on the CPU and, where there
is one, on a GPU.
"""
import pytest
import torch
import torch.nn.functional as F

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason="no CUDA device on this machine")),
]
DOUBLE = torch.float64


@pytest.fixture(scope="module")
def ref(load):
    return load("a3_torch_layers").reference


@pytest.fixture
def gen(device):
    return torch.Generator(device=device).manual_seed(1234)


def randn(gen, *shape, scale=1.0):
    return torch.randn(*shape, generator=gen, device=gen.device, dtype=DOUBLE) * scale


def autograd_grads(function, inputs, dout):
    """Gradients of sum(function(*inputs) * dout) with respect to every input, by torch.autograd."""
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = function(*leaves)
    return torch.autograd.grad(out, leaves, dout)


def as_autograd_function(forward, backward, outputs=1):
    """Wrap a reference forward/backward pair so that gradcheck can compare it with finite differences."""

    class Wrapped(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            result = forward(*inputs)
            ctx.cache = result[1]
            return result[0]

        @staticmethod
        def backward(ctx, dout):
            grads = backward(dout, ctx.cache)
            return grads if isinstance(grads, tuple) else (grads,)

    return Wrapped.apply


def gradcheck(function, *inputs):
    leaves = tuple(t.detach().clone().requires_grad_(True) for t in inputs)
    return torch.autograd.gradcheck(function, leaves, eps=1e-6, atol=1e-6, rtol=1e-5)


# --------------------------------------------------------------------------- activations

ACTIVATIONS = [("sigmoid", torch.sigmoid), ("tanh", torch.tanh)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, oracle", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_forward_backward(ref, gen, name, oracle, device):
    forward, backward = getattr(ref, f"{name}_forward"), getattr(ref, f"{name}_backward")
    x = torch.cat([randn(gen, 40, scale=3.0),
                   torch.tensor([-1000.0, -100.0, -30.0, -0.0, 0.0, 30.0, 100.0, 1000.0], dtype=DOUBLE, device=device)])
    dout = randn(gen, x.numel())
    out, cache = forward(x)
    torch.testing.assert_close(out, oracle(x), rtol=1e-12, atol=1e-15)
    (expected,) = autograd_grads(oracle, [x], dout)
    torch.testing.assert_close(backward(dout, cache), expected, rtol=1e-12, atol=1e-15)
    assert gradcheck(as_autograd_function(forward, backward), randn(gen, 3, 4, scale=2.0))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu(ref, gen, slope, device):
    x, dout = randn(gen, 5, 6, scale=2.0), randn(gen, 5, 6)
    out, cache = ref.leaky_relu_forward(x, slope)
    torch.testing.assert_close(out, F.leaky_relu(x, slope), rtol=1e-15, atol=0)
    (expected,) = autograd_grads(lambda t: F.leaky_relu(t, slope), [x], dout)
    torch.testing.assert_close(ref.leaky_relu_backward(dout, cache), expected, rtol=1e-15, atol=0)
    function = as_autograd_function(lambda t: ref.leaky_relu_forward(t, slope), ref.leaky_relu_backward)
    assert gradcheck(function, randn(gen, 3, 4) + 0.05)  # keep finite differences off the kink


# --------------------------------------------------------------------------- softmax

EXTREME = [[1e4, -1e4, 0.0, 1e4 - 2.0], [-1e4, -1e4 + 1.0, -1e4 + 3.0, -1e4],
           [1e4, 1e4, 1e4, 1e4], [-1e4, -1e4, -1e4, -1e4], [1e4 - 0.5, 1e4 - 1.5, -3.0, 2.0]]


@pytest.mark.parametrize("device", DEVICES)
def test_softmax_and_log_softmax(ref, gen, device):
    cases = [(randn(gen, 6, 5, scale=3.0), d) for d in (0, 1, -1)]
    cases += [(randn(gen, 2, 3, 4, scale=3.0), 1), (torch.tensor(EXTREME, dtype=DOUBLE, device=device), -1),
              (torch.tensor(EXTREME, dtype=DOUBLE, device=device), 0)]
    for x, dim in cases:
        torch.testing.assert_close(ref.softmax(x, dim=dim), F.softmax(x, dim=dim), rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(ref.log_softmax(x, dim=dim), F.log_softmax(x, dim=dim), rtol=1e-12, atol=1e-12)
    x = randn(gen, 4, 7)
    torch.testing.assert_close(ref.softmax(x), F.softmax(x, dim=-1), rtol=1e-12, atol=1e-15)  # default dim


# --------------------------------------------------------------------------- cross-entropy

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_cross_entropy(ref, gen, eps, device):
    for logits, targets in [
        (randn(gen, 8, 5, scale=2.0), torch.randint(0, 5, (8,), generator=gen, device=device)),
        (randn(gen, 1, 3), torch.tensor([2], device=device)),
        (torch.tensor(EXTREME, dtype=DOUBLE, device=device), torch.tensor([1, 2, 0, 3, 0], device=device)),
    ]:
        loss, cache = ref.cross_entropy_forward(logits, targets, label_smoothing=eps)
        expected = F.cross_entropy(logits, targets, label_smoothing=eps)
        assert loss.shape == () and loss.dtype == DOUBLE and loss.device == logits.device
        torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-12)
        (dlogits,) = autograd_grads(lambda t: F.cross_entropy(t, targets, label_smoothing=eps), [logits],
                                    torch.ones((), dtype=DOUBLE, device=device))
        torch.testing.assert_close(ref.cross_entropy_backward(cache), dlogits, rtol=1e-10, atol=1e-14)
    targets = torch.tensor([0, 3, 1], device=device)
    function = as_autograd_function(lambda t: ref.cross_entropy_forward(t, targets, eps),
                                    lambda dout, cache: dout * ref.cross_entropy_backward(cache))
    assert gradcheck(function, randn(gen, 3, 4))


# --------------------------------------------------------------------------- batch norm

def _bn_inputs(gen, n, d):
    x = randn(gen, n, d) * (randn(gen, d).abs() + 0.5) + randn(gen, d, scale=3.0)
    gamma, beta = 1 + 0.5 * randn(gen, d), randn(gen, d)
    running_mean, running_var = randn(gen, d), randn(gen, d).abs() + 0.5
    return x, gamma, beta, running_mean, running_var


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("momentum, eps", [(0.1, 1e-5), (0.3, 0.1)])
@pytest.mark.parametrize("n", [3, 16])
def test_batchnorm_train_and_running_stats(ref, gen, n, momentum, eps, device):
    x, gamma, beta, running_mean, running_var = _bn_inputs(gen, n, 5)
    torch_mean, torch_var = running_mean.clone(), running_var.clone()  # F.batch_norm updates these in place
    for _ in range(3):  # three steps, each feeding the new running estimates into the next
        out, cache, running_mean, running_var = ref.batchnorm_forward(
            x, gamma, beta, running_mean, running_var, True, momentum=momentum, eps=eps)
        expected = F.batch_norm(x, torch_mean, torch_var, gamma, beta, training=True, momentum=momentum, eps=eps)
        torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(running_mean, torch_mean, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(running_var, torch_var, rtol=1e-12, atol=1e-14)
        x = x * 1.5 - 0.25


@pytest.mark.parametrize("device", DEVICES)
def test_batchnorm_eval(ref, gen, device):
    x, gamma, beta, running_mean, running_var = _bn_inputs(gen, 6, 4)
    for eps in (1e-5, 0.1):
        out, _, new_mean, new_var = ref.batchnorm_forward(x, gamma, beta, running_mean, running_var, False, eps=eps)
        torch_mean, torch_var = running_mean.clone(), running_var.clone()
        expected = F.batch_norm(x, torch_mean, torch_var, gamma, beta, training=False, eps=eps)
        torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
        assert torch.equal(new_mean, torch_mean) and torch.equal(new_var, torch_var)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", [3, 16])
def test_batchnorm_backward(ref, gen, n, device):
    x, gamma, beta, running_mean, running_var = _bn_inputs(gen, n, 5)
    dout = randn(gen, n, 5)
    _, cache, _, _ = ref.batchnorm_forward(x, gamma, beta, running_mean, running_var, True)
    expected = autograd_grads(
        lambda x_, g_, b_: F.batch_norm(x_, None, None, g_, b_, training=True, eps=1e-5), [x, gamma, beta], dout)
    for got, want in zip(ref.batchnorm_backward(dout, cache), expected):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)

    def forward(x_, g_, b_):
        out, cache, _, _ = ref.batchnorm_forward(x_, g_, b_, running_mean, running_var, True)
        return out, cache

    assert gradcheck(as_autograd_function(forward, ref.batchnorm_backward), x[:4], gamma, beta)


# --------------------------------------------------------------------------- dropout

@pytest.mark.parametrize("device", DEVICES)
def test_dropout_matches_its_own_mask_and_torch_statistics(ref, gen, device):
    p = 0.3
    x = randn(gen, 200, 100).abs() + 0.5
    out, cache = ref.dropout_forward(x, p, True, gen)
    kept = out != 0
    torch.testing.assert_close(out[kept], x[kept] / (1 - p), rtol=1e-15, atol=0)
    assert abs((~kept).double().mean().item() - p) < 0.02
    # Backward is the Jacobian of that fixed mask, as autograd finds it through F.dropout's formula.
    dout = randn(gen, 200, 100)
    (expected,) = autograd_grads(lambda t: t * kept / (1 - p), [x], dout)
    torch.testing.assert_close(ref.dropout_backward(dout, cache), expected, rtol=1e-15, atol=0)
    # Evaluation mode is the identity, as F.dropout(training=False).
    out, cache = ref.dropout_forward(x, p, False, gen)
    assert torch.equal(out, F.dropout(x, p, training=False))
    assert torch.equal(ref.dropout_backward(dout, cache), dout)
    # Same generator state, same mask.
    state = gen.get_state()
    first, _ = ref.dropout_forward(x, p, True, gen)
    gen.set_state(state)
    again, _ = ref.dropout_forward(x, p, True, gen)
    assert torch.equal(first, again)
