"""The grader's forbidden-API rules, for your public tests (pytest loads this conftest.py).

While a function of yours runs, the torch operators its task forbids are refused with the
message the grader gives, naming your line, so a forbidden call fails here first and not at
grading time. The grader enforces the same families of operators (at torch's dispatcher, in
every thread); this local copy watches with torch's modes, which is enough for your tests.
You do not need to edit this file (``nngrade release`` writes it; RULES lists what is
forbidden where).
"""
import contextlib
import importlib
import os
import re
import sys

import pytest

RULES = {"module": "", "forbidden": {}, "groups": {}}  # filled in by `nngrade release`
_AUTOGRAD_NAMES = {"backward", "grad", "requires_grad_", "vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"}
_HERE = os.path.dirname(os.path.abspath(__file__))


def _refusal(group, call):
    """The grader's words: called <call> at <file> line <n>, which this task forbids (<what>)."""
    what = RULES["groups"].get(group, {}).get("what", group)
    return f"called {call}{_student_line()}, which this task forbids ({what})"


def _student_line():
    frame = sys._getframe(1)
    tests = os.path.join(_HERE, "tests") + os.sep
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if filename.startswith(_HERE + os.sep) and not filename.startswith(tests) and filename != __file__:
            return f" at {os.path.relpath(filename, _HERE)} line {frame.f_lineno}"
        frame = frame.f_back
    return ""


def _matcher(groups):
    """name -> the first forbidden group whose family holds it (canonical base name)."""
    compiled = [(g, re.compile(RULES["groups"][g]["pattern"]),
                 re.compile(RULES["groups"][g]["exclude"]) if RULES["groups"][g].get("exclude") else None)
                for g in groups if g in RULES["groups"]]

    def match(name):
        base = name.split("::")[-1].split(".")[0]
        for group, pattern, exclude in compiled:
            if pattern.search(base) and not (exclude and exclude.search(base)):
                return group
        return None

    return match


@contextlib.contextmanager
def _guarded(groups):
    import torch
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    match = _matcher(groups)
    autograd = "autograd" in groups

    def records(args):
        return torch.is_grad_enabled() and any(
            isinstance(a, torch.Tensor) and a.requires_grad
            for arg in args for a in (arg if isinstance(arg, (list, tuple)) else (arg,)))

    class Functions(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            name = getattr(func, "__name__", "")
            group = match(name) or ("autograd" if autograd and (name in _AUTOGRAD_NAMES or records(args)) else None)
            if group:
                call = "an operation on a tensor that requires grad (autograd recording a graph)" \
                    if group == "autograd" and name not in _AUTOGRAD_NAMES else f"torch.ops.aten.{name.strip('_')}"
                pytest.fail(_refusal(group, call), pytrace=False)
            return func(*args, **(kwargs or {}))

    class Operators(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func._schema.name
            group = match(name)
            if group:
                namespace, _, base = name.partition("::")
                pytest.fail(_refusal(group, f"torch.ops.{namespace}.{base}"), pytrace=False)
            return func(*args, **(kwargs or {}))

    with Functions(), Operators():
        yield


def _wrap(function, groups):
    def guarded(*args, **kwargs):
        with _guarded(groups):
            return function(*args, **kwargs)

    guarded.__name__, guarded.__doc__, guarded.__wrapped__ = function.__name__, function.__doc__, function
    return guarded


def _install():
    """Wrap every function (and each autograd Function's forward and backward) that a task
    forbids something in, before the tests import them."""
    if not RULES["module"] or RULES["module"] in sys.modules:
        return
    try:
        module = importlib.import_module(RULES["module"])
    except Exception:  # noqa: BLE001 - the tests themselves will show why it does not import
        return
    for name, groups in RULES["forbidden"].items():
        target = getattr(module, name, None)
        if isinstance(target, type):
            for method in ("forward", "backward"):
                if method in vars(target):
                    setattr(target, method, staticmethod(_wrap(getattr(target, method), groups)))
        elif callable(target):
            setattr(module, name, _wrap(target, groups))


_install()
