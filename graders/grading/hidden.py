"""What a hidden test file imports.

A hidden test is a function whose parameters are fixtures, resolved by name:

    impl    the implementation under test: the student's worker, the reference
            module, or a known-mistake variant. ``impl.linear_forward(x, W, b)``
            calls that function; a student's cache comes back as an opaque handle
            that is passed straight to their backward.
    rand    an ``Inputs`` seeded per (student, assignment, test, device).
    device  "cpu" or "cuda" (tests that take it run once per device in the manifest).

The body returns a dict of named results. The engine runs the same body against
the reference and compares every entry itself, so a test states *what to compute*,
not *how to compare*. Checks that are properties rather than equalities (dropout,
initialisers) are written in the body with ``check`` (stop here: what follows relies on
it) or ``expect`` (note the failure and go on, so that every failed property is
reported), and may name the mistake they detect.
"""
from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable

# At module level, not in ``outcome``: the nbgrader notebook runs this module's code with
# the graders imports replaced (graders/outputs/notebook.py), which it can do only here.
from graders.sandbox.protocol import StudentError


class Fail(AssertionError):
    """Property checks in a test body failed. ``failures`` holds each (message, mistake id
    or None) in the order they failed; ``message`` and ``mistake`` are the first's."""

    def __init__(self, message: str, mistake: str | None = None,
                 failures: list[tuple[str, str | None]] | None = None):
        # The same property failing again (in a loop over dtypes, say) is said once.
        self.failures = list(dict.fromkeys(failures or [(message, mistake)]))
        self.message = "\n".join(text for text, _ in self.failures)
        super().__init__(self.message)
        self.mistake = self.failures[0][1]

    @property
    def mistakes(self) -> list[str]:
        """Every mistake a failed property named, first seen first."""
        return list(dict.fromkeys(m for _, m in self.failures if m))


# The failures ``expect`` noted in the body running now (None outside a test body).
_noted: ContextVar[list | None] = ContextVar("nngrade_expectations", default=None)


def check(condition: Any, message: str, mistake: str | None = None) -> None:
    """Stop the test here if ``condition`` is false: what the body does next relies on it.
    Properties already noted by ``expect`` are reported with it (``run_body``)."""
    if not condition:
        raise Fail(message, mistake)


def expect(condition: Any, message: str, mistake: str | None = None) -> None:
    """Note a failed property and go on, so that one test reports every property it
    finds broken (kept with probability p *and* not scaled), not only the first."""
    if condition:
        return
    noted = _noted.get()
    if noted is None:  # called outside a test body (a helper's own test, say): plain check
        raise Fail(message, mistake)
    noted.append((message, mistake))


def run_body(body: Callable[..., Any], fixtures: dict) -> Any:
    """Run a test body; raise one ``Fail`` naming every property it found broken."""
    noted: list[tuple[str, str | None]] = []
    token = _noted.set(noted)
    try:
        value = body(**fixtures)
    except Fail as failure:
        if not noted:
            raise
        raise Fail(noted[0][0], noted[0][1], [*noted, *failure.failures]) from None
    finally:
        _noted.reset(token)
    if noted:
        raise Fail(noted[0][0], noted[0][1], noted)
    return value


@dataclass(frozen=True)
class TestSpec:
    name: str
    task: str
    weight: float
    body: Callable[..., Any]
    rtol: float | None = None
    atol: float | None = None
    params: tuple[str, ...] = field(default=())


def hidden_test(task: str, weight: float = 1.0, rtol: float | None = None,
                atol: float | None = None):
    """Register a hidden test for ``task``; the task's points are shared by weight."""
    import inspect

    def register(body):
        body.__nngrade_test__ = TestSpec(
            name=body.__name__, task=task, weight=weight, body=body, rtol=rtol,
            atol=atol, params=tuple(inspect.signature(body).parameters))
        return body

    return register


@dataclass
class Outcome:
    """What a call did, for tests about errors: a value, or the name of what it raised.

    ``kinds`` names the raised exception's class and every class it derives from
    (``exception_kinds``), so that a subclass of the expected exception counts as it."""

    value: Any = None
    error: str | None = None
    message: str = ""
    kinds: tuple[str, ...] = ()

    def raised(self, name: str) -> bool:
        """Whether the call raised ``name`` or a subclass of it: "ValueError",
        "builtins.ValueError" and "numpy.exceptions.AxisError" all work."""
        return self.error is not None and (name in self.kinds or f"builtins.{name}" in self.kinds
                                           or (not self.kinds and name == self.error))


def exception_kinds(kind: type) -> tuple[str, ...]:
    """``module.QualifiedName`` of an exception class and of each class in its MRO: what
    the worker sends instead of the exception (which never crosses), and what the trusted
    side computes for the reference. A class the student wrote is named by their module,
    so their own ``class ValueError(Exception)`` is not ``builtins.ValueError``."""
    return tuple(f"{c.__module__}.{c.__qualname__}" for c in kind.__mro__ if c is not object)


def outcome(function: Callable, *args, **kwargs) -> Outcome:
    """Call ``function`` and record a raised exception instead of propagating it.

    Works the same for the reference (a real exception) and the student's worker
    (a ``StudentError`` carrying the remote exception's type name and class names).
    """
    try:
        return Outcome(value=function(*args, **kwargs))
    except StudentError as error:
        return Outcome(error=error.type_name, message=error.message, kinds=error.kinds)
    except Exception as error:  # the reference or a mistake variant raised
        return Outcome(error=type(error).__name__, message=str(error), kinds=exception_kinds(type(error)))


SEED_SECRET_VARIABLE = "NNGRADE_SEED_SECRET"


def seed_secret() -> str:
    """An optional course secret mixed into every seed, so that knowing a classmate's
    identity (or this code) is not enough to recompute their hidden inputs."""
    import os

    return os.environ.get(SEED_SECRET_VARIABLE, "")


def derive_seed(*parts: str) -> int:
    digest = hashlib.sha256("\x1f".join((seed_secret(), *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


class Inputs:
    """Random test inputs; the same seed gives the same numbers on every run."""

    def __init__(self, seed: int, device: str = "cpu"):
        import numpy as np

        self.seed = seed
        self.device = device
        self._np = np.random.default_rng(seed)

    def normal(self, *shape: int, scale: float = 1.0, dtype="float64"):
        return (self._np.standard_normal(shape) * scale).astype(dtype)

    def uniform(self, low: float, high: float, *shape: int, dtype="float64"):
        return self._np.uniform(low, high, shape).astype(dtype)

    def integers(self, low: int, high: int, *shape: int, dtype="int64"):
        return self._np.integers(low, high, shape).astype(dtype)

    def numpy_rng(self):
        """A fresh ``numpy.random.Generator``; the student's copy starts in the same state."""
        import numpy as np

        return np.random.default_rng(int(self._np.integers(0, 2**63)))

    def tensor(self, *shape: int, scale: float = 1.0, dtype=None, device: str | None = None):
        import torch

        dtype = dtype or torch.float64
        values = self._np.standard_normal(shape) * scale
        return torch.tensor(values, dtype=dtype, device=device or self.device)

    def torch_generator(self, device: str | None = None):
        import torch

        generator = torch.Generator(device=device or self.device)
        generator.manual_seed(int(self._np.integers(0, 2**63)))
        return generator


def mutation_failure(function: str, arguments: list[str]) -> Fail:
    """The one wording for an in-place change, used for students and mistakes alike."""
    which = ", ".join(arguments)
    return Fail(f"{function}() modified its input {which} in place; inputs must be left "
                "unchanged (compute on a copy or build new arrays)")
