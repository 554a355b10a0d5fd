"""Hidden tests of the pool_forward and pool_backward tasks: ``maxpool2d_forward`` and
``maxpool2d_backward``. Inputs are continuous random numbers, so no window holds a tie."""
import torch

from graders.grading.hidden import hidden_test

DTYPES = (torch.float64, torch.float32)
N, C = 2, 3
# The handout's 4x4 example: no window holds two equal values.
EXAMPLE = [[1.0, 6.0, 2.0, 3.0],
           [5.0, 4.0, 8.0, 7.0],
           [0.0, 9.0, 3.0, 1.0],
           [2.0, 4.0, 6.0, 5.0]]
NON_OVERLAPPING = [(8, 8, 2, 2), (9, 6, 3, 3), (7, 7, 2, 2), (6, 9, 2, 3)]  # (H, W, k, stride)
OVERLAPPING = [(9, 9, 3, 2), (7, 8, 3, 2), (6, 6, 2, 1), (8, 5, 3, 1)]


def _name(dtype):
    return str(dtype).removeprefix("torch.")


def _forward_cases(impl, rand, device, cases):
    results = {}
    for dtype in DTYPES:
        for H, W, k, stride in cases:
            x = rand.tensor(N, C, H, W, dtype=dtype, device=device)
            results[f"{_name(dtype)}, {H}x{W} input, kernel {k}, stride {stride}"] = \
                impl.maxpool2d_forward(x, k, stride)[0]
    return results


def _backward_cases(impl, rand, device, cases):
    results = {}
    for dtype in DTYPES:
        for H, W, k, stride in cases:
            x = rand.tensor(N, C, H, W, dtype=dtype, device=device)
            dout = rand.tensor(N, C, (H - k) // stride + 1, (W - k) // stride + 1, dtype=dtype, device=device)
            _, cache = impl.maxpool2d_forward(x, k, stride)
            results[f"{_name(dtype)}, {H}x{W} input, kernel {k}, stride {stride}: dx"] = \
                impl.maxpool2d_backward(dout, cache)
    return results


@hidden_test(task="pool_forward")
def maxpool_forward_worked_example(impl, device):
    """The handout's 4x4 example: kernel 2, stride 2 gives [[6, 8], [9, 6]]; kernel 3, stride 1."""
    results = {}
    for dtype in DTYPES:
        x = torch.tensor(EXAMPLE, dtype=dtype, device=device).reshape(1, 1, 4, 4)
        results[f"{_name(dtype)}, kernel 2, stride 2"] = impl.maxpool2d_forward(x, 2, 2)[0]
        results[f"{_name(dtype)}, kernel 3, stride 1"] = impl.maxpool2d_forward(x, 3, 1)[0]
    return results


@hidden_test(task="pool_forward", weight=2.0)
def maxpool_forward_non_overlapping(impl, rand, device):
    """Windows that do not overlap (stride >= kernel), square and non-square inputs."""
    return _forward_cases(impl, rand, device, NON_OVERLAPPING)


@hidden_test(task="pool_forward", weight=2.0)
def maxpool_forward_overlapping(impl, rand, device):
    """Overlapping windows: kernel 3 with stride 2 (as in AlexNet), and stride 1."""
    return _forward_cases(impl, rand, device, OVERLAPPING)


@hidden_test(task="pool_backward")
def maxpool_backward_worked_example(impl, device):
    """The handout's 4x4 example with dout [[1, 2], [3, 4]]: kernel 2, stride 2; kernel 3, stride 1 (all 10 to the 9)."""
    results = {}
    for dtype in DTYPES:
        x = torch.tensor(EXAMPLE, dtype=dtype, device=device).reshape(1, 1, 4, 4)
        dout = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=dtype, device=device).reshape(1, 1, 2, 2)
        for k, stride in [(2, 2), (3, 1)]:
            _, cache = impl.maxpool2d_forward(x, k, stride)
            results[f"{_name(dtype)}, kernel {k}, stride {stride}: dx"] = impl.maxpool2d_backward(dout, cache)
    return results


@hidden_test(task="pool_backward", weight=2.0)
def maxpool_backward_non_overlapping(impl, rand, device):
    """dx when windows do not overlap: each window's gradient goes to its maximum only."""
    return _backward_cases(impl, rand, device, NON_OVERLAPPING)


@hidden_test(task="pool_backward", weight=3.0)
def maxpool_backward_overlapping(impl, rand, device):
    """dx when windows overlap: an element that is the maximum of several windows gets the sum."""
    return _backward_cases(impl, rand, device, OVERLAPPING)
