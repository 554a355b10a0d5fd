"""Trusted helpers that exercise what a plain call cannot: a ``torch.autograd.Function``.

A hidden test calls ``impl.probe(kind, target, *args)``; the probe runs where the code
under test lives (inside the student's worker, or next to the reference in the trusted
process) and returns plain tensors and booleans, compared like any other result.

- ``function_direct``: the Function's static ``forward(ctx, *inputs)`` and then its
  ``backward(ctx, grad_output)`` with a stand-in context and autograd switched off, as
  the engine calls them; returns ``(output, gradients)``. Autograd is refused inside.
- ``function_autograd``: ``Function.apply`` on inputs that require grad, then
  ``torch.autograd.grad``; returns ``(output, gradients)``.
- ``gradcheck``: ``torch.autograd.gradcheck(Function.apply, inputs)`` in the inputs'
  dtype; returns a bool (False where gradcheck raises its mismatch error).
"""
from __future__ import annotations

from graders.integrity import guard

# Autograd is the probe's own tool in these two, so only the task's other rules apply (the
# guard refuses at the dispatcher, so they hold inside autograd's engine and its threads too).
USES_AUTOGRAD = frozenset({"function_autograd", "gradcheck"})


class StandInContext:
    """What a Function's forward and backward may use of ``ctx``, without autograd."""

    def __init__(self, count: int):
        self.saved_tensors: tuple = ()
        self.needs_input_grad = (True,) * count
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        self.saved_tensors = tuple(tensors)

    def mark_dirty(self, *tensors):
        pass

    def mark_non_differentiable(self, *tensors):
        pass

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = value


def rules_for(kind: str, groups) -> tuple[str, ...]:
    return tuple(g for g in groups if not (kind in USES_AUTOGRAD and g == guard.AUTOGRAD))


def inner_rules(kind: str, groups) -> tuple[str, ...]:
    """What holds *inside* the Function's own forward and backward during a probe that uses
    autograd: all the task's rules, autograd included (a hand-written backward must not ask
    autograd), or () when there is nothing more to refuse there."""
    return tuple(groups) if kind in USES_AUTOGRAD and guard.AUTOGRAD in groups else ()


def run(kind: str, function_class, inputs: tuple, grad_output=None, *, inner=None):
    """Arguments are named as the student would know them: in-place messages name them.

    ``inner``: a context manager factory that refuses autograd, entered around each call of
    the Function's forward and backward when the probe itself uses autograd."""
    import torch

    if inner is not None and kind in USES_AUTOGRAD:
        function_class = _guarded_inside(function_class, inner)

    if kind == "function_direct":
        ctx = StandInContext(len(inputs))
        with torch.no_grad():
            output = function_class.forward(ctx, *inputs)
            gradients = function_class.backward(ctx, grad_output)
        return output, _as_tuple(gradients)
    if kind == "function_autograd":
        leaves = tuple(x.detach().clone().requires_grad_(True) for x in inputs)
        with torch.enable_grad():
            output = function_class.apply(*leaves)
            gradients = torch.autograd.grad(output, leaves, grad_output, allow_unused=True)
        return output.detach(), tuple(g.detach() if g is not None else None for g in gradients)
    if kind == "gradcheck":
        leaves = tuple(x.detach().clone().requires_grad_(True) for x in inputs)
        from torch.autograd.gradcheck import GradcheckError

        # On CUDA a backward that sums with atomics differs in the last bits run to run:
        # allow that much, and no more (on the CPU the check stays exact).
        nondeterminism = 1e-10 if any(x.is_cuda for x in leaves) else 0.0
        try:
            return bool(torch.autograd.gradcheck(function_class.apply, leaves, raise_exception=True,
                                                 nondet_tol=nondeterminism))
        except GradcheckError:
            return False
    raise ValueError(f"unknown probe {kind!r}")


def _guarded_inside(function_class, inner):
    """A subclass whose forward and backward run the student's under ``inner()``."""
    import torch

    namespace = {}
    if function_class.forward is not torch.autograd.Function.forward:
        def forward(*args, **kwargs):
            with inner():
                return function_class.forward(*args, **kwargs)
        namespace["forward"] = staticmethod(forward)
    if function_class.backward is not torch.autograd.Function.backward:
        def backward(*args, **kwargs):
            with inner():
                return function_class.backward(*args, **kwargs)
        namespace["backward"] = staticmethod(backward)
    return type(function_class.__name__, (function_class,), namespace)


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)
