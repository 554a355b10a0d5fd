"""Hidden tests of the neuron task: ``neuron`` and ``relu``."""
import torch

from graders.grading.hidden import hidden_test

DTYPES = (torch.float64, torch.float32)


def _name(dtype):
    return str(dtype).removeprefix("torch.")


@hidden_test(task="neuron")
def neuron_seed_example(impl, device):
    """The course's neuron x=[0.9, 0.7], w=[-0.3, 0.15], b=0.001 (-0.164), in float64 and float32."""
    results = {}
    for dtype in DTYPES:
        x = torch.tensor([0.9, 0.7], dtype=dtype, device=device)
        w = torch.tensor([-0.3, 0.15], dtype=dtype, device=device)
        results[_name(dtype)] = impl.neuron(x, w, 0.001)
    return results


@hidden_test(task="neuron", weight=2.0)
def neuron_random(impl, rand, device):
    """A neuron with 16 random inputs, the bias given as a Python float or as a 0-dim tensor."""
    results = {}
    for dtype in DTYPES:
        x = rand.tensor(16, dtype=dtype, device=device)
        w = rand.tensor(16, dtype=dtype, device=device)
        bias = rand.tensor(dtype=dtype, device=device)
        results[f"{_name(dtype)}, float bias"] = impl.neuron(x, w, float(bias))
        results[f"{_name(dtype)}, tensor bias"] = impl.neuron(x, w, bias)
    return results


@hidden_test(task="neuron", weight=2.0)
def relu_shapes(impl, rand, device):
    """ReLU of tensors of rank 0 to 3, and of exact zeros and negative zero."""
    results = {}
    for dtype in DTYPES:
        for shape in [(), (7,), (3, 4), (2, 3, 4)]:
            x = rand.tensor(*shape, dtype=dtype, device=device)
            results[f"{_name(dtype)} {shape}"] = impl.relu(x)
        edges = torch.tensor([-2.0, -0.0, 0.0, 0.5, 3.0], dtype=dtype, device=device)
        results[f"{_name(dtype)} [-2, -0, 0, 0.5, 3]"] = impl.relu(edges)
    return results
