"""Forbidden APIs, refused at torch's dispatcher while the code under test runs.

A task in the manifest may forbid groups of torch operators (``forbidden = ["autograd",
"torch.conv"]``). A group is a *family* of operators found in torch's own operator registry
by canonical name (namespace and overload stripped), so ``convolution`` covers
``aten::convolution.default``, ``convolution_backward``, ``_convolution_mode``,
``thnn_conv2d``, ``cudnn_convolution_relu``, ``mkldnn::_convolution_pointwise`` and the rest.

Every operator of every family gets a kernel of ours at torch's dispatcher, for every
backend key it has a kernel for (``graders.integrity.dispatcher``): it looks up which groups are
forbidden *right now, process-wide*, refuses the call if its family is one of them, and
otherwise calls the kernel it replaced. So a forbidden operator fails whatever reached it:
``F.conv2d``, ``torch.ops.aten.convolution.default``, ``torch._C._nn.thnn_conv2d``,
``torch.nn.grad.conv2d_input``, a call from another thread, with torch's mode stack
switched off or popped. Autograd is refused as the creation of any autograd graph node (in
any thread), plus forward-mode AD's ``_make_dual``.

In a torch assignment's worker the kernels are registered in the zygote before the fork (a
NumPy assignment's workers have no guard: no torch), and the worker takes the only handle
on them (``graders.integrity.enforce.take()``) before the student's module is imported.
The first forbidden call raises ``ForbiddenCall`` (a ``BaseException``, so ``except
Exception`` does not swallow it) and is remembered, so a submission that catches it is
still refused.

Grepping the source cannot do this: ``getattr(torch, "con" + "v2d")`` reads as nothing. A
submission determined to dismantle the guard from inside its own process still may; what
that takes leaves evidence (``graders.integrity.tamper``, ``graders.integrity.scan``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

AUTOGRAD = "autograd"
RAW = "aten."  # a raw operator group: "aten.<name>", every overload of aten::<name>


@dataclass(frozen=True)
class Group:
    pattern: str  # regex matched against an operator's base name (no namespace, no overload)
    what: str  # for the student: what the group stands for
    exclude: str = ""  # base names that look alike but compute something else


# The families, by name: each regex is checked against the whole registry by tests, so a
# torch upgrade that adds a kernel (a new conv variant) is covered without editing this.
GROUPS: dict[str, Group] = {
    AUTOGRAD: Group(r"^_make_dual(_copy)?$", "autograd (torch computing the gradient for you)"),
    "torch.conv": Group(r"(^|_)q?conv(\d|_|olution|$)|^thnn_conv", "torch's convolution operators",
                        exclude=r"^_?convert"),
    "torch.unfold": Group(r"^(im2col|col2im|unfold|unfold_backward|unfold_copy)$",
                          "torch's unfold/fold (im2col) operators"),
    "torch.pool": Group(r"pool\dd", "torch's pooling operators"),
    "torch.tanh": Group(r"(^|_)tanh(_backward)?_?$", "torch's tanh"),
    # silu(x) / x, glu and softplus's derivative are sigmoid exactly; hardsigmoid is not.
    "torch.sigmoid": Group(r"sigmoid|expit|^silu|^glu(_|$)|^softplus_backward", "torch's sigmoid",
                           exclude=r"hardsigmoid"),
    # rrelu in eval mode and prelu with one weight are leaky ReLU.
    "torch.leaky_relu": Group(r"leaky_relu|rrelu|prelu", "torch's leaky ReLU"),
    "torch.softmax": Group(r"softmax", "torch's softmax and log-softmax"),
    "torch.cross_entropy": Group(r"cross_entropy|nll_loss", "torch's cross-entropy and NLL losses"),
    # Layer and group norm give batch norm on a transposed view, so they belong here too.
    "torch.batch_norm": Group(r"batch_norm|instance_norm|layer_norm|group_norm", "torch's batch norm"),
    "torch.dropout": Group(r"^_?(native_|feature_|alpha_|feature_alpha_|fused_)?dropout(_backward)?_?$"
                           r"|^_masked_scale$", "torch's dropout"),
}

# Namespaces of torch's own tests and debugging aids: nothing a submission computes with.
_SKIPPED_NAMESPACES = frozenset({"_test", "_inductor_test", "debug_mode_ops", "debugprims"})


def check_groups(groups, where: str) -> None:
    """Raise ``ValueError`` naming any group that is neither known nor a raw ``aten.<op>``
    torch has (a typo there would otherwise disable the guard without a word)."""
    for group in groups:
        if group in GROUPS:
            continue
        if not (isinstance(group, str) and group.startswith(RAW)):
            raise ValueError(f"{where}: unknown forbidden group {group!r}; known: "
                             f"{', '.join(sorted(GROUPS))}, or a raw operator as 'aten.<name>'")
        if not family(group):
            raise ValueError(f"{where}: forbidden group {group!r} names no operator torch has "
                             f"(aten::{group.removeprefix(RAW)} is not in torch's operator registry)")


def base_name(op: str) -> str:
    """``aten::conv2d.padding`` -> ``conv2d``."""
    return op.split("::", 1)[-1].split(".", 1)[0]


def family(group: str, names=None) -> tuple[str, ...]:
    """Every operator overload (``ns::name.overload``) of ``group`` in torch's registry."""
    if names is None:
        import torch

        names = torch._C._dispatch_get_all_op_names()
    if group.startswith(RAW):
        wanted = group.removeprefix(RAW)
        return tuple(sorted(n for n in names if n.startswith("aten::") and base_name(n) == wanted))
    spec = GROUPS[group]
    match, exclude = re.compile(spec.pattern).search, re.compile(spec.exclude).search if spec.exclude else None
    return tuple(sorted(n for n in names if n.split("::", 1)[0] not in _SKIPPED_NAMESPACES
                        and match(base_name(n)) and not (exclude and exclude(base_name(n)))))


def coverage(groups=None) -> dict[str, list[str]]:
    """Group -> the operators it covers, overloads collapsed (``ns::name``), for authors."""
    return {group: sorted({op.split(".", 1)[0] for op in family(group)}) for group in (groups or GROUPS)}


def describe(group: str) -> str:
    return GROUPS[group].what if group in GROUPS else f"torch's {group.removeprefix(RAW)}"


class ForbiddenCall(BaseException):
    """Raised inside the guarded code at its first forbidden call."""

    def __init__(self, group: str, call: str, where: str):
        self.group, self.call, self.where = group, call, where
        what = describe(group) if group != "guard" else "the grader's checks must stay in place"
        super().__init__(f"called {call}{where}, which this task forbids ({what})")


class Watch:
    violation: ForbiddenCall | None = None
