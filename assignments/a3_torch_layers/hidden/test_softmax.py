"""Hidden tests of the softmax task: ``softmax`` and ``log_softmax``.

Logits of +-1e4 overflow exp() in any dtype, so only a shifted (stable) implementation
gets them right. In float32 the number 1e4 itself is held only to about 1e-3, and two
correct ways of writing log-softmax (subtracting the max first, or subtracting a
logsumexp) differ by that much there; the float32 test at +-1e4 therefore compares with
atol 2e-3 (still far below any wrong answer, which is nan, inf or off by whole units).
"""
import torch

from graders.grading.hidden import check, hidden_test

DTYPES = (torch.float64, torch.float32)
EXTREME = [
    [1e4, -1e4, 0.0, 1e4 - 2.0],
    [-1e4, -1e4 + 1.0, -1e4 + 3.0, -1e4],
    [1e4, 1e4, 1e4, 1e4],
    [-1e4, -1e4, -1e4, -1e4],
    [1e4 - 0.5, 1e4 - 1.5, -3.0, 2.0],
]
FLOAT32_EXTREME_ATOL = 2e-3


def _name(dtype):
    return str(dtype).removeprefix("torch.")


def _cases(rand, dtype):
    """(label, x, dim): rank 1 to 3, default dim and explicit positive and negative dims."""
    matrix = rand.tensor(6, 5, scale=3.0, dtype=dtype)
    cube = rand.tensor(2, 3, 4, scale=3.0, dtype=dtype)
    return [
        ("(6, 5) default dim", matrix, None),
        ("(6, 5) dim=1", matrix, 1),
        ("(6, 5) dim=0", matrix, 0),
        ("(6, 5) dim=-2", matrix, -2),
        ("(2, 3, 4) dim=1", cube, 1),
        ("(2, 3, 4) default dim", cube, None),
        ("(7,) dim=0", rand.tensor(7, scale=3.0, dtype=dtype), 0),
    ]


def _call(function, x, dim):
    return function(x) if dim is None else function(x, dim=dim)


def _extreme_logits(rand, dtype, device):
    fixed = torch.tensor(EXTREME, dtype=dtype, device=device)
    return torch.cat([fixed, rand.tensor(3, 4, scale=1e4, dtype=dtype)])


def _finite(value):
    return not isinstance(value, torch.Tensor) or bool(torch.isfinite(value).all())


def _check_softmax_finite(probs, dtype, x=None, dim=-1):
    check(_finite(probs), f"softmax gave nan or inf for logits of +-1e4 ({_name(dtype)}): exp() of a large "
          "logit overflows unless the maximum along dim is subtracted first (each row's own maximum)",
          mistake=_overflow_mistake(probs, x, dim))


def _overflow_mistake(probs, x, dim):
    """Which shift went wrong: none at all, or one maximum for the whole tensor. With the
    global maximum the rows holding it come out right; only the others underflow to 0/0."""
    if x is None or not isinstance(probs, torch.Tensor) or probs.shape != x.shape:
        return "softmax_unshifted"
    holds_top = (x == x.max()).any(dim=dim, keepdim=True).expand_as(x)
    if bool(torch.isfinite(probs[holds_top]).all()) and not bool(torch.isfinite(probs[~holds_top]).all()):
        return "softmax_global_max_shift"
    return "softmax_unshifted"


def _check_log_softmax_finite(log_probs, dtype):
    underflow = isinstance(log_probs, torch.Tensor) and bool(torch.isneginf(log_probs).any()) \
        and not bool(torch.isnan(log_probs).any())
    check(_finite(log_probs), f"log_softmax gave nan or inf for logits of +-1e4 ({_name(dtype)}): its "
          "entries must be finite (about -2e4 for the smallest)",
          mistake="log_softmax_as_log_of_softmax" if underflow else None)


@hidden_test(task="softmax", weight=2.0)
def softmax_random(impl, rand, device):
    """softmax on random logits of rank 1 to 3, along the default, positive and negative dims."""
    return {f"{_name(dtype)} {label}": _call(impl.softmax, x, dim)
            for dtype in DTYPES for label, x, dim in _cases(rand, dtype)}


@hidden_test(task="softmax", weight=2.0)
def log_softmax_random(impl, rand, device):
    """log_softmax on random logits of rank 1 to 3, along the default, positive and negative dims."""
    return {f"{_name(dtype)} {label}": _call(impl.log_softmax, x, dim)
            for dtype in DTYPES for label, x, dim in _cases(rand, dtype)}


@hidden_test(task="softmax", weight=1.5)
def softmax_extreme_logits(impl, rand, device):
    """softmax of float64 logits of +-1e4 (all equal, nearly equal, far apart): finite and correct."""
    x = _extreme_logits(rand, torch.float64, device)
    results = {}
    for label, dim in (("dim=-1", None), ("dim=0", 0)):
        probs = _call(impl.softmax, x, dim)
        _check_softmax_finite(probs, torch.float64, x, -1 if dim is None else dim)
        results[label] = probs
    return results


@hidden_test(task="softmax", weight=1.5)
def log_softmax_extreme_logits(impl, rand, device):
    """log_softmax of float64 logits of +-1e4 (all equal, nearly equal, far apart): finite and correct."""
    x = _extreme_logits(rand, torch.float64, device)
    results = {}
    for label, dim in (("dim=-1", None), ("dim=0", 0)):
        log_probs = _call(impl.log_softmax, x, dim)
        _check_log_softmax_finite(log_probs, torch.float64)
        results[label] = log_probs
    return results


@hidden_test(task="softmax", atol=FLOAT32_EXTREME_ATOL)
def softmax_extreme_float32(impl, rand, device):
    """softmax and log_softmax of float32 logits of +-1e4: finite and correct (atol 2e-3, float32 holds 1e4 to ~1e-3)."""
    x = _extreme_logits(rand, torch.float32, device)
    probs, log_probs = impl.softmax(x), impl.log_softmax(x)
    _check_softmax_finite(probs, torch.float32, x)
    _check_log_softmax_finite(log_probs, torch.float32)
    return {"softmax": probs, "log_softmax": log_probs}
