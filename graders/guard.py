"""Forbidden APIs, refused while the code under test runs.

A task in the manifest may forbid groups of torch APIs (``forbidden = ["autograd",
"torch.conv"]``). While a function of that task runs, torch modes watch every call:

- a ``TorchFunctionMode`` sees the Python-level call (``F.conv2d``, ``x.tanh()``,
  ``torch.nn.functional.dropout``, ``y.backward()``) however it was reached: an alias, a
  method, ``torch._C._nn``, ``torch.ops.aten``; and autograd in use: any call on a tensor
  that requires grad while grad mode is on;
- with ``deep=True`` (raw ``aten.<op>`` groups, and probes that run the student's code
  inside autograd's own engine, where function modes do not follow), a
  ``TorchDispatchMode`` also sees the aten operator underneath (``aten.convolution``).
  It is not the default: it makes every torch call about 5x slower, the function mode
  about 1.7x.

The first forbidden call raises ``ForbiddenCall`` (a ``BaseException``, so ``except
Exception`` does not swallow it) and is remembered, so a submission that catches it
anyway is still refused. The same guard wraps the reference and the catalog entries in
the trusted process, which proves the reference itself keeps the rules.

Grepping the source cannot do this: ``getattr(torch, "con" + "v2d")`` reads as nothing.
The guard is in-process, so a submission determined to dismantle it can (it runs in the
same interpreter); ``watching()`` checks afterwards that both modes are still in place.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

AUTOGRAD = "autograd"


@dataclass(frozen=True)
class Group:
    names: frozenset[str]  # Python-level function names (``__name__``)
    ops: frozenset[str]  # aten operator names, without ``aten::`` and overload
    what: str  # for the student: what the group stands for


def _group(names: str, ops: str, what: str) -> Group:
    return Group(frozenset(names.split()), frozenset(ops.split()), what)


_POOLS = ("max_pool1d max_pool2d max_pool3d max_pool1d_with_indices max_pool2d_with_indices "
          "max_pool3d_with_indices avg_pool1d avg_pool2d avg_pool3d adaptive_max_pool1d "
          "adaptive_max_pool2d adaptive_max_pool3d adaptive_avg_pool1d adaptive_avg_pool2d "
          "adaptive_avg_pool3d lp_pool1d lp_pool2d lp_pool3d max_unpool1d max_unpool2d max_unpool3d "
          "fractional_max_pool2d fractional_max_pool3d mkldnn_max_pool2d quantized_max_pool2d")

GROUPS: dict[str, Group] = {
    AUTOGRAD: _group("backward grad requires_grad_ vjp jvp jacobian hessian vhp hvp", "",
                     "autograd (torch computing the gradient for you)"),
    "torch.conv": _group(
        "conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d convolution "
        "_convolution conv_tbc cudnn_convolution mkldnn_convolution",
        "convolution _convolution conv1d conv2d conv3d convolution_backward cudnn_convolution "
        "cudnn_convolution_transpose mkldnn_convolution miopen_convolution _slow_conv2d_forward "
        "slow_conv3d_forward slow_conv_dilated2d slow_conv_transpose2d _conv_depthwise2d "
        "thnn_conv2d conv_tbc _nnpack_spatial_convolution",
        "torch's convolution operators"),
    "torch.unfold": _group("unfold fold im2col col2im", "unfold im2col col2im unfold_backward",
                           "torch's unfold/fold (im2col) operators"),
    "torch.pool": _group(_POOLS, _POOLS + " max_pool2d_with_indices_backward max_pool3d_with_indices_backward "
                         "avg_pool2d_backward avg_pool3d_backward",
                         "torch's pooling operators"),
    "torch.tanh": _group("tanh tanh_", "tanh tanh_ tanh_backward", "torch's tanh"),
    "torch.sigmoid": _group("sigmoid sigmoid_ expit special_expit logsigmoid log_sigmoid", "sigmoid sigmoid_ sigmoid_backward "
                            "log_sigmoid_forward log_sigmoid_backward", "torch's sigmoid"),
    "torch.leaky_relu": _group("leaky_relu leaky_relu_", "leaky_relu leaky_relu_ leaky_relu_backward",
                               "torch's leaky ReLU"),
    "torch.softmax": _group("softmax log_softmax _softmax _log_softmax softmin special_softmax special_log_softmax",
                            "softmax log_softmax _softmax _log_softmax _safe_softmax "
                            "_softmax_backward_data _log_softmax_backward_data",
                            "torch's softmax and log-softmax"),
    "torch.cross_entropy": _group("cross_entropy nll_loss nll_loss2d nll_loss_nd",
                                  "cross_entropy_loss nll_loss nll_loss_nd nll_loss_forward nll_loss2d "
                                  "nll_loss2d_forward nll_loss_backward nll_loss2d_backward",
                                  "torch's cross-entropy and NLL losses"),
    "torch.batch_norm": _group("batch_norm native_batch_norm _native_batch_norm_legit instance_norm",
                               "batch_norm native_batch_norm _native_batch_norm_legit "
                               "_native_batch_norm_legit_no_training _native_batch_norm_legit_functional "
                               "_batch_norm_impl_index _batch_norm_with_update _batch_norm_no_update "
                               "cudnn_batch_norm miopen_batch_norm native_batch_norm_backward "
                               "batch_norm_backward instance_norm",
                               "torch's batch norm"),
    "torch.dropout": _group("dropout dropout_ alpha_dropout feature_alpha_dropout dropout1d dropout2d "
                            "dropout3d feature_dropout native_dropout",
                            "dropout native_dropout native_dropout_backward feature_dropout alpha_dropout",
                            "torch's dropout"),
}


def check_groups(groups, where: str) -> None:
    """Raise ``ValueError`` naming any group that is neither known nor a raw ``aten.<op>``."""
    for group in groups:
        if group not in GROUPS and not (isinstance(group, str) and group.startswith("aten.")):
            raise ValueError(f"{where}: unknown forbidden group {group!r}; known: "
                             f"{', '.join(sorted(GROUPS))}, or a raw operator as 'aten.<name>'")


class ForbiddenCall(BaseException):
    """Raised inside the guarded code at its first forbidden call."""

    def __init__(self, group: str, call: str, where: str):
        self.group, self.call, self.where = group, call, where
        what = GROUPS[group].what if group in GROUPS else group
        super().__init__(f"called {call}{where}, which this task forbids ({what})")


def watching(groups, source_dirs=(), deep: bool = False):
    """A context manager enforcing ``groups`` on everything run inside it.

    Yields a ``Watch`` whose ``violation`` holds the first ``ForbiddenCall`` (caught or not).
    ``source_dirs`` are where the code under test lives, to name its line in messages.
    """
    groups = tuple(groups)
    if not groups:
        return contextlib.nullcontext(Watch())
    deep = deep or any(g.startswith("aten.") for g in groups)
    key = (groups, tuple(os.path.abspath(d) + os.sep for d in source_dirs), deep)
    if key not in _GUARDS:  # mode classes are built once per rule set, not per call
        _GUARDS[key] = _Guarded(*key)
    return _GUARDS[key].context()


_GUARDS: dict[tuple, "_Guarded"] = {}


class Watch:
    violation: ForbiddenCall | None = None


class _Guarded:
    def __init__(self, groups: tuple[str, ...], source_dirs: tuple[str, ...], deep: bool):
        import torch
        from torch.overrides import TorchFunctionMode
        from torch.utils._python_dispatch import TorchDispatchMode

        names = {name: g for g in groups if g in GROUPS for name in GROUPS[g].names}
        ops = {op: g for g in groups if g in GROUPS for op in GROUPS[g].ops}
        ops.update({g.removeprefix("aten."): g for g in groups if g.startswith("aten.")})
        check_autograd = AUTOGRAD in groups
        guard = self

        class FunctionGuard(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                group = names.get(getattr(func, "__name__", ""))
                if group is not None:
                    guard.refuse(group, _python_name(func))
                if check_autograd:
                    guard.refuse_if_recording(torch, _python_name(func), args)
                return func(*args, **(kwargs or {}))

        class DispatchGuard(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                name = func._schema.name.removeprefix("aten::")
                group = ops.get(name)
                if group is not None:
                    guard.refuse(group, f"torch.ops.aten.{name}")
                if check_autograd:
                    guard.refuse_if_recording(torch, f"aten.{name}", args)
                return func(*args, **(kwargs or {}))

        self.modes = (FunctionGuard(), DispatchGuard()) if deep else (FunctionGuard(),)
        self.source_dirs = source_dirs
        self.watch = Watch()

    def refuse(self, group: str, call: str) -> None:
        if self.watch.violation is None:
            self.watch.violation = ForbiddenCall(group, call, self._student_line())
        raise ForbiddenCall(self.watch.violation.group, self.watch.violation.call, self.watch.violation.where)

    def refuse_if_recording(self, torch, call: str, args) -> None:
        """Refuse autograd: ``call`` got a tensor that requires grad while grad mode is on."""
        if torch.is_grad_enabled() and _records_grad(torch, args):
            self.refuse(AUTOGRAD, f"{call} on a tensor that requires grad (autograd recording)")

    def _student_line(self) -> str:
        frame = sys._getframe(2)
        while frame is not None:
            filename = os.path.abspath(frame.f_code.co_filename)
            folder = next((d for d in self.source_dirs if filename.startswith(d)), None)
            if folder is not None:
                return f" at {filename[len(folder):]} line {frame.f_lineno}"
            frame = frame.f_back
        return ""

    @contextlib.contextmanager
    def context(self):
        self.watch = watch = Watch()
        with contextlib.ExitStack() as stack:
            for mode in self.modes:
                stack.enter_context(mode)
            yield watch
            intact = _modes_active(self.modes)
        if not intact and watch.violation is None:
            watch.violation = ForbiddenCall("guard", "code that switched off the grader's API guard", "")


def _modes_active(modes) -> bool:
    from torch.overrides import _get_current_function_mode_stack
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

    active = [*_get_current_function_mode_stack(), *_get_current_dispatch_mode_stack()]
    return all(any(m is mode for m in active) for mode in modes)


def _records_grad(torch, args) -> bool:
    """Whether any tensor among ``args`` (or in a list/tuple among them) requires grad."""
    for arg in args:
        if isinstance(arg, torch.Tensor):
            if arg.requires_grad:
                return True
        elif isinstance(arg, (list, tuple)):
            if any(isinstance(a, torch.Tensor) and a.requires_grad for a in arg):
                return True
    return False


def _python_name(func) -> str:
    name = getattr(func, "__name__", repr(func))
    module = getattr(func, "__module__", None) or ""
    qualname = getattr(func, "__qualname__", name)
    if qualname.startswith(("TensorBase.", "Tensor.")) or module == "torch._tensor":
        return f"Tensor.{name}"
    if module in ("torch", "torch._C._VariableFunctions") or "_VariableFunctions" in qualname:
        return f"torch.{name}"
    if module.startswith("torch"):
        return f"{module.replace('torch._ops', 'torch.ops')}.{name}"
    return name
