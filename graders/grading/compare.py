"""Comparing what a student returned with what the reference returned, in plain words.

``compare(actual, expected, tolerance)`` returns a list of differences, empty when the
two agree. Arrays must match in kind (NumPy array or torch tensor), shape, dtype and, for
tensors, device before their values are compared; values are compared with the
tolerance of the reference's dtype. Numbers may come back as Python numbers, NumPy
scalars or 0-dim arrays alike.
"""
from __future__ import annotations

import numbers
import sys
from typing import Callable

import numpy as np

from graders.grading.hidden import Outcome
from graders.sandbox.protocol import RemoteHandle

Tolerance = Callable[[str], tuple[float, float]]  # dtype name -> (rtol, atol)
TOP = "result"


def _child(path: str, key) -> str:
    """Where an item sits: a test's named results read as their names ("dW", not result['dW'])."""
    if path == TOP:
        return key if isinstance(key, str) else f"item {key}"
    return f"{path}[{key!r}]"


def compare(actual, expected, tolerance: Tolerance, path: str = TOP, culprits: list | None = None) -> list[str]:
    """Differences between ``actual`` and ``expected``, each prefixed by where it is.

    ``culprits``, when given, receives each value of ``actual`` that differed (the array,
    number or container itself), so that feedback can name the call that returned it."""
    if (isinstance(expected, (tuple, list)) and isinstance(actual, (tuple, list))) or (
            isinstance(expected, dict) and isinstance(actual, dict)):
        differences = _compare_container(actual, expected, tolerance, path, culprits)
    else:
        differences = _compare_one(actual, expected, tolerance, path)
        if differences and culprits is not None:
            culprits.append(actual)
    return differences


def _compare_container(actual, expected, tolerance, path, culprits) -> list[str]:
    if isinstance(expected, dict):
        if set(actual) != set(expected):
            differences = [f"{path}: expected keys {sorted(expected)}, got {sorted(map(str, actual))}"]
        else:
            return [m for k in expected
                    for m in compare(actual[k], expected[k], tolerance, _child(path, k), culprits)]
    elif len(actual) != len(expected):
        differences = [f"{path}: expected {len(expected)} items, got {len(actual)}"]
    else:
        return [m for i, (a, e) in enumerate(zip(actual, expected))
                for m in compare(a, e, tolerance, _child(path, i), culprits)]
    if culprits is not None:
        culprits.append(actual)
    return differences


def _compare_one(actual, expected, tolerance: Tolerance, path: str) -> list[str]:
    if _is_tensor(expected):
        return _compare_tensor(actual, expected, tolerance, path)
    if isinstance(expected, np.ndarray):
        return _compare_ndarray(actual, expected, tolerance, path)
    if isinstance(expected, (bool, np.bool_)):
        value = _as_scalar(actual)
        if value is None or not isinstance(value, (bool, np.bool_, numbers.Integral)):
            return [f"{path}: expected {bool(expected)}, got {_describe(actual)}"]
        return [] if bool(value) == bool(expected) else [f"{path}: expected {bool(expected)}, got {bool(value)}"]
    if isinstance(expected, (numbers.Number, np.number)):
        value = _as_scalar(actual)
        if value is None:
            return [f"{path}: expected a number, got {_describe(actual)}"]
        dtype = np.asarray(expected).dtype.name
        return _compare_values(np.asarray(value), np.asarray(expected), tolerance(dtype), path)
    if isinstance(expected, Outcome):
        return _compare_outcome(actual, expected, tolerance, path)
    if isinstance(expected, (tuple, list)):
        return [f"{path}: expected a sequence of {len(expected)} items, got {_describe(actual)}"]
    if isinstance(expected, dict):
        return [f"{path}: expected a dict with keys {sorted(expected)}, got {_describe(actual)}"]
    if expected is None or isinstance(expected, str):
        return [] if actual == expected else [f"{path}: expected {expected!r}, got {_describe(actual)}"]
    raise TypeError(f"a hidden test returned a {type(expected).__name__} at {path}; return arrays, numbers, "
                    "strings, Outcome or containers of them")


def _compare_outcome(actual, expected: Outcome, tolerance, path) -> list[str]:
    if not isinstance(actual, Outcome):
        return [f"{path}: expected an outcome, got {_describe(actual)}"]
    if expected.error is not None:
        if actual.error is None:
            return [f"{path}: expected {expected.error} to be raised, but the call returned {_describe(actual.value)}"]
        if not same_exception(actual, expected):
            return [f"{path}: expected {expected.error} (or a subclass of it) to be raised, "
                    f"got {actual.error}: {actual.message}"]
        return []
    if actual.error is not None:
        return [f"{path}: raised {actual.error}: {actual.message}"]
    return compare(actual.value, expected.value, tolerance, path)


def same_exception(actual: Outcome, expected: Outcome) -> bool:
    """Whether ``actual`` raised the exception ``expected`` raised, or a subclass of it: by
    the class names each side sent (``hidden.exception_kinds``), never the objects."""
    if expected.kinds and actual.kinds:
        return expected.kinds[0] in actual.kinds
    return actual.error == expected.error


def _compare_ndarray(actual, expected: np.ndarray, tolerance, path) -> list[str]:
    if _is_tensor(actual):
        return [f"{path}: returned a torch tensor where a NumPy array is expected"]
    if expected.ndim == 0 and _as_scalar(actual) is not None:
        actual = np.asarray(_as_scalar(actual))
    if not isinstance(actual, np.ndarray):
        return [f"{path}: expected an array of shape {expected.shape}, got {_describe(actual)}"]
    header = _shape_and_dtype(actual.shape, actual.dtype.name, expected.shape, expected.dtype.name, path)
    return header or _compare_values(actual, expected, tolerance(expected.dtype.name), path)


def _compare_tensor(actual, expected, tolerance, path) -> list[str]:
    if isinstance(actual, np.ndarray):
        return [f"{path}: returned a NumPy array where a torch tensor is expected"]
    if not _is_tensor(actual):
        return [f"{path}: expected a tensor of shape {tuple(expected.shape)}, got {_describe(actual)}"]
    actual_dtype, expected_dtype = _dtype_name(actual), _dtype_name(expected)
    header = _shape_and_dtype(tuple(actual.shape), actual_dtype, tuple(expected.shape), expected_dtype, path)
    if header:
        return header
    if actual.device != expected.device:
        return [f"{path}: on device {actual.device}, expected {expected.device} (keep the inputs' device)"]
    return _compare_values(_host(actual), _host(expected), tolerance(expected_dtype), path)


def _shape_and_dtype(shape, dtype, expected_shape, expected_dtype, path) -> list[str]:
    if tuple(shape) != tuple(expected_shape):
        return [f"{path}: shape {tuple(shape)}, expected {tuple(expected_shape)}"]
    if dtype != expected_dtype:
        return [f"{path}: dtype {dtype}, expected {expected_dtype}"]
    return []


def _compare_values(actual: np.ndarray, expected: np.ndarray, tol: tuple[float, float], path: str) -> list[str]:
    if expected.dtype.kind in "biu" and actual.dtype.kind in "biu":
        wrong = actual != expected
        if not np.any(wrong):
            return []
        first = tuple(int(i) for i in np.argwhere(wrong)[0])
        return [f"{path}: {int(wrong.sum())} of {wrong.size} values differ; at index {first} "
                f"expected {expected[first]}, got {actual[first]}"]
    if actual.dtype == expected.dtype and actual.tobytes() == expected.tobytes():
        return []  # the same bits (the reference's own formula): nothing to weigh
    rtol, atol = tol
    actual_f = actual.astype(np.complex128 if np.iscomplexobj(actual) else np.float64, copy=False)
    expected_f = expected.astype(np.complex128 if np.iscomplexobj(expected) else np.float64, copy=False)
    close = _close(actual_f, expected_f, rtol, atol)
    if close.all():
        return []
    bad = ~close
    # The worst value is the one furthest beyond its own tolerance, not the largest one.
    # With a zero tolerance a difference is infinitely beyond it: inf, without a warning.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        excess = np.where(bad, np.abs(actual_f - expected_f) / (atol + rtol * np.abs(expected_f)), 0)
    excess = np.where(np.isnan(excess), np.inf, excess)
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape) if excess.ndim else ()
    pair = describe_difference(expected_f[worst], actual_f[worst])
    tolerance = f"rtol={rtol:g}, atol={atol:g}"
    if bad.size == 1:
        return [f"{path}: {pair}; beyond the tolerance ({tolerance})"]
    where = f" at index {tuple(int(i) for i in worst)}" if worst else ""
    return [f"{path}: {int(bad.sum())} of {bad.size} values differ beyond tolerance "
            f"({tolerance}); the worst{where}: {pair}"]


def _close(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """``np.isclose(actual, expected, rtol, atol, equal_nan=True)``, without its Python
    layers (a third of a compare's time when it runs hundreds of times per submission):
    within tolerance, or equal (infinities of the same sign), or NaN on both sides."""
    with np.errstate(invalid="ignore", over="ignore"):
        close = (np.abs(actual - expected) <= atol + rtol * np.abs(expected)) & np.isfinite(expected)
    if not close.all():
        close |= (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    return close


def describe_difference(expected, actual) -> str:
    """"expected E, got A (absolute error ..., relative error ...)", with as many digits as it
    takes to show where E and A differ: never "expected 0.316516, got 0.316516"."""
    if np.iscomplexobj(expected) or np.iscomplexobj(actual):
        expected, actual = complex(expected), complex(actual)
    else:
        expected, actual = float(expected), float(actual)
    shown_expected, shown_actual = _distinct_digits(expected, actual)
    text = f"expected {shown_expected}, got {shown_actual}"
    error = abs(actual - expected)
    if not np.isfinite(error):
        return text
    if expected == 0:
        return f"{text} (absolute error {error:.2g})"
    return f"{text} (absolute error {error:.2g}, relative error {error / abs(expected):.2g})"


def _distinct_digits(expected, actual) -> tuple[str, str]:
    """Both numbers with the fewest significant digits (at least 6) that tell them apart."""
    for digits in range(6, 18):
        a, b = _digits(expected, digits), _digits(actual, digits)
        if a != b:
            return a, b
    return repr(expected), repr(actual)


def _digits(value, digits: int) -> str:
    if isinstance(value, complex):
        return f"({value.real:.{digits}g}{value.imag:+.{digits}g}j)"
    return f"{value:.{digits}g}"


def _as_scalar(value):
    """A number from a Python number, NumPy scalar, 0-dim array or 0-dim tensor; else None."""
    if isinstance(value, (numbers.Number, np.number, np.bool_)):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value[()]
    if _is_tensor(value) and value.dim() == 0:
        return _host(value)[()]
    return None


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if _is_tensor(value):
        return f"a tensor of shape {tuple(value.shape)} and dtype {_dtype_name(value)}"
    if isinstance(value, RemoteHandle):
        return f"a {value.type_name} object"
    if isinstance(value, Outcome):
        return f"an exception {value.error}" if value.error else _describe(value.value)
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    if value is None:
        return "None"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) < 60 else text[:57] + '...'}"


def _is_tensor(value) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _dtype_name(tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


def _host(tensor) -> np.ndarray:
    import torch

    plain = tensor.detach().cpu()
    if plain.dtype == torch.bfloat16:
        plain = plain.float()
    return plain.numpy()


def exact_float32() -> None:
    """TF32 off, in the trusted process and (set in the zygote) every worker: a GPU must
    compute float32 in float32, or the float32 tolerances mean nothing."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
