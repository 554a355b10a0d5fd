"""A1: foundations of neural networks in PyTorch.

A single neuron and the ReLU, the broadcasting rule, two distances, the Xavier and
Kaiming initialisers, and hand-picked weights for the AND and XOR logic gates.

Every function that takes tensors works on whatever device they are on (CPU or GPU)
and returns a result with their dtype, on their device. No function modifies its
inputs in place.
"""
import math

import torch


def neuron(x, w, b):
    """The pre-activation of one neuron: ``x·w + b``.

    Args:
        x: (D,) inputs, floating point.
        w: (D,) weights, same dtype and device as ``x``.
        b: the bias, a Python float or a 0-dim tensor of ``x``'s dtype and device.

    Returns:
        out: a 0-dim tensor (shape ``()``) of ``x``'s dtype, on ``x``'s device.
    """
    return x @ w + b


def relu(x):
    """The rectified linear unit, ``max(0, x)`` for every element.

    Args:
        x: a floating-point tensor of any shape, 0-dim included.

    Returns:
        out: a new tensor of ``x``'s shape, dtype and device; ``x`` is left unchanged.
    """
    return torch.clamp(x, min=0)


def broadcast_shape(a, b):
    """The shape that broadcasting two tensors of shapes ``a`` and ``b`` produces.

    Shapes are aligned at their last axis; the shorter one is padded on the left with
    axes of length 1. Two lengths are compatible when they are equal or one of them
    is 1, and a length of 1 stretches to the other length (even to 0).

    Args:
        a: tuple of ints, a shape; ``()`` is the shape of a scalar.
        b: tuple of ints, a shape.

    Returns:
        shape: tuple of ints.

    Raises:
        ValueError: when the shapes are incompatible; the message names the first
            clashing axis (counted from the right, -1 being the last) and both lengths.
    """
    rank = max(len(a), len(b))
    padded_a = (1,) * (rank - len(a)) + tuple(a)
    padded_b = (1,) * (rank - len(b)) + tuple(b)
    shape = []
    for axis, (m, n) in enumerate(zip(padded_a, padded_b), start=-rank):
        if m != n and m != 1 and n != 1:
            raise ValueError(f"shapes {tuple(a)} and {tuple(b)} clash on axis {axis}: "
                             f"lengths {m} and {n} are neither equal nor 1")
        shape.append(n if m == 1 else m)
    return tuple(shape)


def manhattan(x1, x2):
    """The Manhattan (L1) distance ``sum |x1 - x2|``.

    Args:
        x1: (D,) floating-point tensor.
        x2: (D,) tensor of ``x1``'s dtype and device.

    Returns:
        distance: a 0-dim tensor of ``x1``'s dtype, on ``x1``'s device.
    """
    return (x1 - x2).abs().sum()


def euclidean(x1, x2):
    """The Euclidean (L2) distance ``sqrt(sum (x1 - x2)^2)``.

    Args:
        x1: (D,) floating-point tensor.
        x2: (D,) tensor of ``x1``'s dtype and device.

    Returns:
        distance: a 0-dim tensor of ``x1``'s dtype, on ``x1``'s device.
    """
    return ((x1 - x2) ** 2).sum().sqrt()


def xavier_init(fan_in, fan_out, generator=None):
    """Random weights for a linear layer ``x @ W``, Xavier-style (the course's definition).

    Entries are independent draws with mean 0 and standard deviation ``1/sqrt(fan_in)``.

    Args:
        fan_in: int, the number of inputs of the layer.
        fan_out: int, the number of outputs.
        generator: a ``torch.Generator`` to draw from, or None for torch's global one.

    Returns:
        W: (fan_in, fan_out) float32 tensor, on the generator's device (CPU when
            ``generator`` is None).
    """
    device = generator.device if generator is not None else "cpu"
    std = 1.0 / math.sqrt(fan_in)
    return torch.randn(fan_in, fan_out, generator=generator, dtype=torch.float32, device=device) * std


def kaiming_init(fan_in, fan_out, generator=None):
    """Random weights for a linear layer followed by a ReLU, Kaiming-style.

    Entries are independent draws with mean 0 and standard deviation ``sqrt(2/fan_in)``.

    Args:
        fan_in: int, the number of inputs of the layer.
        fan_out: int, the number of outputs.
        generator: a ``torch.Generator`` to draw from, or None for torch's global one.

    Returns:
        W: (fan_in, fan_out) float32 tensor, on the generator's device (CPU when
            ``generator`` is None).
    """
    device = generator.device if generator is not None else "cpu"
    std = math.sqrt(2.0 / fan_in)
    return torch.randn(fan_in, fan_out, generator=generator, dtype=torch.float32, device=device) * std


def and_perceptron():
    """Weights and bias of a perceptron that computes logical AND.

    The perceptron outputs ``step(w·x + b)`` with ``step(z) = 1 if z > 0 else 0``; on
    the four inputs x in {0, 1}^2 it must give 1 for (1, 1) only.

    Returns:
        w: (2,) float tensor (or a list of two floats).
        b: float.
    """
    return torch.tensor([1.0, 1.0]), -1.5


def xor_network():
    """Weights of the smallest ReLU network that computes logical XOR.

    The network maps a row x in {0, 1}^2 to ``relu(x @ W1 + b1) @ w2 + b2`` and reads
    the answer as ``output > 0.5``; it must give 1 for (0, 1) and (1, 0) only.

    Returns:
        params: dict with
            "W1": (2, 2) float tensor, the hidden layer's weights (inputs x units);
            "b1": (2,) float tensor;
            "w2": (2,) float tensor, the output unit's weights;
            "b2": float.
    """
    # Both hidden units see x1 + x2; the second only fires when both inputs are on,
    # and the output subtracts it twice, turning OR into XOR.
    return {
        "W1": torch.tensor([[1.0, 1.0], [1.0, 1.0]]),
        "b1": torch.tensor([0.0, -1.0]),
        "w2": torch.tensor([1.0, -2.0]),
        "b2": 0.0,
    }
