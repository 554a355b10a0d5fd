"""Hidden tests of the tanh task: ``TanhFunction``.

Every test runs on each device and in float64 and float32. ``function_direct`` calls the
static forward and backward with a stand-in ctx (autograd refused); ``function_autograd``
goes through ``TanhFunction.apply`` and ``torch.autograd.grad``.
"""
import torch

from graders.grading.hidden import hidden_test

DTYPES = (torch.float64, torch.float32)
TARGET = "TanhFunction"
SEED_X = [[0.37, 0.192, 0.571]]  # tanh ≈ [[0.353992, 0.189675, 0.516093]]
# e^x overflows float32 beyond x ≈ 88.7 and float64 beyond x ≈ 709.8; tanh is ±1 long before.
LARGE = [-1000.0, -400.0, -100.0, -50.0, -20.0, 20.0, 50.0, 100.0, 400.0, 1000.0]
SHAPES = [(), (7,), (4, 5), (2, 3, 4)]


def _name(dtype):
    return str(dtype).removeprefix("torch.")


def _single(grads):
    """The one input's gradient (a tuple of another length is compared as it is)."""
    return grads[0] if isinstance(grads, (tuple, list)) and len(grads) == 1 else grads


@hidden_test(task="tanh")
def tanh_seed_example(impl, device):
    """The course's x = [[0.37, 0.192, 0.571]]: y ≈ [[0.3540, 0.1897, 0.5161]], and dL/dx for dL/dy = 1."""
    results = {}
    for dtype in DTYPES:
        x = torch.tensor(SEED_X, dtype=dtype, device=device)
        y, grads = impl.probe("function_direct", TARGET, (x,), torch.ones_like(x))
        results[f"{_name(dtype)} y"] = y
        results[f"{_name(dtype)} dL/dx"] = _single(grads)
    return results


@hidden_test(task="tanh", weight=2.0)
def tanh_direct_random(impl, rand, device):
    """forward, then backward with a random dL/dy, called directly (no autograd), on tensors of rank 0 to 3."""
    results = {}
    for dtype in DTYPES:
        for shape in SHAPES:
            x = rand.tensor(*shape, scale=2.0, dtype=dtype)
            grad_out = rand.tensor(*shape, dtype=dtype)
            y, grads = impl.probe("function_direct", TARGET, (x,), grad_out)
            results[f"{_name(dtype)} {shape} y"] = y
            results[f"{_name(dtype)} {shape} dL/dx"] = _single(grads)
    return results


@hidden_test(task="tanh", weight=2.0)
def tanh_through_autograd(impl, rand, device):
    """TanhFunction.apply in a graph: y, and dL/dx from torch.autograd.grad with a random dL/dy."""
    results = {}
    for dtype in DTYPES:
        for shape in [(6,), (3, 8)]:
            x = rand.tensor(*shape, scale=2.0, dtype=dtype)
            grad_out = rand.tensor(*shape, dtype=dtype)
            y, grads = impl.probe("function_autograd", TARGET, (x,), grad_out)
            results[f"{_name(dtype)} {shape} y"] = y
            results[f"{_name(dtype)} {shape} dL/dx"] = _single(grads)
    return results


@hidden_test(task="tanh")
def tanh_gradcheck(impl, rand, device):
    """torch.autograd.gradcheck passes on a random float64 (3, 4) input: your backward matches finite differences."""
    x = rand.tensor(3, 4, scale=1.5, dtype=torch.float64)
    grad_out = rand.tensor(3, 4, dtype=torch.float64)
    passed = impl.probe("gradcheck", TARGET, (x,))
    # The values as well, so that feedback can tell one wrong backward from another.
    y, grads = impl.probe("function_autograd", TARGET, (x,), grad_out)
    return {"gradcheck passes": passed, "y": y, "dL/dx": _single(grads)}


@hidden_test(task="tanh", weight=1.5)
def tanh_large_inputs(impl, device):
    """Large inputs, x from ±20 to ±1000: y is ±1 and dL/dx is 0, with no inf or nan where e^x would overflow."""
    results = {}
    for dtype in DTYPES:
        x = torch.tensor(LARGE, dtype=dtype, device=device)
        y, grads = impl.probe("function_direct", TARGET, (x,), torch.ones_like(x))
        results[f"{_name(dtype)} y"] = y
        results[f"{_name(dtype)} dL/dx"] = _single(grads)
    return results
