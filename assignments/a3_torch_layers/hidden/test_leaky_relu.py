"""Hidden tests of the leaky-ReLU task: ``leaky_relu_forward`` and ``leaky_relu_backward``."""
import torch

from graders.grading.hidden import hidden_test

DTYPES = (torch.float64, torch.float32)


def _name(dtype):
    return str(dtype).removeprefix("torch.")


def _calls(impl):
    """The forward with its default slope, a slope given by position and one by keyword."""
    return {
        "default slope": lambda x: impl.leaky_relu_forward(x),
        "slope 0.2": lambda x: impl.leaky_relu_forward(x, 0.2),
        "slope=0.35": lambda x: impl.leaky_relu_forward(x, slope=0.35),
    }


@hidden_test(task="leaky_relu")
def leaky_relu_forward_values(impl, rand, device):
    """leaky_relu_forward with the default slope 0.01 and with slopes 0.2 and 0.35, on tensors of rank 1 to 3."""
    results = {}
    for dtype in DTYPES:
        for shape in [(9,), (4, 6), (2, 3, 4)]:
            x = rand.tensor(*shape, scale=2.0, dtype=dtype)
            for label, forward in _calls(impl).items():
                results[f"out {_name(dtype)} {shape} {label}"] = forward(x)[0]
    return results


@hidden_test(task="leaky_relu", weight=1.5)
def leaky_relu_backward_gradients(impl, rand, device):
    """leaky_relu_backward: dout where x > 0 and slope * dout elsewhere, for three slopes."""
    results = {}
    for dtype in DTYPES:
        for shape in [(9,), (4, 6), (2, 3, 4)]:
            x = rand.tensor(*shape, scale=2.0, dtype=dtype)
            dout = rand.tensor(*shape, dtype=dtype)
            for label, forward in _calls(impl).items():
                _, cache = forward(x)
                results[f"dx {_name(dtype)} {shape} {label}"] = impl.leaky_relu_backward(dout, cache)
    return results
