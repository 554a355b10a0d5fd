"""Hidden tests of the normal_pdf task: ``normal_pdf`` and ``normal_pdf_grad``.

Every test runs on each device and in float64 and float32, with ``mu`` and ``sigma``
given as Python floats, as 0-dim tensors and as tensors that broadcast against ``x``.
"""
import torch

from graders.grading.hidden import hidden_test

DTYPES = (torch.float64, torch.float32)
STANDARD_X = [-2.0, -1.0, 0.0, 1.0, 2.0]  # pdf(0) = 1/sqrt(2 pi) ≈ 0.398942, pdf(±1) ≈ 0.241971
SHIFTED_X = [3.0, 1.0, -1.0, 0.5, 6.0]  # mu = 1, sigma = 2: pdf(3) ≈ 0.120985, grad(3) ≈ -0.060493


def _name(dtype):
    return str(dtype).removeprefix("torch.")


def _seed_examples(function, device):
    results = {}
    for dtype in DTYPES:
        standard = torch.tensor(STANDARD_X, dtype=dtype, device=device)
        shifted = torch.tensor(SHIFTED_X, dtype=dtype, device=device)
        results[f"{_name(dtype)} N(0, 1)"] = function(standard, 0.0, 1.0)
        results[f"{_name(dtype)} N(1, 2^2)"] = function(shifted, 1.0, 2.0)
    return results


def _random_parameters(function, rand, device):
    """x of shape (6, 5) with mu and sigma as floats, 0-dim tensors and (5,) tensors."""
    results = {}
    for dtype in DTYPES:
        x = rand.tensor(6, 5, scale=2.0, dtype=dtype)
        mu = float(rand.uniform(-1.0, 1.0))
        sigma = float(rand.uniform(0.4, 2.5))
        results[f"{_name(dtype)}, float mu and sigma"] = function(x, mu, sigma)
        mu_0d = torch.tensor(mu, dtype=dtype, device=device)
        sigma_0d = torch.tensor(sigma, dtype=dtype, device=device)
        results[f"{_name(dtype)}, 0-dim tensor mu and sigma"] = function(x, mu_0d, sigma_0d)
        mu_row = rand.tensor(5, scale=0.5, dtype=dtype)
        sigma_row = rand.tensor(5, scale=0.5, dtype=dtype).abs() + 0.5
        results[f"{_name(dtype)}, (5,) tensor mu and sigma"] = function(x, mu_row, sigma_row)
    return results


def _broadcast(function, rand, device):
    """x of shape (4, 1) against mu and sigma of shape (3,): one column per distribution."""
    results = {}
    for dtype in DTYPES:
        x = rand.tensor(4, 1, scale=2.0, dtype=dtype)
        mu = rand.tensor(3, dtype=dtype)
        sigma = rand.tensor(3, scale=0.5, dtype=dtype).abs() + 0.5
        results[f"{_name(dtype)} (4, 1) with (3,)"] = function(x, mu, sigma)
        results[f"{_name(dtype)} 0-dim x"] = function(x[0, 0], mu, sigma)
    return results


@hidden_test(task="normal_pdf")
def normal_pdf_seed_example(impl, device):
    """N(0, 1) at x = -2..2 (pdf(0) ≈ 0.3989) and N(1, 2²) at x = 3, 1, -1, 0.5, 6 (pdf(3) ≈ 0.1210)."""
    return _seed_examples(impl.normal_pdf, device)


@hidden_test(task="normal_pdf", weight=2.0)
def normal_pdf_random(impl, rand, device):
    """normal_pdf of a random (6, 5) x, with mu and sigma as floats, 0-dim tensors and (5,) tensors."""
    return _random_parameters(impl.normal_pdf, rand, device)


@hidden_test(task="normal_pdf")
def normal_pdf_broadcasting(impl, rand, device):
    """normal_pdf broadcasts: x of shape (4, 1) or () with mu and sigma of shape (3,)."""
    return _broadcast(impl.normal_pdf, rand, device)


@hidden_test(task="normal_pdf")
def normal_pdf_grad_seed_example(impl, device):
    """d pdf/dx for N(0, 1) at x = -2..2 (0 at x = 0) and N(1, 2²) at x = 3, 1, -1, 0.5, 6 (≈ -0.0605 at 3)."""
    return _seed_examples(impl.normal_pdf_grad, device)


@hidden_test(task="normal_pdf", weight=2.0)
def normal_pdf_grad_random(impl, rand, device):
    """normal_pdf_grad of a random (6, 5) x, with mu and sigma as floats, 0-dim tensors and (5,) tensors."""
    return _random_parameters(impl.normal_pdf_grad, rand, device)


@hidden_test(task="normal_pdf")
def normal_pdf_grad_broadcasting(impl, rand, device):
    """normal_pdf_grad broadcasts: x of shape (4, 1) or () with mu and sigma of shape (3,)."""
    return _broadcast(impl.normal_pdf_grad, rand, device)
