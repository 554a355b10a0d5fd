"""Hidden tests of the relu task: ``relu_forward`` and ``relu_backward``."""
from graders.grading.hidden import hidden_test

SHAPES = ((5, 4), (1, 7), (2, 3, 4))
DTYPES = ("float64", "float32")


@hidden_test(task="relu")
def relu_forward_random(impl, rand):
    """max(0, x) of random arrays of shapes (5, 4), (1, 7) and (2, 3, 4), in float64 and float32."""
    results = {}
    for dtype in DTYPES:
        for shape in SHAPES:
            out, _ = impl.relu_forward(rand.normal(*shape, dtype=dtype))
            results[f"out {dtype} {shape}"] = out
    return results


@hidden_test(task="relu", weight=2.0)
def relu_backward_random(impl, rand):
    """The ReLU gradient for random inputs and random upstream gradients of both signs."""
    results = {}
    for dtype in DTYPES:
        for shape in SHAPES:
            _, cache = impl.relu_forward(rand.normal(*shape, dtype=dtype))
            dx = impl.relu_backward(rand.normal(*shape, dtype=dtype), cache)
            results[f"dx {dtype} {shape}"] = dx
    return results
