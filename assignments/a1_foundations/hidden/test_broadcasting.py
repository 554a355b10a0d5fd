"""Hidden tests of the broadcasting task: ``broadcast_shape``."""
from graders.grading.hidden import expect, hidden_test, outcome

COMPATIBLE = [
    ((), ()),
    ((), (3,)),
    ((4, 1), ()),
    ((1,), (1,)),
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((3, 1), (3,)),
    ((4, 1), (1, 5)),
    ((256, 256, 3), (3,)),
    ((8, 1, 6, 1), (7, 1, 5)),
    ((1, 1, 1), (5,)),
    ((0,), (1,)),
    ((1, 0), (3, 1)),
]

INCOMPATIBLE = [
    ((3,), (4,)),
    ((2, 3), (4,)),
    ((8, 4, 3), (2, 1)),
    ((2, 1), (8, 4, 3)),
    ((5, 1, 7), (4, 6)),
    ((0,), (3,)),
]


def _shape_or_error(impl, a, b):
    """The broadcast shape, or the exception raised (by its class and the classes it derives
    from), so that both compare: a value against a value, an error against an error."""
    return outcome(impl.broadcast_shape, a, b)


def _random_compatible_pair(rand):
    """Two shapes that broadcast: suffixes of one full shape, some lengths set to 1."""
    rank = int(rand.integers(0, 6))
    full = [int(n) for n in rand.integers(2, 6, rank)]
    return _stretchable_suffix(full, rand), _stretchable_suffix(full, rand)


def _stretchable_suffix(full, rand):
    keep = int(rand.integers(0, len(full) + 1))
    suffix = full[len(full) - keep:]
    ones = rand.uniform(0, 1, keep) < 0.3
    return tuple(1 if one else n for n, one in zip(suffix, ones))


@hidden_test(task="broadcasting", weight=2.0)
def broadcast_edge_cases(impl):
    """Compatible shapes: scalars (), different ranks, lengths of 1, and empty axes of length 0."""
    return {f"{a} with {b}": _shape_or_error(impl, a, b) for a, b in COMPATIBLE}


@hidden_test(task="broadcasting", weight=2.0)
def broadcast_random_shapes(impl, rand):
    """Twenty random pairs of compatible shapes of rank 0 to 5."""
    pairs = [_random_compatible_pair(rand) for _ in range(20)]
    return {f"{a} with {b}": _shape_or_error(impl, a, b) for a, b in pairs}


@hidden_test(task="broadcasting")
def broadcast_incompatible_raises(impl):
    """Incompatible shapes raise ValueError (or a subclass of it), and the message names the clashing axis."""
    for a, b in INCOMPATIBLE:
        result = outcome(impl.broadcast_shape, a, b)
        if not result.raised("ValueError"):
            expect(False, f"broadcast_shape({a}, {b}) should raise ValueError (or a subclass of it), but "
                   + (f"returned {result.value}" if result.error is None else f"raised {result.error}"))
            continue
        expect("axis" in result.message.lower(),
               f"the ValueError for {a} and {b} says {result.message!r}: name the clashing axis",
               mistake="broadcast_error_without_axis")
    return {}  # everything this test asks is in the checks above
