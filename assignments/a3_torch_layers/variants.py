"""Correct implementations of A3 written differently from the reference; each keeps full marks.

Each runs inside a copy of the reference module and replaces its target there, so a
forward variant keeps the reference's cache layout for the reference's backward.
"""
import torch

from graders.grading.catalog import variant


@variant("sigmoid_forward", "the plain formula 1 / (1 + exp(-x)): exp(-x) overflowing to inf "
         "still gives 1 / inf = 0, never nan")
def sigmoid_plain_formula(x):
    out = 1 / (1 + torch.exp(-x))
    return out, out


@variant("tanh_forward", "tanh(x) = 2 sigmoid(2x) - 1, with a sigmoid written by hand")
def tanh_from_sigmoid(x):
    z = torch.exp(-2 * x.abs())
    sig = torch.where(x >= 0, 1 / (1 + z), z / (1 + z))  # sigmoid(2x), never overflowing
    out = 2 * sig - 1
    return out, out


@variant("leaky_relu_forward", "clamp the positive and the negative parts separately and add them")
def leaky_relu_clamps(x, slope=0.01):
    return torch.clamp(x, min=0) + slope * torch.clamp(x, max=0), (x, slope)


@variant("leaky_relu_backward", "builds the local derivative as a tensor of ones and slopes")
def leaky_relu_backward_derivative_tensor(dout, cache):
    x, slope = cache
    local = torch.full_like(dout, slope)
    local[x > 0] = 1.0  # fills a new tensor, not an input
    return dout * local


@variant("softmax", "exp(x - logsumexp(x)) with the logsumexp written by hand")
def softmax_via_logsumexp(x, dim=-1):
    top = x.amax(dim=dim, keepdim=True)
    lse = top + torch.log(torch.exp(x - top).sum(dim=dim, keepdim=True))
    return torch.exp(x - lse)


@variant("softmax", "a Python loop over the rows, after moving dim to the end")
def softmax_row_loop(x, dim=-1):
    moved = x.movedim(dim, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    out = torch.empty_like(rows)
    for i in range(rows.shape[0]):
        e = torch.exp(rows[i] - rows[i].max())
        out[i] = e / e.sum()
    return out.reshape(moved.shape).movedim(-1, dim)


@variant("log_softmax", "x - torch.logsumexp(x, dim), torch's stable logsumexp")
def log_softmax_torch_logsumexp(x, dim=-1):
    return x - torch.logsumexp(x, dim=dim, keepdim=True)


@variant("cross_entropy_forward", "PyTorch's own formula: (1 - eps) * NLL of the target + eps * "
         "mean over classes of -log p, with gather")
def cross_entropy_nll_plus_uniform(logits, targets, label_smoothing=0.0):
    n, c = logits.shape
    top = logits.amax(dim=1, keepdim=True)
    log_probs = logits - top - torch.log(torch.exp(logits - top).sum(dim=1, keepdim=True))
    nll = -log_probs.gather(1, targets[:, None]).squeeze(1)
    uniform = -log_probs.mean(dim=1)
    loss = ((1 - label_smoothing) * nll + label_smoothing * uniform).mean()
    q = torch.full_like(logits, label_smoothing / c)
    q[torch.arange(n, device=logits.device), targets] += 1 - label_smoothing
    return loss, (log_probs.exp(), q)


@variant("batchnorm_forward", "torch.var_mean(correction=0) for the batch statistics and "
         "torch.lerp for the running estimates")
def batchnorm_var_mean_lerp(x, gamma, beta, running_mean, running_var, train, momentum=0.1, eps=1e-5):
    if not train:
        out = gamma * (x - running_mean) * torch.rsqrt(running_var + eps) + beta
        return out, None, running_mean.clone(), running_var.clone()
    n = x.shape[0]
    var, mean = torch.var_mean(x, dim=0, correction=0)
    inv_std = torch.rsqrt(var + eps)
    x_hat = (x - mean) * inv_std
    new_mean = torch.lerp(running_mean, mean, momentum)
    new_var = torch.lerp(running_var, var * n / (n - 1), momentum)
    return gamma * x_hat + beta, (x_hat, gamma, inv_std), new_mean, new_var


@variant("batchnorm_backward", "the staged chain rule (dx_hat, dvar, dmean, then dx), sums by einsum")
def batchnorm_backward_staged(dout, cache):
    x_hat, gamma, inv_std = cache
    n = dout.shape[0]
    centered = x_hat / inv_std
    dbeta = torch.einsum("nd->d", dout)
    dgamma = torch.einsum("nd,nd->d", dout, x_hat)
    dx_hat = dout * gamma
    dvar = torch.einsum("nd,nd->d", dx_hat, centered) * -0.5 * inv_std ** 3
    dmean = -torch.einsum("nd->d", dx_hat) * inv_std + dvar * -2 * centered.mean(dim=0)
    dx = dx_hat * inv_std + dvar * 2 * centered / n + dmean / n
    return dx, dgamma, dbeta


@variant("dropout_forward", "torch.bernoulli of a (1 - p) tensor, drawn from the generator")
def dropout_bernoulli(x, p, train, generator=None):
    if not train:
        return x.clone(), None
    keep = torch.bernoulli(torch.full_like(x, 1 - p), generator=generator).bool()
    return x * keep / (1 - p), (keep, p)


@variant("dropout_forward", "Tensor.bernoulli_ fills a new mask in place with keep probability 1 - p")
def dropout_bernoulli_in_place(x, p, train, generator=None):
    if not train:
        return x.clone(), None
    keep = torch.empty_like(x).bernoulli_(1 - p, generator=generator).bool()
    return x * keep / (1 - p), (keep, p)


@variant("dropout_forward", "keep where a uniform draw is below 1 - p; a scaled mask of x's dtype")
def dropout_rand_below_keep(x, p, train, generator=None):
    if not train:
        return x.clone(), None
    keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) < 1 - p
    mask = keep.to(x.dtype) * (1 / (1 - p))
    return x * mask, (keep, p)
