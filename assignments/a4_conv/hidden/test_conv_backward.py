"""Hidden tests of the conv_backward task: ``conv2d_backward`` (after ``conv2d_forward``).

Inputs are small on purpose: a plain Python loop over every output element and every
filter weight must finish each call far inside the time limit.
"""
import torch

from graders.grading.hidden import hidden_test

DTYPES = (torch.float64, torch.float32)
N, C, F = 2, 2, 3  # C != F, so a filter bank indexed the wrong way round shows


def _name(dtype):
    return str(dtype).removeprefix("torch.")


def _backward_cases(impl, rand, device, cases):
    """``dx``, ``dw`` and ``db`` for every (H, W, KH, KW, stride, padding) case, in both dtypes."""
    results = {}
    for dtype in DTYPES:
        for H, W, KH, KW, stride, padding in cases:
            label = f"{_name(dtype)}, {H}x{W} input, {KH}x{KW} filters, stride {stride}, padding {padding}"
            x = rand.tensor(N, C, H, W, dtype=dtype, device=device)
            w = rand.tensor(F, C, KH, KW, dtype=dtype, device=device)
            b = rand.tensor(F, dtype=dtype, device=device)
            Ho = (H + 2 * padding - KH) // stride + 1
            Wo = (W + 2 * padding - KW) // stride + 1
            dout = rand.tensor(N, F, Ho, Wo, dtype=dtype, device=device)
            _, cache = impl.conv2d_forward(x, w, b, stride=stride, padding=padding)
            dx, dw, db = impl.conv2d_backward(dout, cache)
            results[f"{label}: dx"] = dx
            results[f"{label}: dw"] = dw
            results[f"{label}: db"] = db
    return results


@hidden_test(task="conv_backward", weight=2.0)
def conv_backward_basic(impl, rand, device):
    """dx, dw and db for 3x3 filters on 6x6 inputs, stride 1, no padding."""
    return _backward_cases(impl, rand, device, [(6, 6, 3, 3, 1, 0)])


@hidden_test(task="conv_backward", weight=2.0)
def conv_backward_padding(impl, rand, device):
    """dx, dw and db with zero padding: dx has the unpadded input's shape."""
    return _backward_cases(impl, rand, device, [(5, 5, 3, 3, 1, 1), (4, 4, 2, 2, 1, 2)])


@hidden_test(task="conv_backward", weight=2.0)
def conv_backward_stride(impl, rand, device):
    """dx, dw and db with stride 2 (overlapping windows) and 3 (the last row and column unread)."""
    return _backward_cases(impl, rand, device, [(7, 7, 3, 3, 2, 0), (8, 8, 3, 3, 3, 0)])


@hidden_test(task="conv_backward", weight=2.0)
def conv_backward_stride_and_padding(impl, rand, device):
    """dx, dw and db with stride 2 and padding 1 together."""
    return _backward_cases(impl, rand, device, [(7, 7, 3, 3, 2, 1), (8, 8, 3, 3, 2, 1)])


@hidden_test(task="conv_backward", weight=3.0)
def conv_backward_non_square(impl, rand, device):
    """dx, dw and db for non-square inputs and filters (H != W, KH != KW), with stride and padding."""
    return _backward_cases(impl, rand, device, [(5, 8, 2, 3, 1, 0), (5, 8, 2, 3, 2, 1),
                                                (7, 4, 3, 1, 2, 1)])
