"""Known mistakes of a3_torch_layers, each with the explanation a student reads when their
result matches it.

Each function runs inside a copy of the reference module (it uses the reference's imports,
cache layouts and other functions by name) and replaces its target there.
"""
import torch

from graders.grading.catalog import mistake


# --------------------------------------------------------------------------- activations

@mistake("sigmoid_forward",
         "The sigmoid's derivative was computed from the input x instead of the output: "
         "sigmoid'(x) = s (1 - s) where s = sigmoid(x) is the forward's output, not x itself. "
         "Keep the output in the cache and build the derivative from it.")
def sigmoid_derivative_from_input(x):
    z = torch.exp(-x.abs())
    out = torch.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return out, x


@mistake("tanh_forward",
         "tanh's derivative was computed from the input x instead of the output: "
         "tanh'(x) = 1 - tanh(x)^2 squares the forward's output, not x. Keep the output in "
         "the cache and build the derivative from it.")
def tanh_derivative_from_input(x):
    t = torch.expm1(-2 * x.abs())
    return torch.sign(x) * (-t / (2 + t)), x


@mistake("tanh_forward",
         "tanh gave nan for large |x|: e^x overflows to inf (above about 709 in float64, 88 in "
         "float32) and inf / inf is nan. Rewrite the formula so that only exponentials of "
         "non-positive numbers appear, e.g. in terms of e^(-2|x|), and put the sign back.")
def tanh_overflows(x):
    out = (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))
    return out, out


@mistake("leaky_relu_backward",
         "The gradient was set to 0 where x <= 0, which is the ReLU's derivative. A leaky ReLU "
         "has slope `slope` there, so the gradient is dout times that slope, not 0.")
def leaky_relu_backward_drops_negatives(dout, cache):
    x, slope = cache
    return dout * (x > 0)


@mistake("leaky_relu_forward",
         "The slope argument was ignored: the layer always used 0.01. Use the slope the caller "
         "passes; 0.01 is only its default value.")
def leaky_relu_slope_hardcoded(x, slope=0.01):
    return torch.where(x > 0, x, x * 0.01), (x, 0.01)


# --------------------------------------------------------------------------- softmax

@mistake("softmax",
         "softmax overflowed for large logits: exp(1e4) is inf, and inf / inf is nan (and for "
         "very negative rows 0 / 0 is nan). Softmax does not change when the same number is "
         "subtracted from every logit of a row: subtract the row's maximum before exp().")
def softmax_unshifted(x, dim=-1):
    exps = x.exp()
    return exps / exps.sum(dim=dim, keepdim=True)


@mistake("softmax",
         "softmax subtracted the maximum of the whole tensor (x - x.max()) instead of each row's "
         "own maximum along dim. That is right in exact arithmetic, but a row whose logits all "
         "lie far below the overall maximum then underflows to exp(...) = 0 everywhere, and "
         "0 / 0 is nan. Take the maximum along dim, with keepdim=True.")
def softmax_global_max_shift(x, dim=-1):
    exps = (x - x.max()).exp()
    return exps / exps.sum(dim=dim, keepdim=True)


@mistake("softmax",
         "softmax normalised along the last dimension whatever dim was asked for. Reduce "
         "(max and sum) along the dim argument, and keep that dimension so it broadcasts back.")
def softmax_ignores_dim(x, dim=-1):
    shifted = x - x.amax(dim=-1, keepdim=True)
    exps = shifted.exp()
    return exps / exps.sum(dim=-1, keepdim=True)


@mistake("softmax",
         "softmax called torch's own softmax, which this task forbids: the point is to write it "
         "yourself from exp, max and sum. The call was refused and the test scored 0.")
def softmax_calls_torch_softmax(x, dim=-1):
    return torch.softmax(x, dim=dim)


@mistake("log_softmax",
         "log_softmax was computed as log(softmax(x)). Where a probability underflows to 0 "
         "(logits 2e4 apart) its log is -inf, though the true value is a finite number near "
         "-2e4. Work in log space: log_softmax = (x - max) - log(sum(exp(x - max))).")
def log_softmax_as_log_of_softmax(x, dim=-1):
    return softmax(x, dim=dim).log()  # noqa: F821 - the reference's softmax


# --------------------------------------------------------------------------- cross-entropy

@mistake("cross_entropy_forward",
         "The loss was summed over the batch instead of averaged. Cross-entropy, like "
         "torch.nn.functional.cross_entropy, is the mean of the per-sample losses: divide by N.")
def cross_entropy_summed(logits, targets, label_smoothing=0.0):
    n, c = logits.shape
    log_probs = log_softmax(logits, dim=1)  # noqa: F821 - the reference's log_softmax
    onehot = (torch.arange(c, device=logits.device) == targets[:, None]).to(logits.dtype)
    q = (1 - label_smoothing) * onehot + label_smoothing / c
    return -(q * log_probs).sum(), (log_probs.exp(), q)


@mistake("cross_entropy_forward",
         "Label smoothing put the wrong mass off the target: the target kept 1 - eps and the other "
         "C - 1 classes shared eps. PyTorch mixes the one-hot target with the uniform distribution: "
         "every class, the target included, gets eps / C, and the target gets 1 - eps on top.")
def label_smoothing_wrong_mass(logits, targets, label_smoothing=0.0):
    n, c = logits.shape
    log_probs = log_softmax(logits, dim=1)  # noqa: F821 - the reference's log_softmax
    onehot = (torch.arange(c, device=logits.device) == targets[:, None]).to(logits.dtype)
    q = (1 - label_smoothing) * onehot + label_smoothing / (c - 1) * (1 - onehot)
    return -(q * log_probs).sum() / n, (log_probs.exp(), q)


@mistake("cross_entropy_forward",
         "The loss took the log of the softmax probabilities. Where a target's probability "
         "underflows to 0 (its logit 2e4 below the row's top one) the log is -inf and the loss "
         "inf, though the true loss is a finite number near 2e4. Work in log space: "
         "-log p_target = log(sum(exp(x - max))) + max - x_target.")
def cross_entropy_log_of_softmax(logits, targets, label_smoothing=0.0):
    n, c = logits.shape
    probs = softmax(logits, dim=1)  # noqa: F821 - the reference's softmax
    onehot = (torch.arange(c, device=logits.device) == targets[:, None]).to(logits.dtype)
    q = (1 - label_smoothing) * onehot + label_smoothing / c
    return -(q * probs.log()).sum() / n, (probs, q)


@mistake("cross_entropy_backward",
         "dlogits was not divided by the batch size. The loss is a mean over N samples, so each "
         "sample's gradient softmax - target carries a factor 1 / N.")
def cross_entropy_backward_not_averaged(cache):
    probs, q = cache
    return probs - q


# --------------------------------------------------------------------------- batch norm

@mistake("batchnorm_forward",
         "The running variance was updated with the biased batch variance (divided by N). PyTorch "
         "normalises the batch with the biased variance but feeds the unbiased one (divided by "
         "N - 1) into the running estimate, which evaluation mode later uses for the population.")
def running_var_biased(x, gamma, beta, running_mean, running_var, train, momentum=0.1, eps=1e-5):
    if not train:
        x_hat = (x - running_mean) / torch.sqrt(running_var + eps)
        return gamma * x_hat + beta, None, running_mean.clone(), running_var.clone()
    mean = x.mean(dim=0)
    var = ((x - mean) ** 2).mean(dim=0)
    inv_std = 1 / torch.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var
    return gamma * x_hat + beta, (x_hat, gamma, inv_std), new_mean, new_var


@mistake("batchnorm_forward",
         "The momentum was applied the wrong way round: the old running value got weight momentum "
         "and the batch statistic 1 - momentum. In PyTorch momentum is the weight of the new batch "
         "statistic: new = (1 - momentum) * running + momentum * batch.")
def momentum_reversed(x, gamma, beta, running_mean, running_var, train, momentum=0.1, eps=1e-5):
    if not train:
        x_hat = (x - running_mean) / torch.sqrt(running_var + eps)
        return gamma * x_hat + beta, None, running_mean.clone(), running_var.clone()
    n = x.shape[0]
    mean = x.mean(dim=0)
    var = ((x - mean) ** 2).mean(dim=0)
    inv_std = 1 / torch.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    new_mean = momentum * running_mean + (1 - momentum) * mean
    new_var = momentum * running_var + (1 - momentum) * var * n / (n - 1)
    return gamma * x_hat + beta, (x_hat, gamma, inv_std), new_mean, new_var


@mistake("batchnorm_forward",
         "The running statistics follow CS231n's convention: momentum is the weight of the old "
         "value (running = momentum * running + (1 - momentum) * batch, with momentum 0.9) and "
         "the running variance takes the biased batch variance. PyTorch's BatchNorm1d, which "
         "this course follows, gives the batch statistic the weight momentum (0.1) and feeds "
         "the unbiased variance (divided by N - 1) into the running variance.")
def batchnorm_cs231n_running_stats(x, gamma, beta, running_mean, running_var, train, momentum=0.1, eps=1e-5):
    if not train:
        x_hat = (x - running_mean) / torch.sqrt(running_var + eps)
        return gamma * x_hat + beta, None, running_mean.clone(), running_var.clone()
    mean = x.mean(dim=0)
    var = ((x - mean) ** 2).mean(dim=0)
    inv_std = 1 / torch.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    new_mean = momentum * running_mean + (1 - momentum) * mean
    new_var = momentum * running_var + (1 - momentum) * var
    return gamma * x_hat + beta, (x_hat, gamma, inv_std), new_mean, new_var


@mistake("batchnorm_forward",
         "The batch was normalised with the unbiased variance (divided by N - 1, the default of "
         "torch.var and Tensor.var). Batch norm normalises with the biased variance (divided by N, "
         "unbiased=False / correction=0); only the running estimate uses the unbiased one.")
def batchnorm_normalises_with_unbiased_var(x, gamma, beta, running_mean, running_var, train,
                                           momentum=0.1, eps=1e-5):
    if not train:
        x_hat = (x - running_mean) / torch.sqrt(running_var + eps)
        return gamma * x_hat + beta, None, running_mean.clone(), running_var.clone()
    mean = x.mean(dim=0)
    var = x.var(dim=0)  # unbiased by default
    inv_std = 1 / torch.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var
    return gamma * x_hat + beta, (x_hat, gamma, inv_std), new_mean, new_var


@mistake("batchnorm_forward",
         "Evaluation mode normalised with the batch's own mean and variance. With train=False the "
         "layer must use running_mean and running_var, so that a prediction does not depend on "
         "the other samples in the batch (or on the batch size).")
def batchnorm_eval_uses_batch_stats(x, gamma, beta, running_mean, running_var, train, momentum=0.1, eps=1e-5):
    n = x.shape[0]
    mean = x.mean(dim=0)
    var = ((x - mean) ** 2).mean(dim=0)
    inv_std = 1 / torch.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    out = gamma * x_hat + beta
    if not train:
        return out, None, running_mean.clone(), running_var.clone()
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    return out, (x_hat, gamma, inv_std), new_mean, new_var


@mistake("batchnorm_backward",
         "dx treated the batch mean and variance as constants: dx = dout * gamma / sqrt(var + eps). "
         "In training mode they are computed from x, so every sample also moves the mean and the "
         "variance; the gradient has two more terms, one through each of them.")
def batchnorm_dx_ignores_batch_stats(dout, cache):
    x_hat, gamma, inv_std = cache
    return dout * gamma * inv_std, (dout * x_hat).sum(dim=0), dout.sum(dim=0)


@mistake("batchnorm_backward",
         "batchnorm_backward asked autograd for the gradient (requires_grad / .backward()), which "
         "this assignment forbids: backward passes are derived and written by hand. The call was "
         "refused and the test scored 0.")
def batchnorm_backward_autograd(dout, cache):
    x_hat, gamma, inv_std = cache
    x = (x_hat / inv_std).detach().requires_grad_(True)
    g = gamma.detach().requires_grad_(True)
    with torch.enable_grad():
        mean = x.mean(dim=0)
        var = ((x - mean) ** 2).mean(dim=0)
        out = g * (x - mean) / torch.sqrt(var + 1e-5)
        out.backward(dout)
    return x.grad, g.grad, dout.sum(dim=0)


# --------------------------------------------------------------------------- dropout

@mistake("dropout_forward",
         "Kept entries were not scaled by 1 / (1 - p). In inverted dropout the survivors are scaled "
         "up during training so that the expected output equals the input, and evaluation can use "
         "the layer as the identity.")
def dropout_no_scaling(x, p, train, generator=None):
    if not train:
        return x.clone(), None
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep, (keep, 0.0)


@mistake("dropout_forward",
         "p was used as the probability of keeping an element. Here, as in torch.nn.Dropout(p), p is "
         "the probability of zeroing it: keep an element with probability 1 - p and scale the "
         "survivors by 1 / (1 - p).")
def dropout_p_as_keep(x, p, train, generator=None):
    if not train:
        return x.clone(), None
    keep = torch.rand(x.shape, generator=generator, device=x.device) < p
    return x * keep / p, (keep, 1 - p)


@mistake("dropout_forward",
         "Dropout was applied in evaluation mode too. With train=False the layer must return its "
         "input unchanged: inverted dropout already did the scaling during training.")
def dropout_active_in_eval(x, p, train, generator=None):
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep / (1 - p), (keep, p)


@mistake("dropout_forward",
         "The mask did not come from the generator argument, so the caller cannot reproduce it. Pass "
         "the generator to every torch function that draws random numbers (with device=x.device).")
def dropout_ignores_generator(x, p, train, generator=None):
    if not train:
        return x.clone(), None
    keep = torch.rand(x.shape, device=x.device) >= p
    return x * keep / (1 - p), (keep, p)


@mistake("dropout_backward",
         "Backward drew a new random mask. The gradient must flow through exactly the elements the "
         "forward pass kept: save the forward's mask in the cache and reuse it.")
def dropout_backward_new_mask(dout, cache):
    if cache is None:
        return dout.clone()
    keep, p = cache
    fresh = torch.rand(dout.shape, device=dout.device) >= p
    return dout * fresh / (1 - p)
