"""Hidden tests of the approx_sigmoid task: ``ApproxSigmoidFunction``, s(x) = 1/(1 + 2^(-1.44x)).

Every test runs on each device and in float64 and float32. ``function_direct`` calls the
static forward and backward with a stand-in ctx (autograd refused); ``function_autograd``
goes through ``ApproxSigmoidFunction.apply`` and ``torch.autograd.grad``.
"""
import torch

from graders.grading.hidden import hidden_test

DTYPES = (torch.float64, torch.float32)
TARGET = "ApproxSigmoidFunction"
SEED_V = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99]  # the course's vector
# 2^(-1.44x) overflows float32 below x ≈ -88.9 and float64 below x ≈ -711; s is 0 there.
LARGE = [-1000.0, -200.0, -100.0, -60.0, -30.0, 30.0, 60.0, 100.0, 200.0, 1000.0]
SHAPES = [(), (7,), (4, 5), (2, 3, 4)]


def _name(dtype):
    return str(dtype).removeprefix("torch.")


def _single(grads):
    """The one input's gradient (a tuple of another length is compared as it is)."""
    return grads[0] if isinstance(grads, (tuple, list)) and len(grads) == 1 else grads


@hidden_test(task="approx_sigmoid")
def approx_sigmoid_seed_example(impl, device):
    """The course's v = [0, 0.1, ..., 0.9, 0.99]: s(0) = 0.5, s(0.5) ≈ 0.6222, and dL/dx for dL/ds = 1."""
    results = {}
    for dtype in DTYPES:
        x = torch.tensor(SEED_V, dtype=dtype, device=device)
        s, grads = impl.probe("function_direct", TARGET, (x,), torch.ones_like(x))
        results[f"{_name(dtype)} s"] = s
        results[f"{_name(dtype)} dL/dx"] = _single(grads)
    return results


@hidden_test(task="approx_sigmoid", weight=2.0)
def approx_sigmoid_direct_random(impl, rand, device):
    """forward, then backward with a random dL/ds, called directly (no autograd), on tensors of rank 0 to 3."""
    results = {}
    for dtype in DTYPES:
        for shape in SHAPES:
            x = rand.tensor(*shape, scale=3.0, dtype=dtype)
            grad_out = rand.tensor(*shape, dtype=dtype)
            s, grads = impl.probe("function_direct", TARGET, (x,), grad_out)
            results[f"{_name(dtype)} {shape} s"] = s
            results[f"{_name(dtype)} {shape} dL/dx"] = _single(grads)
    return results


@hidden_test(task="approx_sigmoid", weight=2.0)
def approx_sigmoid_through_autograd(impl, rand, device):
    """ApproxSigmoidFunction.apply in a graph: s, and dL/dx from torch.autograd.grad with a random dL/ds."""
    results = {}
    for dtype in DTYPES:
        for shape in [(6,), (3, 8)]:
            x = rand.tensor(*shape, scale=3.0, dtype=dtype)
            grad_out = rand.tensor(*shape, dtype=dtype)
            s, grads = impl.probe("function_autograd", TARGET, (x,), grad_out)
            results[f"{_name(dtype)} {shape} s"] = s
            results[f"{_name(dtype)} {shape} dL/dx"] = _single(grads)
    return results


@hidden_test(task="approx_sigmoid")
def approx_sigmoid_gradcheck(impl, rand, device):
    """torch.autograd.gradcheck passes on a random float64 (3, 4) input: your backward matches finite differences."""
    x = rand.tensor(3, 4, scale=2.0, dtype=torch.float64)
    grad_out = rand.tensor(3, 4, dtype=torch.float64)
    passed = impl.probe("gradcheck", TARGET, (x,))
    # The values as well, so that feedback can tell one wrong backward from another.
    s, grads = impl.probe("function_autograd", TARGET, (x,), grad_out)
    return {"gradcheck passes": passed, "s": s, "dL/dx": _single(grads)}


@hidden_test(task="approx_sigmoid", weight=1.5)
def approx_sigmoid_large_inputs(impl, device):
    """Large inputs, x from ±30 to ±1000: s goes to 0 or 1 and dL/dx to 0, with no nan where 2^(-1.44x) overflows."""
    results = {}
    for dtype in DTYPES:
        x = torch.tensor(LARGE, dtype=dtype, device=device)
        s, grads = impl.probe("function_direct", TARGET, (x,), torch.ones_like(x))
        results[f"{_name(dtype)} s"] = s
        results[f"{_name(dtype)} dL/dx"] = _single(grads)
    return results
