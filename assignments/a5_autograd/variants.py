"""Correct implementations of A5 written differently from the reference; each keeps full marks.

A variant of an autograd Function is a whole class; its source alone is appended to the
reference module (which provides ``torch`` and ``math``).
"""
import math

import torch

from graders.grading.catalog import variant


@variant("TanhFunction", "tanh(x) = 2/(1 + e^(-2x)) - 1: where e^(-2x) overflows to inf the "
         "fraction is 0 and y is -1, so no nan appears")
class tanh_two_over_one_plus_exp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = 2.0 / (1.0 + torch.exp(-2.0 * x)) - 1.0
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return grad_out * (1.0 - y ** 2)


@variant("TanhFunction", "(1 - e^(-2|x|))/(1 + e^(-2|x|)) with the sign of x restored by torch.sign, "
         "no expm1")
class tanh_sign_times_magnitude(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        e = torch.exp(-2.0 * torch.abs(x))
        y = torch.sign(x) * (1.0 - e) / (1.0 + e)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return grad_out - grad_out * y * y


@variant("TanhFunction", "saves x, not y, and computes the derivative sech²(x) = 4e/(1 + e)² with "
         "e = e^(-2|x|) in backward")
class tanh_saves_input(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        e = torch.exp(-2.0 * x.abs())
        magnitude = (1.0 - e) / (1.0 + e)
        return torch.where(x >= 0, magnitude, -magnitude)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        e = torch.exp(-2.0 * x.abs())
        return grad_out * (4.0 * e / (1.0 + e) ** 2)


@variant("ApproxSigmoidFunction", "2^(-1.44x) written as e^(-1.44 · ln 2 · x)")
class approx_sigmoid_natural_exp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s = 1.0 / (1.0 + torch.exp(-1.44 * math.log(2.0) * x))
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_out):
        (s,) = ctx.saved_tensors
        return 1.44 * math.log(2.0) * s * (1.0 - s) * grad_out


@variant("ApproxSigmoidFunction", "saves x and recomputes s = 1/(1 + 2^(-1.44x)) with torch.pow in backward")
class approx_sigmoid_saves_input(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 1.0 / (1.0 + torch.pow(2.0, -1.44 * x))

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        s = 1.0 / (1.0 + torch.pow(2.0, -1.44 * x))
        return grad_out * (1.44 * math.log(2.0)) * s * (1.0 - s)


@variant("normal_pdf", "the exponential of the log-density -z²/2 - log σ - log(2π)/2")
def normal_pdf_log_density(x, mu, sigma):
    z = (x - mu) / sigma
    log_sigma = torch.log(torch.as_tensor(sigma, dtype=x.dtype, device=x.device))
    return torch.exp(-0.5 * z ** 2 - log_sigma - 0.5 * math.log(2.0 * math.pi))


@variant("normal_pdf_grad", "written with z = (x - μ)/σ as -z/σ · exp(-z²/2)/(σ sqrt(2π)), "
         "without calling normal_pdf")
def normal_pdf_grad_from_z(x, mu, sigma):
    z = (x - mu) / sigma
    return -z / sigma * torch.exp(-z * z / 2.0) / (sigma * math.sqrt(2.0 * math.pi))
