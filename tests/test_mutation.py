"""Noticing a call that changed its inputs in place, on both sides of the wire."""
import numpy as np
import torch

from graders.grading import mutation


def _changed(function, *args, **kwargs):
    watch = mutation.watch(function, args, kwargs)
    function(*args, **kwargs)
    return watch.changed()


def test_an_array_or_tensor_written_in_place_is_named_by_its_parameter():
    def scale(x, factor, out=None):
        x *= factor

    assert _changed(scale, np.ones(3), 2.0) == ["x"]
    assert _changed(scale, torch.ones(3), 2.0) == ["x"]
    assert _changed(lambda *values: values[1].fill_(0), np.ones(2), torch.ones(2)) == ["argument 2"]
    assert _changed(lambda params: params["W"].__setitem__(0, 5.0), {"W": np.zeros(2)}) == ["params"]


def test_values_written_back_unchanged_are_no_change():
    def rewrite(x, t):
        x[...] = x.copy()
        t.copy_(t.clone())

    nan = np.array([np.nan, 1.0])
    assert _changed(rewrite, nan, torch.tensor([float("nan"), 1.0])) == []

    def negative_zero(x, t):
        x += 0.0  # -0.0 becomes 0.0: other bits, the same value
        t += 0.0

    assert _changed(negative_zero, np.array([-0.0, 2.0]), torch.tensor([-0.0, 2.0])) == []


def test_names_are_read_once_per_function_and_any_callable_works():
    class Unhashable:
        __hash__ = None

        def __call__(self, a):
            a[0] = 1

    assert _changed(Unhashable(), np.zeros(2)) == ["a"]
    assert _changed(np.copyto, np.zeros(2), np.ones(2)) == ["dst"]
