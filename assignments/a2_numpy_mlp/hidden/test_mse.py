"""Hidden tests of the mse task: ``mse_loss``."""
from graders.grading.hidden import hidden_test

# (N, M): M > 1 so dividing by N instead of N * M shows; N = 1 included.
SHAPES = ((6, 3), (1, 5), (8, 2))


def _losses(impl, rand, dtype):
    results = {}
    for n, m in SHAPES:
        loss, dpred = impl.mse_loss(rand.normal(n, m, dtype=dtype), rand.normal(n, m, dtype=dtype))
        results.update({f"loss N={n} M={m}": loss, f"dpred N={n} M={m}": dpred})
    return results


@hidden_test(task="mse")
def mse_loss_float64(impl, rand):
    """Loss and gradient of the MSE on random float64 predictions and targets."""
    return _losses(impl, rand, "float64")


# The loss is a Python float either way; compare it as loosely as the float32 gradient.
@hidden_test(task="mse", rtol=1e-4, atol=1e-5)
def mse_loss_float32(impl, rand):
    """Loss and gradient of the MSE on random float32 predictions and targets."""
    return _losses(impl, rand, "float32")
