"""Hidden tests of the dropout task: ``dropout_forward`` and ``dropout_backward``.

A mask is random by design, so training mode is checked by properties that every
correct use of ``rng`` satisfies (``rng.random(shape) < p``, ``rng.binomial``,
``rng.uniform``, ...): each output entry is 0 or x / (1 - p), the dropped fraction is
close to p, and backward reuses the forward's mask. Evaluation mode and p = 0 are
deterministic and are compared with the reference.
"""
import math

import numpy as np

from graders.grading.hidden import check, expect, hidden_test

P = 0.3  # not 0.5, so "p zeroes" and "p keeps" give different results
SHAPE = (100, 200)
# Hoeffding: the dropped fraction of n independent draws strays from p by t or more
# with probability at most 2 exp(-2 n t^2); this t makes that 1e-7.
BOUND = math.sqrt(math.log(2 / 1e-7) / (2 * math.prod(SHAPE)))
DTYPES = ("float64", "float32")


def _positive(rand, dtype, shape=SHAPE):
    """Inputs away from zero, so an output entry of 0 means the entry was dropped."""
    return rand.uniform(0.5, 1.5, *shape, dtype=dtype)


def _same_state(rng):
    """A second generator that will draw exactly what ``rng`` would draw next."""
    twin = np.random.Generator(type(rng.bit_generator)())
    twin.bit_generator.state = rng.bit_generator.state
    return twin


def _check_like(value, like, name):
    ok = isinstance(value, np.ndarray) and value.shape == like.shape and value.dtype == like.dtype
    got = f"shape {value.shape}, dtype {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
    check(ok, f"{name} must be an array of shape {like.shape} and dtype {like.dtype}; got {got}")


def _scaling_mistake(unscaled, scaled):
    """The catalogued mistake whose scaling turns ``unscaled`` into ``scaled``, if any."""
    if np.allclose(scaled, unscaled):
        return "dropout_no_scaling"
    if np.allclose(scaled, unscaled / P):
        return "dropout_p_as_keep"
    return None


def _check_scaled(unscaled, scaled, name):
    """Kept entries must be the input divided by 1 - p."""
    ok = np.allclose(scaled, unscaled.astype(np.float64) / (1 - P), rtol=1e-5, atol=0)
    expect(ok, f"where an entry is kept, {name} must be scaled by 1 / (1 - p)",
           mistake=None if ok else _scaling_mistake(unscaled, scaled))


def _check_train_forward(impl, rand, dtype):
    x = _positive(rand, dtype)
    out, _ = impl.dropout_forward(x, P, True, rand.numpy_rng())
    _check_like(out, x, "out")
    kept = out != 0
    _check_scaled(x[kept], out[kept], "out")
    dropped = 1 - kept.mean()
    expect(abs(dropped - P) <= BOUND,
           f"with p = {P} a fraction {dropped:.3f} of the entries was zeroed; p is the probability "
           f"of zeroing, so expect {P} +- {BOUND:.3f}", mistake="dropout_p_as_keep")
    return {}  # properties only: the mask itself is not compared with the reference's


def _eval_mistake(x, out):
    """The catalogued mistake an evaluation-mode output that is not x reveals."""
    if np.allclose(out, x * (1 - P)):
        return "dropout_not_inverted"  # classic dropout: it scales at test time instead
    return "dropout_active_in_eval"


@hidden_test(task="dropout", weight=2.0)
def dropout_train_float64(impl, rand):
    """Training mode on 20000 float64 entries with p = 0.3: each output is 0 or x / (1 - p), about 30% zeroed."""
    return _check_train_forward(impl, rand, "float64")


@hidden_test(task="dropout", weight=2.0)
def dropout_train_float32(impl, rand):
    """Training mode on 20000 float32 entries with p = 0.3: each output is 0 or x / (1 - p), about 30% zeroed."""
    return _check_train_forward(impl, rand, "float32")


@hidden_test(task="dropout", weight=2.0)
def dropout_backward_same_mask(impl, rand):
    """In training mode the gradient flows through exactly the kept entries, scaled by 1 / (1 - p)."""
    for dtype in DTYPES:
        x = _positive(rand, dtype)
        out, cache = impl.dropout_forward(x, P, True, rand.numpy_rng())
        _check_like(out, x, "out")
        dout = rand.normal(*SHAPE, dtype=dtype)
        dx = impl.dropout_backward(dout, cache)
        _check_like(dx, x, "dx")
        kept = out != 0
        expect(np.array_equal(dx != 0, kept),
               "dx must be zero exactly where the forward pass zeroed the output: "
               "backward must reuse the forward pass's mask", mistake="dropout_backward_new_mask")
        _check_scaled(dout[kept], dx[kept], "dx")
    return {}


@hidden_test(task="dropout")
def dropout_mask_from_rng(impl, rand):
    """The mask comes from rng alone: generators in the same state give the same mask, other states another."""
    x = _positive(rand, "float64", (40, 50))
    rng = rand.numpy_rng()
    first, _ = impl.dropout_forward(x, P, True, _same_state(rng))
    again, _ = impl.dropout_forward(x, P, True, _same_state(rng))
    other, _ = impl.dropout_forward(x, P, True, rand.numpy_rng())
    for out in (first, again, other):
        _check_like(out, x, "out")
    expect(np.array_equal(first != 0, again != 0),
           "two generators in the same state gave different masks", mistake="dropout_ignores_rng")
    expect(not np.array_equal(first != 0, other != 0),
           "generators in different states gave the same mask", mistake="dropout_ignores_rng")
    return {}


@hidden_test(task="dropout")
def dropout_eval_identity(impl, rand):
    """In evaluation mode (train=False) dropout is the identity, forward and backward."""
    results = {}
    for dtype in DTYPES:
        x, dout = rand.normal(20, 30, dtype=dtype), rand.normal(20, 30, dtype=dtype)
        out, cache = impl.dropout_forward(x, P, False, rand.numpy_rng())
        _check_like(out, x, "out")
        check(np.array_equal(out, x), "in evaluation mode (train=False) out must equal x",
              mistake=_eval_mistake(x, out))
        results.update({f"out {dtype}": out, f"dx {dtype}": impl.dropout_backward(dout, cache)})
    return results


@hidden_test(task="dropout")
def dropout_p_zero(impl, rand):
    """Training mode with p = 0 keeps every entry unchanged, forward and backward."""
    results = {}
    for dtype in DTYPES:
        x, dout = rand.normal(20, 30, dtype=dtype), rand.normal(20, 30, dtype=dtype)
        out, cache = impl.dropout_forward(x, 0.0, True, rand.numpy_rng())
        results.update({f"out {dtype}": out, f"dx {dtype}": impl.dropout_backward(dout, cache)})
    return results
