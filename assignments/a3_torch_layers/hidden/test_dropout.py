"""Hidden tests of the dropout task: ``dropout_forward`` and ``dropout_backward``.

A mask is random by design, so training mode is checked by properties that every correct
use of the generator satisfies (``torch.rand(..., generator=g) >= p``, ``< 1 - p``,
``torch.bernoulli(..., generator=g)``, ``Tensor.bernoulli_``, ...): each output entry is 0
or x / (1 - p), the dropped fraction is close to p, backward reuses the forward's mask,
and the mask comes from the generator alone. Evaluation mode and p = 0 are deterministic
and are compared with the reference; the output's shape, dtype and device always are.
"""
import math

import torch

from graders.grading.hidden import check, expect, hidden_test

P = 0.3  # not 0.5, so "p zeroes" and "p keeps" give different results
SHAPE = (60, 100)
# Hoeffding: the dropped fraction of n independent draws strays from p by t or more with
# probability at most 2 exp(-2 n t^2); this t makes that 1e-7 per check.
BOUND = math.sqrt(math.log(2 / 1e-7) / (2 * math.prod(SHAPE)))
DTYPES = (torch.float64, torch.float32)
# Kept entries must equal x / (1 - p) up to the rounding of the dtype.
SCALE_RTOL = {torch.float64: 1e-12, torch.float32: 1e-6}


def _name(dtype):
    return str(dtype).removeprefix("torch.")


def _positive(rand, dtype, shape=SHAPE):
    """Inputs away from zero, so an output entry of 0 means the entry was dropped."""
    return rand.tensor(*shape, dtype=dtype).abs() + 0.5


def _describe(value):
    """What must match the reference whatever the mask: a tensor's shape, dtype and device."""
    if not isinstance(value, torch.Tensor):
        return type(value).__name__
    return {"shape": tuple(value.shape), "dtype": _name(value.dtype), "device": value.device.type}


def _check_like(value, like, name):
    ok = (isinstance(value, torch.Tensor) and value.shape == like.shape and value.dtype == like.dtype
          and value.device == like.device)
    got = (f"shape {tuple(value.shape)}, dtype {_name(value.dtype)} on {value.device}"
           if isinstance(value, torch.Tensor) else type(value).__name__)
    check(ok, f"{name} must be a tensor of shape {tuple(like.shape)} and dtype {_name(like.dtype)} "
          f"on {like.device}; got {got}")


def _scaling_mistake(unscaled, scaled):
    """The catalogued mistake whose scaling turns ``unscaled`` into ``scaled``, if any."""
    if torch.allclose(scaled, unscaled):
        return "dropout_no_scaling"
    if torch.allclose(scaled, unscaled / P):
        return "dropout_p_as_keep"
    return None


def _check_scaled(unscaled, scaled, name, dtype):
    """Kept entries must be the input divided by 1 - p."""
    unscaled, scaled = unscaled.double(), scaled.double()
    ok = torch.allclose(scaled, unscaled / (1 - P), rtol=SCALE_RTOL[dtype], atol=0)
    expect(ok, f"where an entry is kept, {name} must be scaled by 1 / (1 - p) = {1 / (1 - P):.4g}",
           mistake=None if ok else _scaling_mistake(unscaled, scaled))


def _check_dropped_fraction(out):
    dropped = (out == 0).double().mean().item()
    expect(abs(dropped - P) <= BOUND,
           f"with p = {P} a fraction {dropped:.3f} of the entries was zeroed; p is the probability "
           f"of zeroing, so expect {P} +- {BOUND:.3f}", mistake="dropout_p_as_keep")


def _check_train_forward(impl, x, *args, **kwargs):
    out, cache = impl.dropout_forward(x, P, True, *args, **kwargs)
    _check_like(out, x, "out")
    kept = out != 0
    _check_scaled(x[kept], out[kept], "out", x.dtype)
    _check_dropped_fraction(out)
    return out, cache


@hidden_test(task="dropout", weight=2.0)
def dropout_train_forward(impl, rand, device):
    """Training mode, p = 0.3, on 6000 entries: each output is 0 or x / (1 - p), about 30% are zeroed."""
    results = {}
    for dtype in DTYPES:
        x = _positive(rand, dtype)
        out, _ = _check_train_forward(impl, x, rand.torch_generator())
        results[f"out {_name(dtype)}"] = _describe(out)
    return results  # properties only: the mask itself is not compared with the reference's


@hidden_test(task="dropout", weight=2.0)
def dropout_backward_same_mask(impl, rand, device):
    """In training mode the gradient flows through exactly the kept entries, scaled by 1 / (1 - p)."""
    results = {}
    for dtype in DTYPES:
        x = _positive(rand, dtype)
        out, cache = _check_train_forward(impl, x, rand.torch_generator())
        dout = rand.tensor(*SHAPE, dtype=dtype)
        dx = impl.dropout_backward(dout, cache)
        _check_like(dx, x, "dx")
        kept = out != 0
        expect(torch.equal(dx != 0, kept),
               "dx must be zero exactly where the forward pass zeroed the output: "
               "backward must reuse the forward pass's mask", mistake="dropout_backward_new_mask")
        _check_scaled(dout[kept], dx[kept], "dx", dtype)
        results[f"dx {_name(dtype)}"] = _describe(dx)
    return results


@hidden_test(task="dropout")
def dropout_uses_generator(impl, rand, device):
    """The mask comes from the generator: equal generator states give equal masks, different states others."""
    x = _positive(rand, torch.float64, (40, 50))
    first = rand.torch_generator()
    twin = torch.Generator(device=device)
    twin.set_state(first.get_state())
    other = rand.torch_generator()
    outs = [impl.dropout_forward(x, P, True, generator)[0] for generator in (first, twin, other)]
    for out in outs:
        _check_like(out, x, "out")
    first_out, twin_out, other_out = outs
    expect(torch.equal(first_out != 0, twin_out != 0),
           "two generators in the same state gave different masks: draw every random number "
           "from the generator argument", mistake="dropout_ignores_generator")
    expect(not torch.equal(first_out != 0, other_out != 0),
           "generators in different states gave the same mask: draw the mask from the "
           "generator argument", mistake="dropout_ignores_generator")
    return {"out": _describe(first_out)}


@hidden_test(task="dropout")
def dropout_without_generator(impl, rand, device):
    """With no generator (torch's default one for the device) training mode still drops about p, scaled."""
    results = {}
    for dtype in DTYPES:
        x = _positive(rand, dtype)
        out, _ = _check_train_forward(impl, x)
        results[f"out {_name(dtype)}, generator omitted"] = _describe(out)
        out, _ = _check_train_forward(impl, x, generator=None)
        results[f"out {_name(dtype)}, generator=None"] = _describe(out)
    return results


@hidden_test(task="dropout")
def dropout_eval_identity(impl, rand, device):
    """In evaluation mode (train=False) dropout is the identity, forward and backward."""
    results = {}
    for dtype in DTYPES:
        x, dout = rand.tensor(20, 30, dtype=dtype), rand.tensor(20, 30, dtype=dtype)
        out, cache = impl.dropout_forward(x, P, False, rand.torch_generator())
        _check_like(out, x, "out")
        check(torch.equal(out, x), "in evaluation mode (train=False) out must equal x",
              mistake="dropout_active_in_eval")
        results.update({f"out {_name(dtype)}": out, f"dx {_name(dtype)}": impl.dropout_backward(dout, cache)})
    return results


@hidden_test(task="dropout")
def dropout_p_zero(impl, rand, device):
    """Training mode with p = 0 keeps every entry unchanged, forward and backward."""
    results = {}
    for dtype in DTYPES:
        x, dout = rand.tensor(20, 30, dtype=dtype), rand.tensor(20, 30, dtype=dtype)
        out, cache = impl.dropout_forward(x, 0.0, True, rand.torch_generator())
        results.update({f"out {_name(dtype)}": out, f"dx {_name(dtype)}": impl.dropout_backward(dout, cache)})
    return results
