"""Hidden tests of the conv_forward task: ``conv2d_forward``.

Inputs are small on purpose: a plain Python loop over every output element and every
filter weight must finish each call far inside the time limit.
"""
import torch

from graders.grading.hidden import hidden_test

DTYPES = (torch.float64, torch.float32)
N, C, F = 2, 2, 3  # C != F, so a filter bank indexed the wrong way round shows


def _name(dtype):
    return str(dtype).removeprefix("torch.")


def _label(dtype, H, W, KH, KW, stride, padding):
    return f"{_name(dtype)}, {H}x{W} input, {KH}x{KW} filters, stride {stride}, padding {padding}"


def _forward_cases(impl, rand, device, cases):
    """``out`` for every (H, W, KH, KW, stride, padding) case, in float64 and float32."""
    results = {}
    for dtype in DTYPES:
        for H, W, KH, KW, stride, padding in cases:
            x = rand.tensor(N, C, H, W, dtype=dtype, device=device)
            w = rand.tensor(F, C, KH, KW, dtype=dtype, device=device)
            b = rand.tensor(F, dtype=dtype, device=device)
            out, _ = impl.conv2d_forward(x, w, b, stride=stride, padding=padding)
            results[_label(dtype, H, W, KH, KW, stride, padding)] = out
    return results


@hidden_test(task="conv_forward")
def conv_forward_worked_example(impl, device):
    """The handout's example: 1..16 in a 4x4 image, filter [[1, 2], [3, 4]], bias 1 (45, 55, 65, ...)."""
    results = {}
    for dtype in DTYPES:
        x = torch.arange(1.0, 17.0, dtype=dtype, device=device).reshape(1, 1, 4, 4)
        w = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=dtype, device=device)
        b = torch.tensor([1.0], dtype=dtype, device=device)
        results[f"{_name(dtype)}, defaults"] = impl.conv2d_forward(x, w, b)[0]
        results[f"{_name(dtype)}, stride 2"] = impl.conv2d_forward(x, w, b, stride=2)[0]
        results[f"{_name(dtype)}, padding 1"] = impl.conv2d_forward(x, w, b, padding=1)[0]
    return results


@hidden_test(task="conv_forward", weight=2.0)
def conv_forward_basic(impl, rand, device):
    """A batch of 2 two-channel 6x6 images, 3 filters of 3x3 (and 1x1, 2x2), stride 1, no padding."""
    results = _forward_cases(impl, rand, device, [(6, 6, 3, 3, 1, 0), (5, 5, 1, 1, 1, 0)])
    for dtype in DTYPES:  # the defaults are stride 1 and padding 0
        x = rand.tensor(N, C, 5, 5, dtype=dtype, device=device)
        w = rand.tensor(F, C, 2, 2, dtype=dtype, device=device)
        b = rand.tensor(F, dtype=dtype, device=device)
        results[f"{_name(dtype)}, 5x5 input, 2x2 filters, default stride and padding"] = \
            impl.conv2d_forward(x, w, b)[0]
    return results


@hidden_test(task="conv_forward", weight=2.0)
def conv_forward_padding(impl, rand, device):
    """Zero padding: 'same' padding 1 for 3x3 filters, and padding 2 for 2x2 filters."""
    return _forward_cases(impl, rand, device, [(5, 5, 3, 3, 1, 1), (4, 4, 2, 2, 1, 2)])


@hidden_test(task="conv_forward", weight=2.0)
def conv_forward_stride(impl, rand, device):
    """Stride 2 and 3, including a stride that leaves the last row and column unread."""
    return _forward_cases(impl, rand, device, [(7, 7, 3, 3, 2, 0), (8, 8, 3, 3, 3, 0)])


@hidden_test(task="conv_forward", weight=2.0)
def conv_forward_stride_and_padding(impl, rand, device):
    """Stride 2 with padding 1 on 7x7 and 9x9 inputs."""
    return _forward_cases(impl, rand, device, [(7, 7, 3, 3, 2, 1), (9, 9, 3, 3, 2, 1)])


@hidden_test(task="conv_forward", weight=3.0)
def conv_forward_non_square(impl, rand, device):
    """Non-square inputs (H != W) with non-square filters (KH != KW), with stride and padding."""
    return _forward_cases(impl, rand, device, [(5, 8, 2, 3, 1, 0), (5, 8, 2, 3, 2, 1),
                                               (7, 4, 3, 1, 2, 1), (4, 6, 3, 2, 1, 1)])
