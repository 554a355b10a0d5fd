"""A4: convolution and max-pooling layers in PyTorch, forward and backward by hand.

Images are batch first, channels next: ``x`` has shape ``(N, C, H, W)``. A convolution
layer holds ``F`` filters ``w`` of shape ``(F, C, KH, KW)`` and one bias per filter.
Like ``torch.nn.functional.conv2d`` (and every deep-learning library), the layer computes
a *cross-correlation*: the filter slides over the input as it is, without being flipped.

Every function works on whatever device its inputs are on (CPU or GPU) and returns
results with their dtype, on their device. No function modifies its inputs in place.
Gradients are computed by hand: torch's autograd, convolution, unfold/fold and pooling
operators are refused while these functions run.
"""
import torch


def conv_output_size(n, f, stride, padding):
    """The length of a convolution's (or pooling's) output along one axis.

    An input of length ``n`` is padded with ``padding`` zeros on *both* sides, and a
    window of length ``f`` moves over it in steps of ``stride``; windows that would
    stick out past the end are dropped.

    Args:
        n: int, the input length (H or W).
        f: int, the window (filter) length along the same axis (KH or KW).
        stride: int >= 1, the step between two windows.
        padding: int >= 0, the zeros added at each end.

    Returns:
        size: int, ``(n + 2 * padding - f) // stride + 1``.
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv_output_size")


def conv2d_forward(x, w, b, stride=1, padding=0):
    """A 2-D convolution layer (cross-correlation, as ``torch.nn.functional.conv2d``).

    ``out[n, f, i, j] = b[f] + sum over c, p, q of
    xp[n, c, i * stride + p, j * stride + q] * w[f, c, p, q]``
    where ``xp`` is ``x`` with ``padding`` zeros added on each side of H and W.

    Args:
        x: (N, C, H, W) inputs, floating point.
        w: (F, C, KH, KW) filters, same dtype and device as ``x``.
        b: (F,) biases, one per filter.
        stride: int >= 1, the step between two positions of a filter (same along H and W).
        padding: int >= 0, the zeros added on each side of H and W.

    Returns:
        out: (N, F, H_out, W_out) with ``H_out = conv_output_size(H, KH, stride, padding)``
            and ``W_out = conv_output_size(W, KW, stride, padding)``.
        cache: ``(x, w, b, stride, padding)``, read only by ``conv2d_backward``.
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv2d_forward")


def conv2d_backward(dout, cache):
    """Gradients of a convolution layer.

    Args:
        dout: (N, F, H_out, W_out), the gradient of the loss with respect to ``out``.
        cache: what ``conv2d_forward`` returned with ``out``.

    Returns:
        dx: (N, C, H, W), the gradient with respect to ``x`` (the unpadded input).
        dw: (F, C, KH, KW), the gradient with respect to ``w``.
        db: (F,), the gradient with respect to ``b``.
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv2d_backward")


def maxpool2d_forward(x, kernel_size, stride):
    """Max-pooling over square windows, without padding (as ``F.max_pool2d(x, k, s)``).

    ``out[n, c, i, j] = max over p, q < kernel_size of x[n, c, i * stride + p, j * stride + q]``

    Args:
        x: (N, C, H, W) inputs, floating point.
        kernel_size: int, the window's side length k.
        stride: int >= 1, the step between two windows; windows overlap when it is below k.

    Returns:
        out: (N, C, H_out, W_out) with ``H_out = conv_output_size(H, k, stride, 0)`` and
            ``W_out = conv_output_size(W, k, stride, 0)``.
        cache: ``(x, kernel_size, stride)``, read only by ``maxpool2d_backward``.
    """
    # YOUR CODE HERE
    raise NotImplementedError("maxpool2d_forward")


def maxpool2d_backward(dout, cache):
    """Gradient of max-pooling.

    Each window passes its ``dout`` to the element that was its maximum (the first one in
    row-major order if several are equal); every other element of the window gets
    nothing. An element that is the maximum of several overlapping windows receives the
    sum of their gradients.

    Args:
        dout: (N, C, H_out, W_out), the gradient of the loss with respect to ``out``.
        cache: what ``maxpool2d_forward`` returned with ``out``.

    Returns:
        dx: (N, C, H, W), the gradient with respect to ``x``.
    """
    # YOUR CODE HERE
    raise NotImplementedError("maxpool2d_backward")
