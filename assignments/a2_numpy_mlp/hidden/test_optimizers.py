"""Hidden tests of the optimizers task: ``sgd_step`` and ``sgd_momentum_step``.

Every call is also checked for modifying its arguments in place (by the engine).
"""
from graders.grading.hidden import hidden_test

SHAPES = {"W1": (4, 3), "b1": (3,), "W2": (3, 2), "b2": (2,)}
DTYPES = ("float64", "float32")


def _like(rand, dtype):
    return {name: rand.normal(*shape, dtype=dtype) for name, shape in SHAPES.items()}


@hidden_test(task="optimizers")
def sgd_step_random(impl, rand):
    """One SGD step (lr = 0.05) on random parameters and gradients, in float64 and float32."""
    return {dtype: impl.sgd_step(_like(rand, dtype), _like(rand, dtype), 0.05) for dtype in DTYPES}


@hidden_test(task="optimizers", weight=2.0)
def sgd_momentum_three_steps(impl, rand):
    """Three momentum steps (lr = 0.1, momentum = 0.9) from an empty velocity: parameters and velocities after each."""
    results = {}
    for dtype in DTYPES:
        params, velocity = _like(rand, dtype), {}
        for step in (1, 2, 3):
            params, velocity = impl.sgd_momentum_step(params, _like(rand, dtype), velocity, 0.1, 0.9)
            results[f"{dtype} step {step}"] = {"params": params, "velocity": velocity}
    return results
