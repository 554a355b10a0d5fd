"""Known mistakes in A1, each with the explanation a student reads when their result matches it."""
import math

import torch

from graders.grading.catalog import mistake


# --------------------------------------------------------------------------- neuron

@mistake("neuron", "neuron returned a Python number instead of a tensor. Calling .item() or "
         "float() moves the result off the device and out of torch; keep it a 0-dim tensor of the "
         "inputs' dtype.")
def neuron_returns_float(x, w, b):
    return (x @ w + b).item()


@mistake("neuron", "neuron returned one value per input instead of a single number: the products "
         "x_i·w_i were never added up. A neuron sums the weighted inputs, then adds the bias.")
def neuron_without_sum(x, w, b):
    return x * w + b


@mistake("relu", "relu zeroed the positive values and kept the negative ones. ReLU keeps what is "
         "above zero and replaces everything below zero by zero.")
def relu_keeps_negatives(x):
    return torch.clamp(x, max=0)


# --------------------------------------------------------------------------- broadcasting

@mistake("broadcast_shape", "The shapes were lined up at their first axis. Broadcasting lines shapes up "
         "at their last axis: pad the shorter shape with 1s on the left, then compare axis by axis.")
def broadcast_left_aligned(a, b):
    rank = max(len(a), len(b))
    padded_a = tuple(a) + (1,) * (rank - len(a))
    padded_b = tuple(b) + (1,) * (rank - len(b))
    shape = []
    for axis, (m, n) in enumerate(zip(padded_a, padded_b)):
        if m != n and m != 1 and n != 1:
            raise ValueError(f"shapes {a} and {b} clash on axis {axis}")
        shape.append(n if m == 1 else m)
    return tuple(shape)


@mistake("broadcast_shape", "Each output length was taken as the larger of the two lengths. That is "
         "right except when one length is 1 and the other is 0: a length of 1 stretches to the other "
         "length, so an empty axis stays empty.")
def broadcast_takes_max(a, b):
    rank = max(len(a), len(b))
    padded_a = (1,) * (rank - len(a)) + tuple(a)
    padded_b = (1,) * (rank - len(b)) + tuple(b)
    for axis, (m, n) in enumerate(zip(padded_a, padded_b), start=-rank):
        if m != n and m != 1 and n != 1:
            raise ValueError(f"shapes {a} and {b} clash on axis {axis}")
    return tuple(max(m, n) for m, n in zip(padded_a, padded_b))


@mistake("broadcast_shape", "The ValueError for incompatible shapes does not say where they clash. "
         "Name the axis whose lengths differ (and the two lengths), so that whoever reads the error "
         "knows which dimension to fix.")
def broadcast_error_without_axis(a, b):
    rank = max(len(a), len(b))
    padded_a = (1,) * (rank - len(a)) + tuple(a)
    padded_b = (1,) * (rank - len(b)) + tuple(b)
    if any(m != n and m != 1 and n != 1 for m, n in zip(padded_a, padded_b)):
        raise ValueError(f"shapes {a} and {b} are not compatible")
    return tuple(n if m == 1 else m for m, n in zip(padded_a, padded_b))


# --------------------------------------------------------------------------- distances

@mistake("manhattan", "The differences were summed without taking their absolute values, so positive "
         "and negative differences cancel out. A distance adds up how far apart each pair is.")
def manhattan_without_abs(x1, x2):
    return (x1 - x2).sum()


@mistake("euclidean", "The result is the squared Euclidean distance: the square root at the end is "
         "missing.")
def euclidean_without_sqrt(x1, x2):
    return ((x1 - x2) ** 2).sum()


@mistake("euclidean", "The distance came back as a float64 tensor on the CPU whatever the inputs were. "
         "Compute with torch operations on the inputs themselves, so the result keeps their dtype "
         "and stays on their device (the GPU, say).")
def distance_as_float64_cpu(x1, x2):
    squares = sum((a - b) ** 2 for a, b in zip(x1.tolist(), x2.tolist()))
    return torch.tensor(math.sqrt(squares), dtype=torch.float64)


# --------------------------------------------------------------------------- initialisation

@mistake("xavier_init", "The std is sqrt(2/(fan_in + fan_out)), Glorot's average of fan-in and fan-out. "
         "This course defines Xavier initialisation with the fan-in alone: std 1/sqrt(fan_in).")
def xavier_glorot_average_fan(fan_in, fan_out, generator=None):
    device = generator.device if generator is not None else "cpu"
    std = math.sqrt(2.0 / (fan_in + fan_out))
    return torch.randn(fan_in, fan_out, generator=generator, device=device) * std


@mistake("xavier_init", "The weights are all positive: torch.rand draws uniformly from [0, 1), not from "
         "a distribution centred on 0. Draw from a zero-mean distribution (a standard normal, say) "
         "and scale it to the std you want.")
def rand_instead_of_randn(fan_in, fan_out, generator=None):
    device = generator.device if generator is not None else "cpu"
    return torch.rand(fan_in, fan_out, generator=generator, device=device) / math.sqrt(fan_in)


@mistake("xavier_init", "The weights do not come from the generator argument, so the caller cannot "
         "reproduce them. Pass the generator to every torch function that draws random numbers.")
def ignores_generator(fan_in, fan_out, generator=None):
    device = generator.device if generator is not None else "cpu"
    return torch.randn(fan_in, fan_out, device=device) / math.sqrt(fan_in)


@mistake("xavier_init", "The weights are float64. Weights of this course are float32: ask torch for "
         "that dtype when drawing them.")
def weights_float64(fan_in, fan_out, generator=None):
    device = generator.device if generator is not None else "cpu"
    weights = torch.randn(fan_in, fan_out, generator=generator, dtype=torch.float64, device=device)
    return weights / math.sqrt(fan_in)


@mistake("kaiming_init", "The std is 2/sqrt(fan_in), too large by a factor of sqrt(2). Kaiming's factor "
         "is the square root of 2/fan_in: the ReLU zeroes half the signal, so the variance, not the "
         "std, is doubled.")
def kaiming_two_over_sqrt_n(fan_in, fan_out, generator=None):
    device = generator.device if generator is not None else "cpu"
    return torch.randn(fan_in, fan_out, generator=generator, device=device) * (2.0 / math.sqrt(fan_in))


@mistake("kaiming_init", "The weights come from a uniform distribution whose half-width equals the std "
         "you wanted. A uniform on [-a, a] has std a/sqrt(3), so your weights are sqrt(3) times too "
         "small: widen the interval until its std is the one asked for.")
def uniform_half_width_is_std(fan_in, fan_out, generator=None):
    device = generator.device if generator is not None else "cpu"
    bound = math.sqrt(2.0 / fan_in)
    return (torch.rand(fan_in, fan_out, generator=generator, device=device) * 2 - 1) * bound


@mistake("kaiming_init", "The std is sqrt(2/fan_out): torch.nn.init.kaiming_normal_ reads a 2-D weight "
         "in nn.Linear's (out_features, in_features) layout, so on a (fan_in, fan_out) tensor it takes "
         "fan_out for the fan-in. In this course W is (fan_in, fan_out): compute the std from fan_in "
         "yourself, or tell torch which dimension is the fan-in.")
def kaiming_fan_from_torch_layout(fan_in, fan_out, generator=None):
    device = generator.device if generator is not None else "cpu"
    weights = torch.empty(fan_in, fan_out, dtype=torch.float32, device=device)
    return torch.nn.init.kaiming_normal_(weights, nonlinearity="relu", generator=generator)


@mistake("kaiming_init", "The weights have shape (fan_out, fan_in), PyTorch's nn.Linear layout. In this "
         "course a layer computes x @ W, so W has one row per input: shape (fan_in, fan_out).")
def weights_transposed(fan_in, fan_out, generator=None):
    device = generator.device if generator is not None else "cpu"
    return torch.randn(fan_out, fan_in, generator=generator, device=device) * math.sqrt(2.0 / fan_in)


# --------------------------------------------------------------------------- logic gates

@mistake("and_perceptron", "The perceptron computes OR: one active input is already enough to push "
         "w·x + b above 0. Lower the bias so that only both inputs together get the sum above 0.")
def and_perceptron_is_or():
    return torch.tensor([1.0, 1.0]), -0.25


@mistake("and_perceptron", "The perceptron never fires: the bias is so negative that even (1, 1) leaves "
         "w·x + b at or below 0, and step gives 1 only for a sum strictly above 0. Choose the bias "
         "so that both weights together beat it but neither weight alone does.")
def and_perceptron_never_fires():
    return torch.tensor([1.0, 1.0]), -2.5


@mistake("xor_network", "The network computes OR: it answers 1 for (1, 1) too. Let one hidden unit "
         "detect the case where both inputs are on, and have the output subtract it.")
def xor_network_is_or():
    return {
        "W1": torch.tensor([[1.0, 1.0], [1.0, 1.0]]),
        "b1": torch.tensor([0.0, -1.0]),
        "w2": torch.tensor([1.0, 0.0]),
        "b2": 0.0,
    }
