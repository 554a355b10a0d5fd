"""Correct implementations of A4 written differently from the reference; each keeps full marks.

Each body runs inside a copy of the reference module (``torch`` is imported there). The
scalar-loop variants are the slowest code a student could reasonably write: they prove
that the hidden inputs are small enough for it to fit the per-call time limit.
"""
from graders.grading.catalog import variant


@variant("conv_output_size", "counts the window positions one by one")
def output_size_counting(n, f, stride, padding):
    count, start = 0, 0
    while start + f <= n + 2 * padding:
        count, start = count + 1, start + stride
    return count


@variant("conv2d_forward", "seven nested Python loops, one multiply-add of 0-dim tensors at a time; "
         "the padding is handled by skipping indices that fall outside the image")
def conv_forward_scalar_loops(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Ho, Wo = (H + 2 * padding - KH) // stride + 1, (W + 2 * padding - KW) // stride + 1
    out = torch.zeros(N, F, Ho, Wo, dtype=x.dtype, device=x.device)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    total = b[f]
                    for c in range(C):
                        for p in range(KH):
                            for q in range(KW):
                                r, s = i * stride + p - padding, j * stride + q - padding
                                if 0 <= r < H and 0 <= s < W:
                                    total = total + x[n, c, r, s] * w[f, c, p, q]
                    out[n, f, i, j] = total
    return out, (x, w, b, stride, padding)


@variant("conv2d_backward", "seven nested Python loops over 0-dim tensors, the mirror image of the "
         "forward loops: each multiply-add sends dout to x's and w's gradients")
def conv_backward_scalar_loops(dout, cache):
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    dx = torch.zeros_like(x)
    dw = torch.zeros_like(w)
    db = torch.zeros_like(b)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    g = dout[n, f, i, j]
                    db[f] += g
                    for c in range(C):
                        for p in range(KH):
                            for q in range(KW):
                                r, s = i * stride + p - padding, j * stride + q - padding
                                if 0 <= r < H and 0 <= s < W:
                                    dx[n, c, r, s] += g * w[f, c, p, q]
                                    dw[f, c, p, q] += g * x[n, c, r, s]
    return dx, dw, db


@variant("conv2d_forward", "CS231n's naive version: F.pad, then four loops (n, f, i, j) that sum "
         "one window times one filter")
def conv_forward_window_loops(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Ho, Wo = (H + 2 * padding - KH) // stride + 1, (W + 2 * padding - KW) // stride + 1
    xp = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    out = x.new_empty(N, F, Ho, Wo)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride:i * stride + KH, j * stride:j * stride + KW]
                    out[n, f, i, j] = (window * w[f]).sum() + b[f]
    return out, (x, w, b, stride, padding)


@variant("conv2d_backward", "CS231n's naive version: loops over (n, f, i, j) adding dout times a "
         "window to dw and dout times a filter to the padded dx, then cropping")
def conv_backward_window_loops(dout, cache):
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    xp = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    dxp = torch.zeros_like(xp)
    dw = torch.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    rows = slice(i * stride, i * stride + KH)
                    cols = slice(j * stride, j * stride + KW)
                    dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    return dxp[:, :, padding:padding + H, padding:padding + W], dw, dout.sum(dim=(0, 2, 3))


@variant("conv2d_forward", "shift and add: one einsum per filter offset (p, q) over a strided slice "
         "of the padded input")
def conv_forward_shift_and_add(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Ho, Wo = (H + 2 * padding - KH) // stride + 1, (W + 2 * padding - KW) // stride + 1
    xp = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    out = b.reshape(1, F, 1, 1).expand(N, F, Ho, Wo).clone()
    for p in range(KH):
        for q in range(KW):
            patch = xp[:, :, p:p + stride * (Ho - 1) + 1:stride, q:q + stride * (Wo - 1) + 1:stride]
            out = out + torch.einsum("nchw,fc->nfhw", patch, w[:, :, p, q])
    return out, (x, w, b, stride, padding)


@variant("conv2d_forward", "im2col by advanced indexing: gather every window into a matrix, then one "
         "matrix product with the flattened filters")
def conv_forward_im2col_matmul(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Ho, Wo = (H + 2 * padding - KH) // stride + 1, (W + 2 * padding - KW) // stride + 1
    xp = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    rows = (torch.arange(Ho, device=x.device) * stride).reshape(Ho, 1, 1, 1) \
        + torch.arange(KH, device=x.device).reshape(1, 1, KH, 1)
    cols = (torch.arange(Wo, device=x.device) * stride).reshape(1, Wo, 1, 1) \
        + torch.arange(KW, device=x.device).reshape(1, 1, 1, KW)
    columns = xp[:, :, rows, cols]  # (N, C, Ho, Wo, KH, KW)
    columns = columns.permute(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, C * KH * KW)
    out = columns @ w.reshape(F, C * KH * KW).T + b
    return out.reshape(N, Ho, Wo, F).permute(0, 3, 1, 2), (x, w, b, stride, padding)


@variant("conv2d_backward", "the course's rule: dx is a full convolution of dout (spread out by the "
         "stride) with the filters flipped horizontally and vertically, computed with this module's "
         "own conv2d_forward")
def conv_backward_flipped_filter(dout, cache):
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    # Spread dout out by the stride, surround it with K - 1 zeros, and cross-correlate it
    # with the flipped filters, input and output channels swapped: a "full" convolution.
    spread = dout.new_zeros(N, F, stride * (Ho - 1) + 1, stride * (Wo - 1) + 1)
    spread[:, :, ::stride, ::stride] = dout
    spread = torch.nn.functional.pad(spread, (KW - 1, KW - 1, KH - 1, KH - 1))
    flipped = w.flip(2, 3).transpose(0, 1)  # (C, F, KH, KW)
    covered, _ = conv2d_forward(spread, flipped, dout.new_zeros(C))
    # Rows and columns of the padded input that no window reached get zero gradient.
    Hp, Wp = H + 2 * padding, W + 2 * padding
    dxp = torch.nn.functional.pad(covered, (0, Wp - covered.shape[3], 0, Hp - covered.shape[2]))
    dx = dxp[:, :, padding:padding + H, padding:padding + W]
    xp = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    dw = x.new_zeros(F, C, KH, KW)
    for p in range(KH):
        for q in range(KW):
            patch = xp[:, :, p:p + stride * (Ho - 1) + 1:stride, q:q + stride * (Wo - 1) + 1:stride]
            dw[:, :, p, q] = torch.einsum("nchw,nfhw->fc", patch, dout)
    return dx, dw, dout.sum(dim=(0, 2, 3))


@variant("conv_output_size", "true division then math.floor")
def output_size_floor(n, f, stride, padding):
    import math

    return math.floor((n + 2 * padding - f) / stride) + 1


@variant("maxpool2d_forward", "loops over the output positions, taking the max of each window slice")
def maxpool_forward_window_loops(x, kernel_size, stride):
    N, C, H, W = x.shape
    k = kernel_size
    Ho, Wo = (H - k) // stride + 1, (W - k) // stride + 1
    out = x.new_empty(N, C, Ho, Wo)
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + k, j * stride:j * stride + k].amax(dim=(2, 3))
    return out, (x, kernel_size, stride)


@variant("maxpool2d_backward", "loops over every (n, c, i, j) window: argmax of the window, then add "
         "dout to that one element")
def maxpool_backward_window_argmax_loops(dout, cache):
    x, k, stride = cache
    N, C, H, W = x.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    dx = torch.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + k, j * stride:j * stride + k]
                    best = int(window.argmax())
                    dx[n, c, i * stride + best // k, j * stride + best % k] += dout[n, c, i, j]
    return dx


@variant("maxpool2d_backward", "a one-hot mask of each window's argmax (F.one_hot) times dout, "
         "added to the window's slice of dx, window by window")
def maxpool_backward_one_hot(dout, cache):
    x, k, stride = cache
    N, C, H, W = x.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    dx = torch.zeros_like(x)
    for i in range(Ho):
        for j in range(Wo):
            rows = slice(i * stride, i * stride + k)
            cols = slice(j * stride, j * stride + k)
            window = x[:, :, rows, cols].reshape(N, C, k * k)
            one_hot = torch.nn.functional.one_hot(window.argmax(dim=2), k * k).to(x.dtype)
            dx[:, :, rows, cols] += (one_hot * dout[:, :, i, j, None]).reshape(N, C, k, k)
    return dx
