"""Known mistakes of a2_numpy_mlp.

Each function runs inside a copy of the reference module (it uses the reference's
imports, cache layout and other functions by name) and replaces its target there.
"""
import numpy as np

from graders.grading.catalog import mistake


@mistake("linear_backward",
         "db was averaged over the batch instead of summed. Every sample adds its own "
         "contribution to the shared bias, so the bias gradient is the sum of the "
         "upstream gradient over the batch axis.")
def db_averaged(dout, cache):
    x, W, _ = cache
    return dout @ W.T, x.T @ dout, dout.mean(axis=0)


@mistake("linear_backward",
         "dW came out transposed, with shape (M, D). A parameter's gradient has the "
         "parameter's shape, here (D, M): check the order of the two factors so that "
         "the input-feature axis comes first.")
def dW_transposed(dout, cache):
    x, W, _ = cache
    return dout @ W.T, dout.T @ x, dout.sum(axis=0)


@mistake("relu_backward",
         "The ReLU gradient was passed where the input was negative. ReLU is the "
         "identity where x > 0 and constant 0 elsewhere, so the gradient flows only "
         "where the forward input was positive.")
def relu_backward_wrong_side(dout, cache):
    x = cache
    return dout * (x < 0)


@mistake("linear_backward",
         "dW and db were divided by the batch size. The layer's backward passes the gradient of "
         "whatever loss arrives in dout; if that loss is a batch mean, dout already carries the "
         "1 / N. Sum over the batch here (dW = x.T @ dout, db = dout summed over axis 0), or the "
         "batch is averaged twice.")
def linear_backward_averaged(dout, cache):
    x, W, _ = cache
    n = dout.shape[0]
    return dout @ W.T, x.T @ dout / n, dout.sum(axis=0) / n


@mistake("relu_backward",
         "relu_backward changed dout in place (dout[x <= 0] = 0, then returned dout). "
         "dx = dout does not copy an array, it names the same one, so the caller's upstream "
         "gradient was overwritten. Build dx as a new array (dout * (x > 0), or dout.copy() "
         "before zeroing).")
def relu_backward_in_place(dout, cache):
    x = cache
    dout[x <= 0] = 0
    return dout


@mistake("relu_backward",
         "The ReLU was applied to the upstream gradient. Whether the gradient passes "
         "depends on the sign of the forward input x, not on the sign of dout; negative "
         "gradients must pass unchanged where x > 0.")
def relu_backward_clamps_dout(dout, cache):
    return np.maximum(dout, 0)


@mistake("mse_loss",
         "The MSE gradient was divided by the batch size N instead of the number of "
         "elements N * M. The loss averages over every element, so each element's "
         "gradient carries a 1 / pred.size factor.")
def mse_grad_over_batch(pred, target):
    diff = pred - target
    return float(np.mean(diff ** 2)), 2 * diff / diff.shape[0]


@mistake("mse_loss",
         "The MSE gradient misses the factor 2. The derivative of a square (p - t)^2 "
         "is 2 (p - t); keep it, then divide by the number of elements.")
def mse_grad_missing_two(pred, target):
    diff = pred - target
    return float(np.mean(diff ** 2)), diff / diff.size


@mistake("mse_loss",
         "The loss was halved, mean((pred - target)^2) / 2, with the gradient (pred - target) / "
         "pred.size to match: a common convention (it cancels the 2 of the square), but this "
         "course's MSE is the plain mean of the squares, as torch.nn.MSELoss computes it.")
def mse_half_squared(pred, target):
    diff = pred - target
    return float(np.mean(diff ** 2) / 2), diff / diff.size


@mistake("mse_loss",
         "The squares were summed over the outputs of each sample and averaged over the batch "
         "only (sum / N, gradient 2 (pred - target) / N). The MSE here is the mean over every "
         "element, N * M of them: divide by pred.size in the loss and in its gradient.")
def mse_summed_over_outputs(pred, target):
    diff = pred - target
    return float(np.sum(diff ** 2) / diff.shape[0]), 2 * diff / diff.shape[0]


@mistake("dropout_forward",
         "This is classic, not inverted, dropout: the survivors are not scaled during training, "
         "and evaluation multiplies by 1 - p instead. Inverted dropout moves the scaling into "
         "training (divide the kept entries by 1 - p) so that evaluation is the identity.")
def dropout_not_inverted(x, p, train, rng):
    if not train:
        return (x * (1 - p)).astype(x.dtype), None
    mask = (rng.random(x.shape) >= p).astype(x.dtype)
    return x * mask, mask


@mistake("dropout_forward",
         "Kept entries were not scaled by 1 / (1 - p). In inverted dropout the "
         "survivors are scaled up during training so that the expected output equals "
         "the input and evaluation can use the layer as the identity.")
def dropout_no_scaling(x, p, train, rng):
    if not train:
        return x.copy(), None
    mask = (rng.random(x.shape) >= p).astype(x.dtype)
    return x * mask, mask


@mistake("dropout_forward",
         "Dropout was applied in evaluation mode too. With train=False the layer must "
         "return its input unchanged: inverted dropout already did the scaling during "
         "training.")
def dropout_active_in_eval(x, p, train, rng):
    mask = ((rng.random(x.shape) >= p) / (1 - p)).astype(x.dtype)
    return x * mask, mask


@mistake("dropout_forward",
         "p was used as the probability of keeping an entry. In this course (as in "
         "torch.nn.Dropout(p)) p is the probability of zeroing one: keep an entry with "
         "probability 1 - p and scale the survivors by 1 / (1 - p).")
def dropout_p_as_keep(x, p, train, rng):
    if not train:
        return x.copy(), None
    mask = ((rng.random(x.shape) < p) / p).astype(x.dtype)
    return x * mask, mask


@mistake("dropout_forward",
         "The mask was not drawn from the rng argument (e.g. from np.random's global "
         "state). Draw it from the generator you are given, so that a run can be "
         "repeated exactly.")
def dropout_ignores_rng(x, p, train, rng):
    if not train:
        return x.copy(), None
    mask = ((np.random.random(x.shape) >= p) / (1 - p)).astype(x.dtype)
    return x * mask, mask


@mistake("dropout_backward",
         "Backward drew a new random mask. The gradient must flow through exactly the "
         "entries the forward pass kept: keep the forward mask in the cache and reuse it.")
def dropout_backward_new_mask(dout, cache):
    mask = cache
    if mask is None:
        return dout.copy()
    p = 1 - 1 / mask.max()  # the cache holds only the scaled mask; kept entries are 1 / (1 - p)
    fresh = np.random.default_rng().random(dout.shape) >= p
    return (dout * fresh / (1 - p)).astype(dout.dtype)


@mistake("two_layer_net",
         "Dropout was never applied in the network: with dropout_p > 0, run the hidden "
         "activations through dropout in training mode after the ReLU, and send the "
         "gradient back through the same mask.")
def two_layer_net_without_dropout(x, y, params, dropout_p=0.0, rng=None):
    hidden, linear1 = linear_forward(x, params["W1"], params["b1"])
    hidden, relu = relu_forward(hidden)
    pred, linear2 = linear_forward(hidden, params["W2"], params["b2"])
    loss, dpred = mse_loss(pred, y)
    dhidden, dW2, db2 = linear_backward(dpred, linear2)
    _, dW1, db1 = linear_backward(relu_backward(dhidden, relu), linear1)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


@mistake("sgd_momentum_step",
         "The velocity was an exponential moving average, v = mu v + (1 - mu) g. This "
         "course uses PyTorch's rule: v = mu v + g (the gradient is added in full), then "
         "p = p - lr v.")
def momentum_ema(params, grads, velocity, lr, momentum):
    new_params, new_velocity = {}, {}
    for name, value in params.items():
        previous = velocity.get(name, np.zeros_like(value))
        new_velocity[name] = momentum * previous + (1 - momentum) * grads[name]
        new_params[name] = value - lr * new_velocity[name]
    return new_params, new_velocity


@mistake("sgd_momentum_step",
         "The learning rate was folded into the velocity (v = mu v + lr g, p = p - v). "
         "The parameters come out the same while lr is constant, but the velocity you "
         "return is not PyTorch's: keep v = mu v + g and apply lr only in the update.")
def momentum_lr_in_velocity(params, grads, velocity, lr, momentum):
    new_params, new_velocity = {}, {}
    for name, value in params.items():
        previous = velocity.get(name, np.zeros_like(value))
        new_velocity[name] = momentum * previous + lr * grads[name]
        new_params[name] = value - new_velocity[name]
    return new_params, new_velocity


@mistake("sgd_momentum_step",
         "The velocity follows CS231n's convention, v = mu v - lr g and p = p + v: the "
         "parameters come out the same, but the velocity you return is -lr times PyTorch's. "
         "This course uses PyTorch's rule: v = mu v + g, then p = p - lr v.")
def momentum_cs231n(params, grads, velocity, lr, momentum):
    new_params, new_velocity = {}, {}
    for name, value in params.items():
        previous = velocity.get(name, np.zeros_like(value))
        new_velocity[name] = momentum * previous - lr * grads[name]
        new_params[name] = value + new_velocity[name]
    return new_params, new_velocity


@mistake("sgd_step",
         "sgd_step changed the parameters in place. It must return a new dict of new "
         "arrays and leave both arguments as they were (the caller may still need them).")
def sgd_step_in_place(params, grads, lr):
    for name in params:
        params[name] -= lr * grads[name]
    return params
