"""Correct implementations of A1 written differently from the reference; each keeps full marks."""
import math

import torch

from graders.grading.catalog import variant


@variant("neuron", "einsum contracts the shared index i of x_i and w_i")
def neuron_einsum(x, w, b):
    return torch.einsum("i,i->", x, w) + b


@variant("relu", "torch.where picks x or 0 element by element")
def relu_where(x):
    return torch.where(x > 0, x, torch.zeros_like(x))


@variant("broadcast_shape", "walks both shapes from the right with zip_longest, filling with 1")
def broadcast_zip_longest(a, b):
    import itertools  # the reference module does not import it

    shape = []
    pairs = itertools.zip_longest(reversed(a), reversed(b), fillvalue=1)
    for axis, (m, n) in enumerate(pairs, start=1):
        if m != n and 1 not in (m, n):
            raise ValueError(f"axis -{axis} clashes: {m} vs {n}")
        shape.append(n if m == 1 else m)
    return tuple(reversed(shape))


@variant("manhattan", "a Python loop over the elements, accumulating in a 0-dim tensor")
def manhattan_loop(x1, x2):
    total = torch.zeros((), dtype=x1.dtype, device=x1.device)
    for a, b in zip(x1, x2):
        total = total + (a - b).abs()
    return total


@variant("euclidean", "torch.linalg.vector_norm of the difference")
def euclidean_vector_norm(x1, x2):
    return torch.linalg.vector_norm(x1 - x2)


@variant("xavier_init", "fills an empty tensor in place with normal_")
def xavier_normal_in_place(fan_in, fan_out, generator=None):
    device = generator.device if generator is not None else "cpu"
    weights = torch.empty(fan_in, fan_out, dtype=torch.float32, device=device)
    return weights.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=generator)


@variant("kaiming_init", "uniform on [-a, a] with a = sqrt(6/fan_in), whose std is sqrt(2/fan_in)")
def kaiming_uniform(fan_in, fan_out, generator=None):
    device = generator.device if generator is not None else "cpu"
    bound = math.sqrt(6.0 / fan_in)
    weights = torch.empty(fan_in, fan_out, dtype=torch.float32, device=device)
    return weights.uniform_(-bound, bound, generator=generator)


@variant("and_perceptron", "other weights, a list and a bias between -(w1 + w2) and -max(w1, w2)")
def and_perceptron_half_weights():
    return [0.5, 0.5], -0.7


@variant("xor_network", "two hidden units detect x1 > x2 and x2 > x1; the output adds them")
def xor_network_difference_detectors():
    return {
        "W1": torch.tensor([[1.0, -1.0], [-1.0, 1.0]]),
        "b1": torch.tensor([0.0, 0.0]),
        "w2": torch.tensor([1.0, 1.0]),
        "b2": 0.0,
    }
