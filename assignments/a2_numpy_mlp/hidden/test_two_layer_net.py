"""Hidden tests of the two_layer_net task.

Without dropout the loss and gradients are compared with the reference. With dropout
the mask depends on how the rng is used, so the returned gradients are checked against
central differences of the student's own loss, each call given a generator in the same
state: any deterministic use of the rng passes. A network without dropout is trivially
consistent with its own loss, so that test first checks that dropout changed the loss.
"""
import numpy as np

from graders.grading.hidden import check, expect, hidden_test

NAMES = ("W1", "b1", "W2", "b2")
DROPOUT_P = 0.4
STEP = 1e-6  # central-difference step
KINK_MARGIN = 1e-3  # keep hidden pre-activations this far from the ReLU's kink at 0


def _network(rand, n, d, h, m, dtype="float64"):
    x, y = rand.normal(n, d, dtype=dtype), rand.normal(n, m, dtype=dtype)
    params = {"W1": rand.normal(d, h, scale=d ** -0.5, dtype=dtype), "b1": rand.normal(h, scale=0.1, dtype=dtype),
              "W2": rand.normal(h, m, scale=h ** -0.5, dtype=dtype), "b2": rand.normal(m, scale=0.1, dtype=dtype)}
    return x, y, params


def _smooth_network(rand, n, d, h, m):
    """A float64 network none of whose hidden units sits near the ReLU's kink, so a
    central difference of size STEP never crosses it and is accurate."""
    while True:
        x, y, params = _network(rand, n, d, h, m)
        if np.abs(x @ params["W1"] + params["b1"]).min() > KINK_MARGIN:
            return x, y, params


def _same_state(rng):
    """A second generator that will draw exactly what ``rng`` would draw next."""
    twin = np.random.Generator(type(rng.bit_generator)())
    twin.bit_generator.state = rng.bit_generator.state
    return twin


def _checked_grads(grads, params):
    ok = isinstance(grads, dict) and set(grads) == set(NAMES) and all(
        isinstance(grads[k], np.ndarray) and grads[k].shape == params[k].shape for k in NAMES)
    check(ok, "grads must be a dict with keys W1, b1, W2, b2, each an array shaped like its parameter")
    return grads


def _results(loss, grads, params):
    grads = _checked_grads(grads, params)
    return {"loss": loss, **{f"d{k}": grads[k] for k in NAMES}}


def _numerical_gradient(loss_of, params, name):
    """Central differences of ``loss_of(params)`` with respect to every entry of params[name]."""
    value = params[name]
    grad = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        step = np.zeros_like(value)
        step[index] = STEP
        plus, minus = loss_of({**params, name: value + step}), loss_of({**params, name: value - step})
        grad[index] = (plus - minus) / (2 * STEP)
    return grad


@hidden_test(task="two_layer_net", weight=2.0)
def two_layer_net_float64(impl, rand):
    """Loss and gradients without dropout on random float64 networks, batches of 6 and 1."""
    results = {}
    for n, d, h, m in ((6, 4, 5, 3), (1, 3, 4, 2)):
        x, y, params = _network(rand, n, d, h, m)
        loss, grads = impl.two_layer_net(x, y, params)
        results[f"N={n} D={d} H={h} M={m}"] = _results(loss, grads, params)
    return results


# The loss is a Python float either way; compare it as loosely as the float32 gradients.
@hidden_test(task="two_layer_net", rtol=1e-4, atol=1e-5)
def two_layer_net_float32(impl, rand):
    """Loss and gradients without dropout on random float32 networks, batches of 8 and 1."""
    results = {}
    for n, d, h, m in ((8, 5, 6, 2), (1, 4, 3, 3)):
        x, y, params = _network(rand, n, d, h, m, dtype="float32")
        loss, grads = impl.two_layer_net(x, y, params)
        results[f"N={n} D={d} H={h} M={m}"] = _results(loss, grads, params)
    return results


@hidden_test(task="two_layer_net", weight=2.0)
def two_layer_net_dropout_gradients(impl, rand):
    """With dropout_p = 0.4, the gradients match central differences of your own loss (same rng state each call)."""
    x, y, params = _smooth_network(rand, 40, 3, 5, 2)
    rng = rand.numpy_rng()

    def run(params):
        return impl.two_layer_net(x, y, params, DROPOUT_P, _same_state(rng))

    loss, grads = run(params)
    grads = _checked_grads(grads, params)
    without, _ = impl.two_layer_net(x, y, params)
    check(loss != without, "with dropout_p = 0.4 the loss equals the loss without dropout, and a network "
          "without dropout matches its own loss's gradients whatever it does: apply dropout after the ReLU",
          mistake="two_layer_net_without_dropout")
    again_loss, again_grads = run(params)
    check(loss == again_loss, "two calls with generators in the same state gave different losses: "
          "draw the dropout mask from the rng argument", mistake="dropout_ignores_rng")
    check(all(np.array_equal(grads[k], again_grads[k]) for k in NAMES),
          "two calls with generators in the same state gave different gradients: "
          "backward must reuse the forward pass's dropout mask", mistake="dropout_backward_new_mask")
    for name in NAMES:
        numerical = _numerical_gradient(lambda changed: run(changed)[0], params, name)
        expect(np.allclose(grads[name], numerical, rtol=1e-5, atol=1e-7),
               f"d{name} does not match the numerical gradient of your own loss with dropout")
    return {}


@hidden_test(task="two_layer_net")
def two_layer_net_applies_dropout(impl, rand):
    """With dropout_p = 0.4 the loss differs from the loss without dropout."""
    x, y, params = _network(rand, 40, 3, 5, 2)
    plain, _ = impl.two_layer_net(x, y, params)
    dropped, _ = impl.two_layer_net(x, y, params, DROPOUT_P, rand.numpy_rng())
    check(plain != dropped, "with dropout_p = 0.4 the loss equals the loss without dropout: "
          "dropout was not applied after the ReLU", mistake="two_layer_net_without_dropout")
    return {}
