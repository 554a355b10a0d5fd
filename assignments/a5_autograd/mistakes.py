"""Known mistakes in A5, each with the explanation a student reads when their result matches it.

A mistake of an autograd Function is a whole class, named by the mistake's id; it replaces
the reference's class. Each class is self-contained: its source alone is appended to the
reference module (which provides ``torch`` and ``math``).
"""
import math

import torch

from graders.grading.catalog import mistake


# --------------------------------------------------------------------------- TanhFunction

@mistake("TanhFunction", "The backward pass used 1 - x² (the input squared) as tanh's derivative. "
         "The derivative of tanh is 1 - tanh(x)²: it is written with the output y = tanh(x), not "
         "with x. Save the output in forward and use it in backward.")
class tanh_derivative_from_input(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        m = torch.expm1(-2.0 * x.abs())
        magnitude = -m / (2.0 + m)
        ctx.save_for_backward(x)
        return torch.where(x < 0, -magnitude, magnitude)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * (1.0 - x * x)


@mistake("TanhFunction", "The backward pass returned tanh's derivative 1 - y² alone, without "
         "multiplying it by grad_out, the gradient arriving from the layers above. By the chain "
         "rule, backward returns dL/dx = dL/dy · dy/dx: the local derivative times the incoming "
         "gradient, element by element.")
class tanh_ignores_grad_out(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        m = torch.expm1(-2.0 * x.abs())
        magnitude = -m / (2.0 + m)
        y = torch.where(x < 0, -magnitude, magnitude)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return 1.0 - y * y


@mistake("TanhFunction", "tanh was computed as (e^x - e^-x) / (e^x + e^-x) directly. For large |x| "
         "one exponential overflows to inf (in float32 already at |x| ≈ 89) and inf/inf is nan, "
         "although tanh there is simply ±1. Rewrite the formula with e^(-2|x|), which never "
         "exceeds 1, and put the sign of x back at the end.")
class tanh_naive_exp_overflows(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return grad_out * (1.0 - y * y)


@mistake("TanhFunction", "TanhFunction called torch's own tanh, which this task forbids: the point "
         "is to build tanh from exponentials yourself and to write its derivative by hand.")
class tanh_uses_torch_tanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return grad_out * (1.0 - y * y)


# --------------------------------------------------------------------------- ApproxSigmoidFunction

@mistake("ApproxSigmoidFunction", "The gradient is 1.44 · s · (1 - s): the factor ln 2 is missing. "
         "The derivative of 2^u is 2^u · ln 2 (only e^u is its own derivative), so the chain rule "
         "through 2^(-1.44x) brings 1.44 · ln 2 ≈ 0.998 in front of s · (1 - s).")
class approx_sigmoid_missing_ln2(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s = 1.0 / (1.0 + torch.exp2(-1.44 * x))
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_out):
        (s,) = ctx.saved_tensors
        return grad_out * (1.44 * s * (1.0 - s))


@mistake("ApproxSigmoidFunction", "The gradient is s · (1 - s), the exact sigmoid's derivative. This "
         "function uses 2^(-1.44x) rather than e^(-x), so the chain rule through the exponent "
         "brings a constant factor in front of s · (1 - s): work out which one.")
class approx_sigmoid_exact_sigmoid_derivative(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s = 1.0 / (1.0 + torch.exp2(-1.44 * x))
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_out):
        (s,) = ctx.saved_tensors
        return grad_out * s * (1.0 - s)


@mistake("ApproxSigmoidFunction", "The gradient has the wrong sign: the sigmoid increases, so its "
         "derivative is positive everywhere. Two minus signs meet in the chain rule, one from "
         "the power -1 of 1/(1 + t) and one from the exponent -1.44x: they cancel.")
class approx_sigmoid_gradient_sign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s = 1.0 / (1.0 + torch.exp2(-1.44 * x))
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_out):
        (s,) = ctx.saved_tensors
        return -grad_out * ((1.44 * math.log(2.0)) * s * (1.0 - s))


@mistake("ApproxSigmoidFunction", "The forward pass computed the exact sigmoid 1/(1 + e^(-x)). This "
         "task asks for the approximation 1/(1 + 2^(-1.44x)), which hardware computes with "
         "powers of 2; its values differ slightly from the exact sigmoid, and so does its derivative.")
class approx_sigmoid_uses_exp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s = 1.0 / (1.0 + torch.exp(-x))
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_out):
        (s,) = ctx.saved_tensors
        return grad_out * s * (1.0 - s)


@mistake("ApproxSigmoidFunction", "The backward pass let autograd compute the gradient "
         "(requires_grad_ / torch.autograd.grad), which this task forbids: write the derivative "
         "1.44 · ln 2 · s · (1 - s) out by hand, from what forward saved.")
class approx_sigmoid_backward_uses_autograd(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 1.0 / (1.0 + torch.exp2(-1.44 * x))

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            s = 1.0 / (1.0 + torch.exp2(-1.44 * leaf))
            (grad_x,) = torch.autograd.grad(s, leaf, grad_out)
        return grad_x


# --------------------------------------------------------------------------- normal_pdf

@mistake("normal_pdf", "The density is missing the factor 1/sqrt(2π). Without it the curve has "
         "the right shape but does not integrate to 1, so it is not a probability density.")
def normal_pdf_missing_sqrt_2pi(x, mu, sigma):
    z = (x - mu) / sigma
    return torch.exp(-0.5 * z * z) / sigma


@mistake("normal_pdf", "The exponent divides (x - μ)² by 2σ instead of 2σ²: the exponent must be "
         "the squared distance from the mean measured in standard deviations, ((x - μ)/σ)² / 2, "
         "so σ appears squared there (and unsquared only in the factor in front).")
def normal_pdf_sigma_not_squared(x, mu, sigma):
    return torch.exp(-(x - mu) ** 2 / (2.0 * sigma)) / (sigma * math.sqrt(2.0 * math.pi))


@mistake("normal_pdf_grad", "The derivative is -(x - μ) · pdf(x): the factor 1/σ² is missing. The "
         "chain rule through the exponent -(x - μ)²/(2σ²) gives -(x - μ)/σ², not -(x - μ).")
def normal_pdf_grad_missing_inverse_variance(x, mu, sigma):
    return -(x - mu) * normal_pdf(x, mu, sigma)


@mistake("normal_pdf_grad", "The derivative has the wrong sign. The density rises to the left of "
         "the mean and falls to its right, so the slope is positive for x < μ and negative for "
         "x > μ: it carries the minus sign of the exponent -(x - μ)²/(2σ²).")
def normal_pdf_grad_sign(x, mu, sigma):
    return (x - mu) / (sigma * sigma) * normal_pdf(x, mu, sigma)
