"""Public tests of the broadcasting task; run them with `pytest` from your repository's root."""
import pytest
import torch

from foundations import broadcast_shape


@pytest.mark.parametrize("a, b, expected", [
    ((2, 3), (3,), (2, 3)),            # a row added to every row of a matrix
    ((4, 1), (3,), (4, 3)),            # a column and a row make a table
    ((), (5,), (5,)),                  # a scalar stretches to anything
    ((8, 1, 6, 1), (7, 1, 5), (8, 7, 6, 5)),
    ((1,), (0,), (0,)),                # a length of 1 stretches to 0 as well
])
def test_compatible_shapes(a, b, expected):
    assert broadcast_shape(a, b) == expected
    assert broadcast_shape(b, a) == expected


@pytest.mark.parametrize("a, b", [((2, 1), (3,)), ((5, 1, 4), (3, 1)), ((), ())])
def test_agrees_with_torch(a, b):
    expected = (torch.zeros(a) + torch.zeros(b)).shape
    assert broadcast_shape(a, b) == tuple(expected)


@pytest.mark.parametrize("a, b", [((2, 3), (4,)), ((3, 2), (2, 3))])
def test_incompatible_shapes_raise(a, b):
    with pytest.raises(ValueError, match="axis"):
        broadcast_shape(a, b)
