"""Known mistakes and correct variants: small alternative implementations of one function.

``assignments/<name>/mistakes.py`` holds wrong implementations, each naming the function it
replaces and a plain-words explanation for the student. ``assignments/<name>/variants.py``
holds correct implementations written differently (loops, einsum, another use of the RNG):
``nngrade validate`` requires every mistake to lose points and be diagnosed, and every
variant to keep full marks.

Each entry is executed *inside a copy of the reference module*, so it may use the
reference's imports, helpers and cache layout.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    id: str
    target: str
    explanation: str
    source: str


def _register(kind: str, target: str, explanation: str):
    def decorate(function):
        function.__nngrade_catalog__ = (kind, target, explanation)
        return function

    return decorate


def mistake(target: str, explanation: str):
    """Mark ``function`` as a known wrong implementation of ``target``."""
    return _register("mistake", target, explanation)


def variant(target: str, explanation: str = ""):
    """Mark ``function`` as a correct alternative implementation of ``target``."""
    return _register("variant", target, explanation)
