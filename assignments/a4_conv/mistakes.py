"""Known mistakes in A4, each with the explanation a student reads when their result matches it.

Each body runs inside a copy of the reference module (``torch`` is imported there). Most
differ from the reference in one place, so they call it on inputs arranged to make that
difference: the reference's function, bound as a default argument when the mistake is
defined (before the mistake takes its name), vectorised where a loop per output position
made each diagnosis of a failing submission cost 100-200 ms.
"""
from graders.grading.catalog import mistake

# Only this file's own import sees these: an entry is copied into the reference module
# without them, where the names are the reference's functions.
conv2d_forward = conv2d_backward = maxpool2d_forward = None


# --------------------------------------------------------------------------- output size

@mistake("conv_output_size", "The padding was counted once. Padding adds zeros at both ends of the "
         "axis, so the padded length is n + 2p, not n + p.")
def output_size_padding_once(n, f, stride, padding):
    return (n + padding - f) // stride + 1


@mistake("conv_output_size", "The division by the stride was rounded up. A window that would stick "
         "out past the end of the padded input is dropped, so count only the windows that fit: "
         "round the division down.")
def output_size_rounded_up(n, f, stride, padding):
    return -(-(n + 2 * padding - f) // stride) + 1


# --------------------------------------------------------------------------- conv forward

@mistake("conv2d_forward", "The filter was flipped before sliding it, which is the textbook "
         "convolution. A convolution layer (torch.nn.functional.conv2d included) computes a "
         "cross-correlation: filter element (p, q) multiplies the input element p rows and q columns "
         "from the window's top-left corner, without any flip.")
def conv_forward_flipped_kernel(x, w, b, stride=1, padding=0, _reference=conv2d_forward):
    out, _ = _reference(x, w.flip(2, 3), b, stride, padding)
    return out, (x, w, b, stride, padding)


@mistake("conv2d_forward", "The padding argument was ignored: the filters only slide over the "
         "original image, so the output is too small. Surround the input with `padding` zeros on "
         "every side before sliding the filters.")
def conv_forward_padding_ignored(x, w, b, stride=1, padding=0, _reference=conv2d_forward):
    out, _ = _reference(x, w, b, stride, 0)
    return out, (x, w, b, stride, padding)


@mistake("conv2d_forward", "conv2d_forward called torch's own convolution. The point of the task is "
         "to compute the sliding-window sums yourself, with loops, slicing or einsum.")
def conv_forward_calls_torch_conv2d(x, w, b, stride=1, padding=0):
    out = torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding)
    return out, (x, w, b, stride, padding)


# --------------------------------------------------------------------------- conv backward

@mistake("conv2d_backward", "dx came back with the padded input's shape (H + 2p, W + 2p). The zeros "
         "added around the input are not part of x, so the gradient that lands on them must be "
         "thrown away: remove p rows and columns from every side.")
def conv_backward_dx_keeps_padding(dout, cache, _reference=conv2d_backward):
    x, w, b, stride, padding = cache
    # The gradient with respect to the padded input: x padded beforehand, nothing left to strip.
    return _reference(dout, (torch.nn.functional.pad(x, (padding,) * 4), w, b, stride, 0))


@mistake("conv2d_backward", "dx was cropped from the top-left corner of the padded gradient, so it "
         "is shifted by the padding. The padding sits on both sides: skip the first p rows and "
         "columns as well as the last p.")
def conv_backward_dx_cropped_at_corner(dout, cache, _reference=conv2d_backward):
    x, w, b, stride, padding = cache
    dxp, dw, db = _reference(dout, (torch.nn.functional.pad(x, (padding,) * 4), w, b, stride, 0))
    return dxp[:, :, :x.shape[2], :x.shape[3]], dw, db


@mistake("conv2d_backward", "The backward pass ignored the stride: it sends each output's gradient "
         "to the window at (i, j) instead of (i * stride, j * stride). Output position (i, j) read "
         "the window that starts stride times further along, so its gradient (for dx and for dw) "
         "belongs there.")
def conv_backward_stride_ignored(dout, cache, _reference=conv2d_backward):
    x, w, b, stride, padding = cache
    H, W = x.shape[2], x.shape[3]
    # Output (i, j) paired with the window at (i, j) of the padded input: stride 1 there.
    dxp, dw, db = _reference(dout, (torch.nn.functional.pad(x, (padding,) * 4), w, b, 1, 0))
    return dxp[:, :, padding:padding + H, padding:padding + W], dw, db


@mistake("conv2d_backward", "dx was computed by sliding the filter over the (padded) output gradient "
         "without flipping it. Sending each output's gradient back through the weights that "
         "produced it amounts to a full convolution of dout with the filter flipped horizontally "
         "and vertically (the course's 'backprop by the flipped filter').")
def conv_backward_dx_filter_not_flipped(dout, cache, _reference=conv2d_backward):
    x, w, b, stride, padding = cache
    # dw and db do not depend on w; dx goes back through the flipped filter.
    return _reference(dout, (x, w.flip(2, 3), b, stride, padding))


@mistake("conv2d_backward", "db was averaged over the batch instead of summed. Every sample and every "
         "output position adds the bias once, so db adds up dout over the batch and over H_out and "
         "W_out.")
def conv_backward_db_averaged_over_batch(dout, cache, _reference=conv2d_backward):
    dx, dw, _ = _reference(dout, cache)  # dx and dw are right; only db is wrong
    return dx, dw, dout.sum(dim=(2, 3)).mean(dim=0)


@mistake("conv2d_backward", "dw holds the gradient of the last sample only: it was overwritten for "
         "each sample instead of accumulated. The same filters are used on every image of the batch, "
         "so dw is the sum of the contributions of all samples (and all output positions).")
def conv_backward_dw_last_sample_only(dout, cache, _reference=conv2d_backward):
    x, w, b, stride, padding = cache
    dx, _, db = _reference(dout, cache)
    _, dw, _ = _reference(dout[-1:], (x[-1:], w, b, stride, padding))
    return dx, dw, db


@mistake("conv2d_backward", "conv2d_backward used torch's autograd. Backward passes in this course "
         "are written by hand: apply the chain rule to the sums of the forward pass yourself.")
def conv_backward_uses_autograd(dout, cache):
    x, w, b, stride, padding = cache
    x, w, b = (t.detach().clone().requires_grad_(True) for t in (x, w, b))
    with torch.enable_grad():
        out = conv2d_forward(x, w, b, stride=stride, padding=padding)[0]
        return torch.autograd.grad(out, (x, w, b), dout)


# --------------------------------------------------------------------------- max-pooling

@mistake("maxpool2d_forward", "The windows were moved by the kernel size instead of by the stride, so "
         "overlapping windows (stride < kernel) are missed and the output is too small. Window "
         "(i, j) starts at row i * stride and column j * stride.")
def maxpool_forward_stride_is_kernel(x, kernel_size, stride, _reference=maxpool2d_forward):
    out, _ = _reference(x, kernel_size, kernel_size)
    return out, (x, kernel_size, stride)


@mistake("maxpool2d_forward", "maxpool2d_forward called torch's own pooling operator. Compute the "
         "maximum of each window yourself (loops over the windows, or a strided view and amax).")
def maxpool_forward_calls_torch_pool(x, kernel_size, stride):
    return torch.nn.functional.max_pool2d(x, kernel_size, stride), (x, kernel_size, stride)


@mistake("maxpool2d_backward", "The gradient was spread evenly over the whole window (dout / k² to "
         "every element), which is the gradient of average-pooling. Only the element that was the "
         "maximum influenced the output, so the whole gradient of the window goes to it and the "
         "others get zero.")
def maxpool_backward_spread_over_window(dout, cache):
    x, k, stride = cache
    N, C, H, W = x.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    dx = x.new_zeros(N, C, H, W)
    for i in range(Ho):
        for j in range(Wo):
            share = (dout[:, :, i, j] / (k * k)).reshape(N, C, 1, 1)
            dx[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += share
    return dx


@mistake("maxpool2d_backward", "Where windows overlap, an element that is the maximum of two windows "
         "kept only the gradient of the last one: it was assigned instead of added. The element "
         "influenced both outputs, so it receives the sum of their gradients.")
def maxpool_backward_overlaps_overwritten(dout, cache):
    x, k, stride = cache
    N, C, H, W = x.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    dx = x.new_zeros(N, C, H, W)
    for i in range(Ho):
        for j in range(Wo):
            window = x[:, :, i * stride:i * stride + k, j * stride:j * stride + k].reshape(N, C, k * k)
            best = window.argmax(dim=2)
            rows, cols = i * stride + best // k, j * stride + best % k
            n, c = torch.meshgrid(torch.arange(N, device=x.device), torch.arange(C, device=x.device),
                                  indexing="ij")
            dx[n, c, rows, cols] = dout[:, :, i, j]
    return dx


@mistake("maxpool2d_backward", "Every element of a window received the window's whole gradient, as if "
         "each of them were the maximum. Only the maximum influenced the pooled output, so only it "
         "gets dout; the other elements of the window get zero. Find where each window's maximum "
         "sits (argmax, or a mask of the elements equal to it) and send dout there alone.")
def maxpool_backward_to_every_element(dout, cache):
    x, k, stride = cache
    N, C, H, W = x.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    dx = x.new_zeros(N, C, H, W)
    for i in range(Ho):
        for j in range(Wo):
            dx[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += dout[:, :, i, j].reshape(N, C, 1, 1)
    return dx


@mistake("maxpool2d_backward", "Each window's gradient was assigned to its whole slice of dx (dx[window] = "
         "mask * dout, as in CS231n's naive version, which assumes windows that do not overlap). Where "
         "windows overlap, that assignment also wipes out what the previous window gave to the shared "
         "elements. Add each window's contribution to dx (+=) instead of assigning it.")
def maxpool_backward_window_assigned(dout, cache):
    x, k, stride = cache
    N, C, H, W = x.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    dx = x.new_zeros(N, C, H, W)
    for i in range(Ho):
        for j in range(Wo):
            rows, cols = slice(i * stride, i * stride + k), slice(j * stride, j * stride + k)
            window = x[:, :, rows, cols]
            is_max = window == window.amax(dim=(2, 3), keepdim=True)
            dx[:, :, rows, cols] = is_max.to(x.dtype) * dout[:, :, i, j].reshape(N, C, 1, 1)
    return dx
