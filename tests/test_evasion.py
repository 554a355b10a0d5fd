"""Every spelling that once kept full marks on a task forbidding the call now keeps none.

Each case is the reference with one function replaced by code that computes the right
answer with a forbidden operator, reached some roundabout way (op objects, ``torch._C._nn``,
``torch.nn.grad``, a thread, torch's modes switched off or popped, the guard patched). It
is graded in the real worker: every test of the task must score 0, each one refused or,
where tampering was recorded, marked as tampered in a flagged submission."""
import pytest

from graders.grading import engine

PATCH_GUARD = """
import contextlib, sys
import graders.integrity.guard as _g
_g.watching = lambda *a, **k: contextlib.nullcontext(_g.Watch())
_g.take = lambda: None
for _name in [n for n in sys.modules if n.startswith("graders")]:
    setattr(sys.modules[_name], "watching", _g.watching)
"""

POP_MODES = """
import torch as _torch
def _unguarded(compute):
    popped = []
    while _torch._C._len_torch_function_stack():
        popped.append(_torch._C._pop_torch_function_stack())
    with _torch._C.DisableTorchFunction(), _torch._C._DisableTorchDispatch():
        try:
            return compute()
        finally:
            for mode in reversed(popped):
                _torch._C._push_on_torch_function_stack(mode)
"""

IN_THREAD = """
import threading as _threading
def _in_thread(compute):
    out = []
    worker = _threading.Thread(target=lambda: out.append(compute()))
    worker.start()
    worker.join()
    return out[0]
"""

A4 = {
    "op objects": ("conv_forward", """
def conv2d_forward(x, w, b, stride=1, padding=0):
    out = torch.ops.aten.convolution.default(x, w, b, [stride] * 2, [padding] * 2, [1, 1], False, [0, 0], 1)
    return out, (x, w, b, stride, padding)
"""),
    "_C._nn": ("conv_forward", """
def conv2d_forward(x, w, b, stride=1, padding=0):
    out = torch._C._nn.thnn_conv2d(x, w, list(w.shape[2:]), b, [stride] * 2, [padding] * 2)
    return out, (x, w, b, stride, padding)
"""),
    "nn.grad": ("conv_backward", """
def conv2d_backward(dout, cache):
    x, w, b, stride, padding = cache
    dx = torch.nn.grad.conv2d_input(x.shape, w, dout, stride=stride, padding=padding)
    dw = torch.nn.grad.conv2d_weight(x, w.shape, dout, stride=stride, padding=padding)
    return dx, dw, dout.sum(dim=(0, 2, 3))
"""),
    "thread": ("conv_forward", IN_THREAD + """
def conv2d_forward(x, w, b, stride=1, padding=0):
    out = _in_thread(lambda: torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding))
    return out, (x, w, b, stride, padding)
"""),
    "modes switched off": ("conv_forward", """
def conv2d_forward(x, w, b, stride=1, padding=0):
    with torch._C.DisableTorchFunction():
        out = torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding)
    return out, (x, w, b, stride, padding)
"""),
    "guard patched": ("conv_forward", PATCH_GUARD + """
def conv2d_forward(x, w, b, stride=1, padding=0):
    out = torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding)
    return out, (x, w, b, stride, padding)
"""),
    "mode stack popped": ("conv_forward", POP_MODES + """
def conv2d_forward(x, w, b, stride=1, padding=0):
    out = _unguarded(lambda: torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding))
    return out, (x, w, b, stride, padding)
"""),
}

A3 = {
    "op objects": ("activations:tanh", """
def tanh_forward(x):
    out = torch.ops.aten.tanh.default(x)
    return out, out
"""),
    "_C._nn": ("activations:sigmoid", """
def sigmoid_forward(x):
    out = torch._C._nn.glu(torch.stack([torch.ones_like(x), x], -1), -1).squeeze(-1)  # 1 * sigmoid(x)
    return out, out
"""),
    "backward op": ("activations:tanh_backward", """
def tanh_backward(dout, cache):
    return torch.ops.aten.tanh_backward.default(dout, cache)
"""),
    "thread": ("softmax:softmax", IN_THREAD + """
def softmax(x, dim=-1):
    return _in_thread(lambda: torch.softmax(x, dim=dim))
"""),
    "modes switched off": ("activations:tanh", """
def tanh_forward(x):
    with torch._C.DisableTorchFunction():
        out = torch.tanh(x)
    return out, out
"""),
    "guard patched": ("activations:tanh", PATCH_GUARD + """
def tanh_forward(x):
    out = torch.tanh(x)
    return out, out
"""),
    "mode stack popped": ("softmax:softmax", POP_MODES + """
def softmax(x, dim=-1):
    return _unguarded(lambda: torch.ops.aten._softmax.default(x, dim if dim >= 0 else x.dim() + dim, False))
"""),
}

A5_FUNCTION = """
class TanhFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = {forward}
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return {backward}
"""
A5 = {
    "op objects": ("tanh", A5_FUNCTION.format(forward="torch.ops.aten.tanh.default(x)",
                                              backward="torch.ops.aten.tanh_backward.default(grad_out, y)")),
    "_C._nn": ("tanh", A5_FUNCTION.format(
        forward="2 * torch._C._nn.glu(torch.stack([torch.ones_like(x), 2 * x], -1), -1).squeeze(-1) - 1",
        backward="grad_out * (1 - y * y)")),
    "autograd in backward": ("tanh", """
class TanhFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        m = torch.expm1(-2.0 * x.abs())
        y = torch.where(x < 0, m / (2.0 + m), -m / (2.0 + m))
        ctx.save_for_backward(x)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        with torch.enable_grad():
            leaf = x.detach().requires_grad_()
            m = torch.expm1(-2.0 * leaf.abs())
            y = torch.where(leaf < 0, m / (2.0 + m), -m / (2.0 + m))
            return torch.autograd.grad(y, leaf, grad_out)[0]
"""),
    "guard's trap replaced": ("tanh", """
class TanhFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        m = torch.expm1(-2.0 * x.abs())
        y = torch.where(x < 0, m / (2.0 + m), -m / (2.0 + m))
        ctx.save_for_backward(x)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        import torch.fx.traceback as fxt
        (x,) = ctx.saved_tensors
        trap, fxt.format_stack = fxt.format_stack, lambda *a, **k: []
        try:
            with torch.enable_grad():
                leaf = x.detach().requires_grad_()
                m = torch.expm1(-2.0 * leaf.abs())
                y = torch.where(leaf < 0, m / (2.0 + m), -m / (2.0 + m))
                return torch.autograd.grad(y, leaf, grad_out)[0]
        finally:
            fxt.format_stack = trap
"""),
    "thread": ("tanh", IN_THREAD + A5_FUNCTION.format(forward="_in_thread(lambda: torch.tanh(x))",
                                                       backward="grad_out * (1 - y * y)")),
    "modes switched off": ("tanh", A5_FUNCTION.format(
        forward="torch.tanh(x) if not torch._C.DisableTorchFunction().__enter__() else None",
        backward="grad_out * (1 - y * y)")),
    "guard patched": ("tanh", PATCH_GUARD + A5_FUNCTION.format(forward="torch.tanh(x)",
                                                                backward="grad_out * (1 - y * y)")),
    "mode stack popped": ("tanh", POP_MODES + A5_FUNCTION.format(forward="_unguarded(lambda: torch.tanh(x))",
                                                                  backward="grad_out * (1 - y * y)")),
}

CASES = [("a4_conv", "conv.py", spelling, *case) for spelling, case in A4.items()] + \
        [("a3_torch_layers", "layers.py", spelling, *case) for spelling, case in A3.items()] + \
        [("a5_autograd", "functions.py", spelling, *case) for spelling, case in A5.items()]


@pytest.mark.parametrize("name, module, spelling, task, code", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_no_spelling_keeps_points_unflagged(name, module, spelling, task, code, load, make_submission):
    assignment = load(name)
    source = assignment.reference_source + "\n\n" + code
    result = engine.grade(assignment, make_submission("evader", {module: source}), "evader", devices={"cpu"})
    task, _, prefix = task.partition(":")  # "task:prefix": the tests of one function of the task
    tests = [t for t in result.tests if t.task == task and t.name.startswith(prefix)]
    assert tests and all(t.points == 0 for t in tests), [(t.name, t.points, t.message) for t in tests]
    for test in tests:
        refused = "which this task forbids" in test.message
        assert refused or (test.tampered and result.flagged), (test.name, test.message)
    if spelling in ("guard patched", "thread", "guard's trap replaced"):
        assert result.flagged, "importing the grader or starting a thread in a graded call is recorded"


def test_honest_code_is_never_flagged(load, make_submission):
    """numpy, loops, as_strided and einsum where they are allowed: full marks, no flag."""
    a4 = load("a4_conv")
    honest = a4.reference_source + '''

import numpy as np


def conv2d_forward(x, w, b, stride=1, padding=0):
    xp = torch.nn.functional.pad(x, (padding,) * 4)
    N, C, H, W = xp.shape
    F, _, KH, KW = w.shape
    Ho, Wo = (H - KH) // stride + 1, (W - KW) // stride + 1
    sN, sC, sH, sW = xp.stride()
    windows = xp.as_strided((N, C, Ho, Wo, KH, KW), (sN, sC, sH * stride, sW * stride, sH, sW))
    out = torch.einsum("nchwpq,fcpq->nfhw", windows, w) + b.view(1, -1, 1, 1)
    check = np.asarray(out.detach().cpu()).shape  # numpy is fine too
    assert check == tuple(out.shape)
    return out, (x, w, b, stride, padding)
'''
    result = engine.grade(a4, make_submission("honest", {"conv.py": honest}), "honest", devices={"cpu"})
    assert result.score == result.max_score and not result.flagged, [e.describe() for e in result.evidence]
