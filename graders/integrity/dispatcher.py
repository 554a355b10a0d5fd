"""The mechanism behind ``graders.integrity.guard``: our kernels at torch's dispatcher, and a trap for
autograd graph nodes.

For each operator overload of a family and each runtime dispatch key it has a kernel for,
we register a kernel that reads which groups are forbidden now (one object shared by every
thread of the process, unlike torch's modes, which are thread-local) and either refuses
the call or calls the kernel it replaced, taken from the dispatcher before any
registration. Backend keys (CPU, CUDA, their quantized, sparse and nested variants) are
enough for an operator with kernels of its own: its autograd kernel ends there too. A
composite operator (``dropout`` on CPU decomposes into ``bernoulli_`` and ``mul``, which no
family holds) is also taken at its autograd keys, so that it is refused whatever it
decomposes into.

Autograd has no single operator: every graph node, made by any operator in any thread, is
the sign. With anomaly mode on (a process-wide switch), torch asks
``torch.fx.traceback.format_stack`` for a stack at every node it creates; while autograd is
forbidden that is our function, which refuses when grad mode is on in the calling thread.

Nothing here keeps the state in a module global: the kernels close over it, and the one
``Fence`` object that sets it is held by ``graders.integrity.enforce`` in the trusted process, or by the
worker's own stack frame in a worker.
"""
from __future__ import annotations

import contextlib
import os
import sys
import warnings

from graders.integrity import guard
from graders.integrity.guard import AUTOGRAD, ForbiddenCall, Watch

_COMPONENTS = ("CPU", "CUDA", "HIP", "XLA", "MPS", "IPU", "XPU", "HPU", "VE", "Lazy", "MTIA", "MAIA",
               "PrivateUse1")
_FUNCTIONALITIES = ("", "Quantized", "Sparse", "SparseCsr", "NestedTensor")
_EXTRA_BACKENDS = ("MkldnnCPU",)
_AUTOGRAD_EXTRA = ("AutogradOther", "AutogradNestedTensor")
AUTOGRAD_CALL = "an operation on a tensor that requires grad (autograd recording a graph)"


class _State:
    """What the kernels read on every call; one per process."""

    __slots__ = ("blocked", "watch", "source_dirs", "autograd", "report", "depth")

    def __init__(self):
        self.blocked: frozenset = frozenset()
        self.watch = Watch()
        self.source_dirs: tuple[str, ...] = ()
        self.autograd = False
        self.report = None  # called with (what, frame) when the guard itself is touched
        self.depth = 0  # nested watching() share the outermost watch: a refusal is never lost

    def refuse(self, group: str, call: str):
        watch = self.watch
        if watch.violation is None:
            # Remember first, name the line second: refused it is, whatever happens next.
            watch.violation = ForbiddenCall(group, call, "")
            try:
                watch.violation = ForbiddenCall(group, call, _student_line(self.source_dirs))
            except BaseException:  # noqa: BLE001 - a patched os.path must not undo a refusal
                pass
        violation = watch.violation
        raise ForbiddenCall(violation.group, violation.call, violation.where)


class Fence:
    """Owns the registrations; ``watching(groups)`` forbids groups for a while."""

    def __init__(self):
        import torch

        C = torch._C
        # Taken now, before student code could replace them at torch's module level.
        self._library = C._dispatch_library
        self._computed = C._dispatch_get_computed_kernel_for_dispatch_key
        self._has_computed = C._dispatch_has_computed_kernel_for_dispatch_key
        self._has_kernel = C._dispatch_has_kernel_for_dispatch_key
        self._is_fallthrough = C._dispatch_kernel_for_dispatch_key_is_fallthrough
        self._state = _State()
        self._libraries: dict[str, object] = {}
        self._groups_of: dict[str, set] = {}  # op -> its groups (a set the kernels read)
        self.registered: dict[str, tuple[str, ...]] = {}  # op -> keys we took (none: it has no kernel)
        backends = [f + c for c in _COMPONENTS for f in _FUNCTIONALITIES] + list(_EXTRA_BACKENDS)
        autograd = [f"Autograd{c}" for c in _COMPONENTS] + list(_AUTOGRAD_EXTRA)
        self._backend_keys = [k for k in backends if _parses(C, k)]
        self.keys = tuple(self._backend_keys)
        self._autograd_keys = [k for k in autograd if _parses(C, k)]
        self.keys += tuple(self._autograd_keys)  # every runtime key the guard may take
        self._install_autograd_trap(torch)

    # ----------------------------------------------------------------- registration

    def cover(self, group: str, ops) -> None:
        """Refuse every operator overload in ``ops`` while ``group`` is forbidden."""
        pending = []
        for op in ops:
            if op in self._groups_of:
                self._groups_of[op].add(group)
                continue
            keys = self._keys_for(op, group)
            # Every original first: registering a backend kernel changes what a composite
            # operator's autograd key computes to.
            pending.append((op, {key: self._computed(op, key) for key in keys}))
        state = self._state
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "overriding a previously registered kernel": we mean to
            for op, originals in pending:
                namespace, name = op.split("::", 1)
                library = self._libraries.get(namespace)
                if library is None:
                    library = self._libraries[namespace] = self._library("IMPL", namespace, "", "", 0)
                groups = self._groups_of[op] = {group}
                call = _python_spelling(namespace, name)
                for key, original in originals.items():
                    library.impl(name, key, _kernel(state, groups, original, call, op), True)
                self.registered[op] = tuple(originals)

    def _keys_for(self, op: str, group: str) -> list[str]:
        composite = any(self._has_kernel(op, k) for k in ("CompositeImplicitAutograd",
                                                           "CompositeImplicitAutogradNestedTensor"))
        keys = list(self._backend_keys)
        if composite or group == AUTOGRAD:  # forward AD's kernels sit at the autograd keys
            keys += self._autograd_keys
        return [k for k in keys if self._has_computed(op, k)
                and not (self._has_kernel(op, k) and self._is_fallthrough(op, k))]

    # ----------------------------------------------------------------- autograd

    def _install_autograd_trap(self, torch) -> None:
        import torch.fx.traceback as fx_traceback

        state, C = self._state, torch._C
        grad_enabled, original_stack = C.is_grad_enabled, fx_traceback.format_stack
        set_anomaly, self._anomaly_enabled = C.set_anomaly_enabled, C.is_anomaly_enabled
        self._anomaly_check_nan = C.is_anomaly_check_nan_enabled
        self._set_anomaly = set_anomaly

        def format_stack(*args, **kwargs):
            if state.autograd:
                # A node made with grad mode off is Function.apply under no_grad: no graph.
                if grad_enabled():
                    state.refuse(AUTOGRAD, AUTOGRAD_CALL)
                return []
            return original_stack(*args, **kwargs)

        def set_anomaly_enabled(enabled, check_nan=True):
            if state.autograd and not enabled:
                if state.report is not None:
                    state.report("switched off autograd anomaly mode, which the grader's guard uses",
                                 sys._getframe(1))
                state.refuse(AUTOGRAD, "switching off autograd anomaly mode")
            return set_anomaly(enabled, check_nan)

        fx_traceback.format_stack = format_stack
        C.set_anomaly_enabled = torch.set_anomaly_enabled = set_anomaly_enabled

        class Watched(type(fx_traceback)):
            """torch.fx.traceback, telling whoever replaces the trap (torch itself never does)."""

            def __setattr__(self, name, value):
                if name == "format_stack" and state.report is not None:
                    state.report("replaced torch.fx.traceback.format_stack, which the grader's guard uses",
                                 sys._getframe(1))
                super().__setattr__(name, value)

            def __delattr__(self, name):
                if name == "format_stack" and state.report is not None:
                    state.report("deleted torch.fx.traceback.format_stack, which the grader's guard uses",
                                 sys._getframe(1))
                super().__delattr__(name)

        fx_traceback.__class__ = Watched
        self._fx_traceback, self._trap, self._switch = fx_traceback, format_stack, set_anomaly_enabled
        self._C, self._torch = C, torch

    # ----------------------------------------------------------------- guarding

    def set_reporter(self, report) -> None:
        """``report(what, frame)`` is told when code touches the guard's own switches."""
        self._state.report = report

    def blocked_now(self) -> frozenset:
        return self._state.blocked

    @contextlib.contextmanager
    def watching(self, groups, source_dirs=()):
        # Entered even when nothing is forbidden: a guard nested inside (an autograd probe's
        # forward and backward) must report to this call's watch.
        for group in groups:
            if group.startswith(guard.RAW) and not any(group in g for g in self._groups_of.values()):
                self.cover(group, guard.family(group))
        state = self._state
        saved = (state.blocked, state.watch, state.source_dirs, state.autograd)
        watch = state.watch if state.depth else Watch()
        # The watch first: a kernel that sees a group blocked must find the watch it fills.
        state.watch = watch
        state.depth += 1
        state.source_dirs = tuple(os.path.abspath(d) + os.sep for d in source_dirs) or saved[2]
        trap = AUTOGRAD in groups and not state.autograd
        anomaly = (self._anomaly_enabled(), self._anomaly_check_nan()) if trap else None
        if trap:
            self._set_anomaly(True, False)
            state.autograd = True
        state.blocked = frozenset(groups)
        try:
            yield watch
        finally:
            broken = self._broken(trap)
            state.blocked, state.watch, state.source_dirs, state.autograd = saved
            state.depth -= 1
            if trap:
                self._set_anomaly(*anomaly)
            if broken:
                if state.report is not None:
                    state.report(broken, None)
                if watch.violation is None:
                    watch.violation = ForbiddenCall("guard", f"code that {broken}", "")

    def _broken(self, trap: bool) -> str:
        """What the guarded code changed of the guard's own switches, if anything."""
        if self._fx_traceback.format_stack is not self._trap or self._C.set_anomaly_enabled is not self._switch:
            return "replaced functions the grader's guard relies on"
        if trap and not self._anomaly_enabled():
            return "switched off autograd anomaly mode, which the grader's guard uses"
        return ""


def _kernel(state: _State, groups: set, original, call: str, op: str):
    def kernel(keyset, *args, **kwargs):
        blocked = state.blocked
        if blocked:
            for group in groups:
                if group in blocked:
                    state.refuse(group, call)
        try:
            return original.call_boxed(keyset, *args, **kwargs)
        except RuntimeError:
            rewrapped = _rewrapped(op, args)
            if rewrapped is None:
                raise
            return original.call_boxed(keyset, *rewrapped, **kwargs)

    return kernel


def _rewrapped(op: str, args: tuple):
    """``x * 2`` reaches a Python kernel with the 2 as a number where the schema says Tensor
    (torch had wrapped it in a tensor); wrap it again, or None if that is not the problem."""
    import torch

    namespace, rest = op.split("::", 1)
    name, _, overload = rest.partition(".")
    schema = getattr(getattr(getattr(torch.ops, namespace), name), overload or "default")._schema
    slots = [str(a.type) == "Tensor" for a in schema.arguments]
    if not any(slot and isinstance(arg, (bool, int, float, complex)) for slot, arg in zip(slots, args)):
        return None
    tensors = [a for a in args if isinstance(a, torch.Tensor)]

    def wrapped(number):
        # A wrapped number keeps double precision and takes the other operand's dtype: a
        # 0-dim tensor of that dtype does the same (of the default dtype beside integers).
        if isinstance(number, bool) or isinstance(number, int):
            return torch.tensor(number)
        kind = torch.is_complex if isinstance(number, complex) else torch.is_floating_point
        like = next((t.dtype for t in tensors if kind(t)), None)
        if like is None:
            like = torch.get_default_dtype() if kind is torch.is_floating_point else torch.complex64
        return torch.tensor(number, dtype=like)

    return tuple(wrapped(arg) if slot and isinstance(arg, (bool, int, float, complex)) else arg
                 for slot, arg in zip(slots + [False] * len(args), args))


def _python_spelling(namespace: str, name: str) -> str:
    """``aten``, ``conv2d.padding`` -> ``torch.ops.aten.conv2d``: what a student can look up."""
    return f"torch.ops.{namespace}.{name.split('.', 1)[0]}"


def _parses(C, key: str) -> bool:
    try:
        C._dispatch_key_parse(key)
        return True
    except RuntimeError:
        return False


def _student_line(source_dirs: tuple[str, ...]) -> str:
    frame = sys._getframe(2)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        folder = next((d for d in source_dirs if filename.startswith(d)), None)
        if folder is not None:
            return f" at {filename[len(folder):]} line {frame.f_lineno}"
        frame = frame.f_back
    return ""
