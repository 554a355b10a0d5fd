"""A5: custom autograd Functions and a density with its derivative, in PyTorch.

Two activations written as ``torch.autograd.Function`` classes, each with a forward pass
and a hand-derived backward pass (tanh, and the hardware-friendly sigmoid approximation
``1/(1 + 2^(-1.44x))``), and the normal density with its derivative with respect to x.

Every function works on whatever device its tensors are on (CPU or GPU) and returns
results with their dtype, on their device. Nothing modifies its inputs in place. No
autograd runs inside a forward or backward written here: the backward passes are the
derivatives worked out by hand.
"""
import math

import torch


class TanhFunction(torch.autograd.Function):
    """The hyperbolic tangent ``tanh(x) = (e^x - e^-x) / (e^x + e^-x)``, elementwise.

    Call it as ``y = TanhFunction.apply(x)``; autograd then calls ``backward`` for the
    gradient. Its derivative is ``1 - tanh(x)^2``, which the output alone gives.
    Output and gradient are finite for every finite ``x``, large ``|x|`` included.
    """

    @staticmethod
    def forward(ctx, x):
        """tanh of every element of ``x``, without torch's tanh or sigmoid.

        Args:
            ctx: the context; ``ctx.save_for_backward(...)`` keeps tensors for ``backward``.
            x: floating-point tensor of any shape (0-dim included), on any device.

        Returns:
            y: tanh(x), a new tensor of ``x``'s shape, dtype and device, in [-1, 1];
                finite for every finite ``x`` (e^x overflows long before tanh is
                anything but ±1: work with e^(-2|x|), which lies in (0, 1]).

        Saves:
            ctx.saved_tensors: ``(y,)``, the output: the derivative is ``1 - y^2``.
        """
        # YOUR CODE HERE
        raise NotImplementedError("forward")

    @staticmethod
    def backward(ctx, grad_out):
        """The upstream gradient times tanh's derivative, elementwise.

        Args:
            ctx: the context ``forward`` filled; ``ctx.saved_tensors == (y,)``.
            grad_out: dL/dy, a tensor of ``y``'s shape, dtype and device.

        Returns:
            grad_x: dL/dx = grad_out * (1 - y^2), of ``x``'s shape, dtype and device.
        """
        # YOUR CODE HERE
        raise NotImplementedError("backward")


class ApproxSigmoidFunction(torch.autograd.Function):
    """The sigmoid approximation ``s(x) = 1 / (1 + 2^(-1.44 x))``, elementwise.

    Hardware computes powers of 2 cheaply, and ``2^(1.44 x) ≈ e^x`` since
    ``1.44 ≈ 1/ln 2``. Call it as ``s = ApproxSigmoidFunction.apply(x)``. Its derivative
    is ``1.44 · ln 2 · s · (1 - s)``. Output and gradient are finite for every finite ``x``.
    """

    @staticmethod
    def forward(ctx, x):
        """``1 / (1 + 2^(-1.44 x))`` of every element of ``x``, without torch's sigmoid.

        Args:
            ctx: the context; ``ctx.save_for_backward(...)`` keeps tensors for ``backward``.
            x: floating-point tensor of any shape (0-dim included), on any device.

        Returns:
            s: a new tensor of ``x``'s shape, dtype and device, in [0, 1]; finite for
                every finite ``x`` (where ``2^(-1.44 x)`` overflows to inf, s is 0).

        Saves:
            ctx.saved_tensors: ``(s,)``, the output: the derivative is
                ``1.44 · ln 2 · s · (1 - s)``.
        """
        # YOUR CODE HERE
        raise NotImplementedError("forward")

    @staticmethod
    def backward(ctx, grad_out):
        """The upstream gradient times the approximation's derivative, elementwise.

        Args:
            ctx: the context ``forward`` filled; ``ctx.saved_tensors == (s,)``.
            grad_out: dL/ds, a tensor of ``s``'s shape, dtype and device.

        Returns:
            grad_x: dL/dx = grad_out * 1.44 · ln 2 · s · (1 - s), of ``x``'s shape,
                dtype and device.
        """
        # YOUR CODE HERE
        raise NotImplementedError("backward")


def normal_pdf(x, mu, sigma):
    """The density of the normal distribution N(mu, sigma^2) at ``x``, from scratch.

        pdf(x) = 1 / (sigma · sqrt(2 pi)) · exp(-(x - mu)^2 / (2 sigma^2))

    Args:
        x: floating-point tensor of any shape (0-dim included), on any device.
        mu: the mean: a Python float, or a tensor of ``x``'s dtype and device whose
            shape broadcasts with ``x`` (e.g. ``()``, or ``(D,)`` for ``x`` of shape ``(N, D)``).
        sigma: the standard deviation, > 0: a Python float or such a tensor.

    Returns:
        pdf: a new tensor of the broadcast shape of ``x``, ``mu`` and ``sigma``, of ``x``'s
            dtype and device.
    """
    # YOUR CODE HERE
    raise NotImplementedError("normal_pdf")


def normal_pdf_grad(x, mu, sigma):
    """The derivative of ``normal_pdf`` with respect to ``x``.

        d pdf / dx = -(x - mu) / sigma^2 · pdf(x)

    Args:
        x, mu, sigma: as for ``normal_pdf``.

    Returns:
        grad: a new tensor of the broadcast shape of ``x``, ``mu`` and ``sigma``, of
            ``x``'s dtype and device.
    """
    # YOUR CODE HERE
    raise NotImplementedError("normal_pdf_grad")
