"""compare(): what counts as the same result, and how a difference is said."""
import numpy as np
import pytest
import torch

from graders.grading.compare import compare
from graders.grading.hidden import Outcome

TIGHT = lambda dtype: (1e-7, 1e-9) if dtype == "float64" else (1e-4, 1e-5)  # noqa: E731


def test_nan_matches_nan_only_where_the_reference_has_nan_too():
    expected = np.array([1.0, np.nan, 3.0])
    assert compare(np.array([1.0, np.nan, 3.0]), expected, TIGHT) == []
    assert compare(np.array([np.nan, np.nan, 3.0]), expected, TIGHT) != []
    assert compare(np.array([1.0, 2.0, 3.0]), expected, TIGHT) != []


def test_signed_zeros_and_infinities():
    assert compare(np.array([-0.0, np.inf]), np.array([0.0, np.inf]), TIGHT) == []
    assert compare(np.array([0.0, -np.inf]), np.array([0.0, np.inf]), TIGHT) != []


def test_integers_compare_exactly_and_name_the_first_difference():
    assert compare(np.array([1, 2, 3]), np.array([1, 2, 3]), TIGHT) == []
    [message] = compare(np.array([1, 2, 4]), np.array([1, 2, 3]), TIGHT)
    assert "1 of 3 values differ" in message and "index (2,)" in message


def test_booleans_accept_python_and_numpy_truth_values():
    assert compare(np.True_, True, TIGHT) == [] and compare(1, True, TIGHT) == []
    assert compare(False, True, TIGHT) == ["result: expected True, got False"]
    assert "expected True" in compare("yes", True, TIGHT)[0]


def test_numbers_may_come_back_as_python_numpy_or_zero_dim():
    for actual in (0.5, np.float64(0.5), np.array(0.5), torch.tensor(0.5, dtype=torch.float64)):
        assert compare(actual, 0.5, TIGHT) == [], actual
    assert "expected a number" in compare([0.5], 0.5, TIGHT)[0]


def test_kind_shape_dtype_and_device_are_checked_before_values():
    expected = torch.zeros(2, 3)
    assert "NumPy array where a torch tensor" in compare(np.zeros((2, 3), np.float32), expected, TIGHT)[0]
    assert "shape (3, 2), expected (2, 3)" in compare(torch.zeros(3, 2), expected, TIGHT)[0]
    assert "dtype float64, expected float32" in compare(torch.zeros(2, 3, dtype=torch.float64), expected, TIGHT)[0]
    assert "on device meta" in compare(torch.zeros(2, 3, device="meta"), expected, TIGHT)[0]
    assert "torch tensor where a NumPy array" in compare(torch.zeros(2), np.zeros(2), TIGHT)[0]


def test_tolerance_follows_the_references_dtype():
    expected32 = torch.tensor([1.0])
    assert compare(torch.tensor([1.00005]), expected32, TIGHT) == []  # within float32's tolerance
    assert compare(np.array([1.00005]), np.array([1.0]), TIGHT) != []  # beyond float64's


def test_a_tiny_difference_is_shown_with_the_digits_where_it_lies():
    [message] = compare(np.array(0.3165160952), np.array(0.3165161902), TIGHT)
    expected_text, got_text = message.split("expected ")[1].split(", got ")
    assert expected_text.split()[0] != got_text.split()[0]  # never "expected 0.316516, got 0.316516"


def test_containers_compare_item_by_item_and_name_where():
    expected = {"dW": np.zeros(2), "db": np.ones(2)}
    assert compare({"dW": np.zeros(2), "db": np.ones(2)}, expected, TIGHT) == []
    [message] = compare({"dW": np.zeros(2), "db": np.zeros(2)}, expected, TIGHT)
    assert message.startswith("db:")
    assert "expected keys" in compare({"dW": np.zeros(2)}, expected, TIGHT)[0]
    assert "expected 2 items, got 3" in compare((1.0, 2.0, 3.0), (1.0, 2.0), TIGHT)[0]


def test_outcomes_compare_errors_by_class_and_values_otherwise():
    raised = Outcome(error="ValueError", message="axis 0 clashes", kinds=("ValueError", "Exception"))
    subclass = Outcome(error="BroadcastError", message="x", kinds=("BroadcastError", "ValueError", "Exception"))
    other = Outcome(error="TypeError", message="x", kinds=("TypeError", "Exception"))
    assert compare(subclass, raised, TIGHT) == []
    assert "ValueError (or a subclass of it)" in compare(other, raised, TIGHT)[0]
    assert "but the call returned" in compare(Outcome(value=(2, 3)), raised, TIGHT)[0]
    assert compare(Outcome(value=(2, 3)), Outcome(value=(2, 3)), TIGHT) == []
    assert "raised TypeError" in compare(other, Outcome(value=(2, 3)), TIGHT)[0]


def test_a_hidden_test_returning_something_uncomparable_is_the_authors_error():
    with pytest.raises(TypeError, match="hidden test returned a set"):
        compare({1}, {1}, TIGHT)


@pytest.mark.parametrize("rtol, atol", [(1e-5, 1e-8), (0.0, 0.0), (1e-3, 0.0), (0.0, 1e-3), (1e-7, 1e-300)])
def test_closeness_is_numpys_isclose_with_equal_nan(rtol, atol):
    """compare weighs values with its own closeness test (np.isclose's Python layers cost a
    third of a compare): the same answer for zeros of both signs, tiny and huge values,
    infinities of either sign and NaN, real and complex."""
    from graders.grading.compare import _close

    special = np.array([0.0, -0.0, 1.0, 1 + 1e-9, 1.00001, 0.99999, 1e-12, 5e-324, 1e308, -1e308,
                        np.inf, -np.inf, np.nan, 2.0])
    actual, expected = np.repeat(special, len(special)), np.tile(special, len(special))
    with np.errstate(all="ignore"):
        assert (_close(actual, expected, rtol, atol)
                == np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)).all()
        complex_actual = actual + 1j * np.roll(actual, 3)
        complex_expected = expected + 1j * np.roll(expected, 3)
        assert (_close(complex_actual, complex_expected, rtol, atol)
                == np.isclose(complex_actual, complex_expected, rtol=rtol, atol=atol, equal_nan=True)).all()
