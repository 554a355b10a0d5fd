"""The a5_autograd reference against oracles nobody here wrote.

torch's own tanh and sigmoid (and autograd's gradients of them), torch.distributions'
normal log-density, and torch.autograd.gradcheck/gradgradcheck's finite differences:
all in float64, on the CPU and, where there is one, on a CUDA device.
"""
import math

import pytest
import torch

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device on this machine"))]
F64 = torch.float64
SLOPE = 1.44 * math.log(2.0)  # 2^(-1.44x) = e^(-SLOPE x), so the approximation is sigmoid(SLOPE x)


@pytest.fixture(scope="module")
def ref(load):
    return load("a5_autograd").reference


def _inputs(device):
    generator = torch.Generator().manual_seed(5)
    random = torch.randn(64, dtype=F64, generator=generator) * 3
    edges = torch.tensor([0.0, -0.0, 1e-12, -1e-8, 1e-3, 0.5, -0.5, 19.0, -19.0, 40.0, -40.0,
                          400.0, -400.0, 1000.0, -1000.0], dtype=F64)
    return torch.cat([random, edges]).to(device)


def _function_and_gradient(apply, x, grad_out):
    leaf = x.clone().requires_grad_(True)
    y = apply(leaf)
    (grad,) = torch.autograd.grad(y, leaf, grad_out)
    return y.detach(), grad


@pytest.mark.parametrize("device", DEVICES)
def test_tanh_matches_torch_tanh_and_its_autograd_gradient(ref, device):
    x = _inputs(device)
    grad_out = torch.linspace(-2, 2, x.numel(), dtype=F64, device=device)
    y, grad = _function_and_gradient(ref.TanhFunction.apply, x, grad_out)
    expected_y, expected_grad = _function_and_gradient(torch.tanh, x, grad_out)
    assert y.dtype == F64 and y.device == x.device
    torch.testing.assert_close(y, expected_y, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-12, atol=1e-15)
    assert torch.all(torch.isfinite(y)) and torch.all(torch.isfinite(grad))


@pytest.mark.parametrize("device", DEVICES)
def test_approx_sigmoid_matches_torch_sigmoid_of_scaled_input(ref, device):
    x = _inputs(device)
    grad_out = torch.linspace(-2, 2, x.numel(), dtype=F64, device=device)
    s, grad = _function_and_gradient(ref.ApproxSigmoidFunction.apply, x, grad_out)
    expected_s, expected_grad = _function_and_gradient(lambda t: torch.sigmoid(SLOPE * t), x, grad_out)
    assert s.dtype == F64 and s.device == x.device
    torch.testing.assert_close(s, expected_s, rtol=1e-13, atol=1e-300)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["TanhFunction", "ApproxSigmoidFunction"])
def test_functions_pass_gradcheck_and_gradgradcheck(ref, name, device):
    generator = torch.Generator().manual_seed(7)
    x = (torch.randn(3, 5, dtype=F64, generator=generator) * 2).to(device).requires_grad_(True)
    apply = getattr(ref, name).apply
    assert torch.autograd.gradcheck(apply, (x,))
    # The backward is written with the saved output, itself a node of the graph, so
    # autograd can differentiate it once more.
    assert torch.autograd.gradgradcheck(apply, (x,))


def _normal_cases(device):
    generator = torch.Generator().manual_seed(11)
    x = (torch.randn(6, 4, dtype=F64, generator=generator) * 2).to(device)
    mu = torch.tensor([0.0, 1.0, -0.5, 2.0], dtype=F64, device=device)
    sigma = torch.tensor([1.0, 2.0, 0.3, 1.7], dtype=F64, device=device)
    return [(x, 0.0, 1.0), (x, 1.0, 2.0), (x, mu, sigma), (x[:, :1], mu, sigma), (x[0, 0], mu, sigma)]


def _oracle_pdf(x, mu, sigma):
    mu, sigma = (torch.as_tensor(v, dtype=F64, device=x.device) for v in (mu, sigma))
    return torch.distributions.Normal(mu, sigma).log_prob(x).exp()


@pytest.mark.parametrize("device", DEVICES)
def test_normal_pdf_matches_torch_distributions(ref, device):
    for x, mu, sigma in _normal_cases(device):
        pdf = ref.normal_pdf(x, mu, sigma)
        assert pdf.dtype == F64 and pdf.device == x.device
        torch.testing.assert_close(pdf, _oracle_pdf(x, mu, sigma), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("device", DEVICES)
def test_normal_pdf_grad_matches_autograd_of_torch_distributions(ref, device):
    for x, mu, sigma in _normal_cases(device):
        grad = ref.normal_pdf_grad(x, mu, sigma)
        # Each density value depends on its own x alone: differentiate the sum with
        # respect to x expanded to the broadcast shape to get every derivative.
        shape = torch.broadcast_shapes(x.shape, torch.as_tensor(mu).shape, torch.as_tensor(sigma).shape)
        leaf = x.expand(shape).clone().requires_grad_(True)
        pdf = _oracle_pdf(leaf, mu, sigma)
        (expected,) = torch.autograd.grad(pdf.sum(), leaf)
        assert grad.shape == pdf.shape and grad.dtype == F64 and grad.device == x.device
        torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("device", DEVICES)
def test_normal_pdf_grad_matches_central_differences(ref, device):
    x = torch.linspace(-4, 4, 41, dtype=F64, device=device)
    h = 1e-6
    for mu, sigma in [(0.0, 1.0), (1.0, 2.0), (-0.5, 0.3)]:
        numerical = (_oracle_pdf(x + h, mu, sigma) - _oracle_pdf(x - h, mu, sigma)) / (2 * h)
        torch.testing.assert_close(ref.normal_pdf_grad(x, mu, sigma), numerical, rtol=1e-6, atol=1e-8)
