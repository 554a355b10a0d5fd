"""Public tests of normal_pdf and normal_pdf_grad; run them with `pytest` from your repository's root."""
import math

import pytest
import torch

from functions import normal_pdf, normal_pdf_grad

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
AUTOGRAD = ("backward", "grad", "requires_grad_")


def assert_close(actual, expected, rtol=1e-5, atol=1e-8, hint=""):
    """Like ``assert torch.allclose(actual, expected)``, but a failure says how many values
    differ, the greatest absolute and relative differences and where, and what to check."""
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, check_dtype=False,
                               msg=lambda report: report + (f"\nHint: {hint}" if hint else ""))


def test_standard_normal_worked_numbers():
    x = torch.tensor([0.0, 1.0, -1.0, 2.0], dtype=torch.float64)
    pdf = normal_pdf(x, 0.0, 1.0)
    assert pdf[0].item() == pytest.approx(1 / math.sqrt(2 * math.pi))  # ≈ 0.398942
    assert pdf[1].item() == pytest.approx(0.241971, abs=1e-6)  # e^(-1/2) / sqrt(2 pi)
    assert pdf[2].item() == pytest.approx(pdf[1].item())  # symmetric about the mean
    assert pdf[3].item() == pytest.approx(0.053991, abs=1e-6)
    grad = normal_pdf_grad(x, 0.0, 1.0)
    assert grad[0].item() == pytest.approx(0.0)  # the peak is flat
    assert grad[1].item() == pytest.approx(-0.241971, abs=1e-6)  # -(1 - 0)/1 * pdf(1)
    assert grad[2].item() == pytest.approx(0.241971, abs=1e-6)


def test_shifted_and_scaled_worked_numbers():
    # mu = 1, sigma = 2 at x = 3: z = 1, pdf = 0.241971 / 2, grad = -(3 - 1)/4 * pdf
    x = torch.tensor([3.0], dtype=torch.float64)
    assert normal_pdf(x, 1.0, 2.0).item() == pytest.approx(0.120985, abs=1e-6)
    assert normal_pdf_grad(x, 1.0, 2.0).item() == pytest.approx(-0.060493, abs=1e-6)


def test_agrees_with_torch_distributions():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, dtype=torch.float64, generator=generator) * 2
    mu = torch.tensor([0.5, -1.0, 0.0], dtype=torch.float64)
    sigma = torch.tensor([0.7, 1.0, 2.5], dtype=torch.float64)
    expected = torch.distributions.Normal(mu, sigma).log_prob(x).exp()
    assert_close(normal_pdf(x, mu, sigma), expected, rtol=1e-10,
                 hint="pdf = exp(-((x - mu) / sigma)^2 / 2) / (sigma sqrt(2 pi))")


@pytest.mark.parametrize("mu, sigma", [(0.0, 1.0), (1.0, 2.0), (-0.5, 0.3)])
def test_grad_matches_central_differences(refuse, mu, sigma):
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    h = 1e-6
    numerical = (normal_pdf(x + h, mu, sigma) - normal_pdf(x - h, mu, sigma)) / (2 * h)
    with refuse(*AUTOGRAD):
        grad = normal_pdf_grad(x, mu, sigma)
    assert_close(grad, numerical, rtol=1e-6, atol=1e-9, hint="d pdf/dx = -(x - mu) / sigma^2 * pdf(x)")


def test_broadcasts_x_against_mu_and_sigma():
    x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)  # (2, 1)
    mu = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)  # (3,)
    sigma = torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64)
    assert normal_pdf(x, mu, sigma).shape == (2, 3)
    assert normal_pdf_grad(x, mu, sigma).shape == (2, 3)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_dtype_device_and_input(dtype, device):
    x = torch.tensor([-1.0, 0.5, 2.0], dtype=dtype, device=device)
    original = x.clone()
    for function in (normal_pdf, normal_pdf_grad):
        out = function(x, 0.5, 1.5)
        assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
    assert torch.equal(x, original), "the input must be left unchanged: compute on new tensors"
