"""Hidden tests of the linear task: ``linear_forward`` and ``linear_backward``."""
from graders.grading.hidden import hidden_test

# (N, D, M): D != M so a transposed gradient has the wrong shape; N = 1 included.
SHAPES = ((6, 4, 3), (1, 5, 2), (9, 3, 7))
DTYPES = ("float64", "float32")


def _layer(rand, n, d, m, dtype):
    return rand.normal(n, d, dtype=dtype), rand.normal(d, m, dtype=dtype), rand.normal(m, dtype=dtype)


@hidden_test(task="linear")
def linear_forward_random(impl, rand):
    """x @ W + b on random batches of 6, 1 and 9 samples, in float64 and float32."""
    results = {}
    for dtype in DTYPES:
        for n, d, m in SHAPES:
            out, _ = impl.linear_forward(*_layer(rand, n, d, m, dtype))
            results[f"out {dtype} N={n} D={d} M={m}"] = out
    return results


@hidden_test(task="linear", weight=2.0)
def linear_backward_random(impl, rand):
    """dx, dW and db of a linear layer on random batches of 6, 1 and 9 samples, in float64 and float32."""
    results = {}
    for dtype in DTYPES:
        for n, d, m in SHAPES:
            _, cache = impl.linear_forward(*_layer(rand, n, d, m, dtype))
            dx, dW, db = impl.linear_backward(rand.normal(n, m, dtype=dtype), cache)
            label = f"{dtype} N={n} D={d} M={m}"
            results.update({f"dx {label}": dx, f"dW {label}": dW, f"db {label}": db})
    return results
