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
initialisers) are written in the body with ``check`` and may name the mistake
they detect.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable


class Fail(AssertionError):
    """A property check in a test body failed; ``mistake`` names a catalogued mistake."""

    def __init__(self, message: str, mistake: str | None = None):
        super().__init__(message)
        self.message = message
        self.mistake = mistake


def check(condition: Any, message: str, mistake: str | None = None) -> None:
    if not condition:
        raise Fail(message, mistake)


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
    """What a call did, for tests about errors: a value, or the name of what it raised."""

    value: Any = None
    error: str | None = None
    message: str = ""


def outcome(function: Callable, *args, **kwargs) -> Outcome:
    """Call ``function`` and record a raised exception instead of propagating it.

    Works the same for the reference (a real exception) and the student's worker
    (a ``StudentError`` carrying the remote exception's type name).
    """
    from graders.protocol import StudentError

    try:
        return Outcome(value=function(*args, **kwargs))
    except StudentError as error:
        return Outcome(error=error.type_name, message=error.message)
    except Exception as error:  # the reference or a mistake variant raised
        return Outcome(error=type(error).__name__, message=str(error))


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
