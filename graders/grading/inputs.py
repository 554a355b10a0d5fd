"""What a hidden test sent to the student's code, for feedback under the reveal policy.

``Recorder`` wraps the ``impl`` fixture and notes every call; ``describe`` turns a value
into one line: its kind, dtype and shape (``reveal = "messages"``), and with
``full=True`` its values too (``reveal = "inputs"``). Nothing here runs student code.
"""
from __future__ import annotations

MAX_CALLS = 6  # calls described per test; the rest are counted
MAX_ITEMS = 8  # entries of a list, tuple or dict described
MAX_VALUE_CHARS = 4000  # one value printed in full, at most


NOT_IMPLEMENTED = ("NotImplementedError", "MissingFunction")
FAILED_MARK = "  <- this call failed"


class Recorder:
    """A transparent proxy for ``impl`` that records each call's function, arguments and
    what it returned or raised."""

    def __init__(self, impl):
        self._impl = impl
        self.calls: list[tuple[str, tuple, dict]] = []
        self.results: list[object] = []  # per call: what it returned, or the exception it raised
        self.functions: set[str] = set()  # the student's functions the test called
        self.unimplemented: list[str] = []  # functions that raised NotImplementedError (or are missing)

    def probe(self, kind: str, target: str, *args):
        self.functions.add(target)
        return self._record(f"{target} ({kind} check)", target, lambda: self._impl.probe(kind, target, *args), args, {})

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        function = getattr(self._impl, name)

        def call(*args, **kwargs):
            self.functions.add(name)
            return self._record(name, name, lambda: function(*args, **kwargs), args, kwargs)

        call.__name__ = name
        return call

    def _record(self, label: str, function: str, run, args, kwargs):
        self.calls.append((label, args, kwargs))
        self.results.append(None)
        try:
            value = run()
        except Exception as error:
            self.results[-1] = error
            if getattr(error, "type_name", None) in NOT_IMPLEMENTED and function not in self.unimplemented:
                self.unimplemented.append(function)
            raise
        self.results[-1] = value
        return value

    def failing_calls(self, culprits=(), raised: bool = False) -> list[int]:
        """The calls behind a failure: those whose result holds one of ``culprits`` (values
        that differed, matched by identity), or with ``raised`` the last call that raised."""
        if raised:
            errors = [i for i, r in enumerate(self.results) if isinstance(r, BaseException)]
            return errors[-1:]
        wanted = {id(c) for c in culprits if not isinstance(c, _AMBIGUOUS)}
        return [i for i, result in enumerate(self.results) if wanted and _holds(result, wanted)]

    def summary(self, full: bool = False, first=()) -> list[str]:
        """One line per call, naming each argument's kind (and value when ``full``), the
        calls ``first`` (those that failed) leading and marked; repeated lines are counted,
        and past ``MAX_CALLS`` lines the rest only counted."""
        leading = [i for i in dict.fromkeys(first) if 0 <= i < len(self.calls)]
        order = leading + [i for i in range(len(self.calls)) if i not in leading]
        groups: list[list] = []  # [line, times]
        for position, index in enumerate(order):
            name, args, kwargs = self.calls[index]
            line = _call_line(name, args, kwargs, full) + (FAILED_MARK if index in leading else "")
            if groups and groups[-1][0] == line:
                groups[-1][1] += 1
                continue
            if len(groups) == MAX_CALLS:
                groups.append([f"... and {len(order) - position} more call(s)", 1])
                break
            groups.append([line, 1])
        return [line if times == 1 else f"{line}  (x{times})" for line, times in groups]


# Small ints, booleans, strings and None are shared objects: identity cannot tell whose they are.
_AMBIGUOUS = (bool, int, str, type(None))


def _holds(value, ids: set[int], depth: int = 0) -> bool:
    if id(value) in ids:
        return True
    if depth < 4 and isinstance(value, (tuple, list)):
        return any(_holds(v, ids, depth + 1) for v in value)
    if depth < 4 and isinstance(value, dict):
        return any(_holds(v, ids, depth + 1) for v in value.values())
    return False


def _call_line(name: str, args: tuple, kwargs: dict, full: bool) -> str:
    parts = [describe(value, full) for value in args]
    parts += [f"{key}={describe(value, full)}" for key, value in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def describe(value, full: bool = False, depth: int = 0) -> str:
    """A short description of ``value``; its contents only when ``full``."""
    kind = type(value)
    module = kind.__module__.split(".")[0]
    if kind.__name__ == "RemoteHandle":
        return f"<the {value.type_name} your code returned earlier>"
    if module == "numpy" and kind.__name__ == "ndarray":
        text = f"{value.dtype} array of shape {tuple(value.shape)}"
        return text + (f" = {_array_text(value)}" if full else "")
    if module == "torch" and kind.__name__ in ("Tensor", "Parameter"):
        text = f"{str(value.dtype).removeprefix('torch.')} tensor of shape {tuple(value.shape)} on {value.device}"
        if value.requires_grad:
            text += " (requires grad)"
        return text + (f" = {_array_text(value.detach().cpu().numpy())}" if full else "")
    if module == "numpy" and "Generator" in kind.__name__:
        return "a numpy random Generator"
    if module == "torch" and kind.__name__ == "Generator":
        return f"a torch Generator on {value.device}"
    if isinstance(value, (bool, int, float, complex, str, bytes, type(None))) or module == "numpy":
        return repr(value) if full else _scalar_kind(value)
    if isinstance(value, (list, tuple)) and depth < 2:
        items = [describe(v, full, depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"... {len(value) - MAX_ITEMS} more")
        brackets = "[]" if isinstance(value, list) else "()"
        return brackets[0] + ", ".join(items) + brackets[1]
    if isinstance(value, dict) and depth < 2:
        items = [f"{k!r}: {describe(v, full, depth + 1)}" for k, v in list(value.items())[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"... {len(value) - MAX_ITEMS} more")
        return "{" + ", ".join(items) + "}"
    return f"a {kind.__name__}"


def _scalar_kind(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def _array_text(array) -> str:
    import numpy as np

    text = np.array2string(np.asarray(array), separator=", ", threshold=1000, precision=6)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + f" ... ({len(text) - MAX_VALUE_CHARS} more characters)"
    return text
