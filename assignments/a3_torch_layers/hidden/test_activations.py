"""Hidden tests of the activations task: sigmoid and tanh, forward and backward."""
import torch

from graders.grading.hidden import hidden_test

DTYPES = (torch.float64, torch.float32)
SHAPES = [(7,), (4, 6), (2, 3, 5)]
# The course's examples: sigmoid of v = [0, 0.1, ..., 0.9, 0.99] and tanh of [[0.37, 0.192, 0.571]].
SEED_SIGMOID = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99]
SEED_TANH = [[0.37, 0.192, 0.571]]
# Large enough that exp(|x|) overflows (float32 above about 88, float64 above about 709).
SATURATING = [-1000.0, -100.0, -30.0, -5.0, -0.0, 0.0, 5.0, 30.0, 100.0, 1000.0]


def _name(dtype):
    return str(dtype).removeprefix("torch.")


def _outputs(forward, rand, device, seed_values):
    results = {}
    for dtype in DTYPES:
        for shape in SHAPES:
            out, _ = forward(rand.tensor(*shape, scale=3.0, dtype=dtype))
            results[f"out {_name(dtype)} {shape}"] = out
        out, _ = forward(torch.tensor(seed_values, dtype=dtype, device=device))
        results[f"out {_name(dtype)} course example {seed_values}"] = out
    return results


def _gradients(forward, backward, rand):
    results = {}
    for dtype in DTYPES:
        for shape in SHAPES:
            x = rand.tensor(*shape, scale=3.0, dtype=dtype)
            dout = rand.tensor(*shape, dtype=dtype)
            _, cache = forward(x)
            results[f"dx {_name(dtype)} {shape}"] = backward(dout, cache)
    return results


@hidden_test(task="activations")
def sigmoid_forward_values(impl, rand, device):
    """sigmoid_forward on random tensors of rank 1 to 3 and on the course's v = [0, 0.1, ..., 0.99]."""
    return _outputs(impl.sigmoid_forward, rand, device, SEED_SIGMOID)


@hidden_test(task="activations", weight=1.5)
def sigmoid_backward_gradients(impl, rand, device):
    """sigmoid_backward: dx = dout * s * (1 - s) on random tensors of rank 1 to 3."""
    return _gradients(impl.sigmoid_forward, impl.sigmoid_backward, rand)


@hidden_test(task="activations")
def tanh_forward_values(impl, rand, device):
    """tanh_forward on random tensors of rank 1 to 3 and on the course's [[0.37, 0.192, 0.571]]."""
    return _outputs(impl.tanh_forward, rand, device, SEED_TANH)


@hidden_test(task="activations", weight=1.5)
def tanh_backward_gradients(impl, rand, device):
    """tanh_backward: dx = dout * (1 - tanh(x)^2) on random tensors of rank 1 to 3."""
    return _gradients(impl.tanh_forward, impl.tanh_backward, rand)


@hidden_test(task="activations")
def activations_saturate(impl, rand, device):
    """sigmoid and tanh at x = +-5, +-30, +-100, +-1000 and +-0: saturated values, no nan, zero gradients."""
    results = {}
    for dtype in DTYPES:
        x = torch.tensor(SATURATING, dtype=dtype, device=device)
        dout = torch.ones_like(x)
        for name, forward, backward in (("sigmoid", impl.sigmoid_forward, impl.sigmoid_backward),
                                        ("tanh", impl.tanh_forward, impl.tanh_backward)):
            out, cache = forward(x)
            results[f"{name} out {_name(dtype)}"] = out
            results[f"{name} dx {_name(dtype)}"] = backward(dout, cache)
    return results
