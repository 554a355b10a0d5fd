"""Noticing a call that modified its inputs in place (the contract forbids it)."""
from __future__ import annotations

import inspect
import sys

import numpy as np


class watch:
    """Snapshot a call's array arguments; ``changed()`` names those that differ afterwards."""

    def __init__(self, function, args: tuple, kwargs: dict):
        self._labels = _argument_names(function, len(args)) + list(kwargs)
        self._values = list(args) + list(kwargs.values())
        self._before = [_snapshot(v) for v in self._values]

    def changed(self) -> list[str]:
        return [label for label, old, new in zip(self._labels, self._before, self._values)
                if not _same(old, new)]


def _argument_names(function, count: int) -> list[str]:
    names = _parameter_names(function)
    return [names[i] if i < len(names) else f"argument {i + 1}" for i in range(count)]


_NAMES: dict = {}  # function -> its parameters' names: inspect.signature costs more than most calls


def _parameter_names(function) -> tuple[str, ...]:
    try:
        return _NAMES[function]
    except (KeyError, TypeError):  # not seen yet, or unhashable
        pass
    try:
        names = tuple(p.name for p in inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        names = ()
    try:
        if len(_NAMES) < 4096:
            _NAMES[function] = names
    except TypeError:
        pass
    return names


def _snapshot(value):
    """A deep copy of the array parts of an argument, to notice in-place changes."""
    if isinstance(value, np.ndarray):
        return value.copy()
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_snapshot(v) for v in value)
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    return value


def _same(old, new) -> bool:
    if isinstance(old, np.ndarray):
        if not isinstance(new, np.ndarray) or old.shape != new.shape:
            return False
        # Identical bytes first (the usual case, and a tenth of array_equal's cost); values
        # equal otherwise (-0.0 for 0.0, another NaN) are not a change either.
        return (old.dtype == new.dtype and old.tobytes() == new.tobytes()) or np.array_equal(old, new, equal_nan=True)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(old, torch.Tensor):
        if not isinstance(new, torch.Tensor) or old.shape != new.shape:
            return False
        new = new.detach()
        return bool(torch.equal(old, new)) or bool(torch.equal(old.nan_to_num(), new.nan_to_num()))
    if isinstance(old, (list, tuple)):
        return isinstance(new, (list, tuple)) and len(old) == len(new) and all(map(_same, old, new))
    if isinstance(old, dict):
        return isinstance(new, dict) and old.keys() == new.keys() and all(_same(old[k], new[k]) for k in old)
    return True
