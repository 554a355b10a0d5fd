"""Public tests of the initialisation task; run them with `pytest` from your repository's root."""
import math

import pytest
import torch

from foundations import kaiming_init, xavier_init

FAN_IN, FAN_OUT = 256, 512
EXPECTED_STD = {xavier_init: 1 / math.sqrt(FAN_IN), kaiming_init: math.sqrt(2 / FAN_IN)}
INITIALISERS = pytest.mark.parametrize("init", [xavier_init, kaiming_init], ids=["xavier", "kaiming"])


def assert_close(actual, expected, rtol=1e-5, atol=1e-8, hint=""):
    """Like ``assert torch.allclose(actual, expected)``, but a failure says how many values
    differ, the greatest absolute and relative differences and where, and what to check."""
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, check_dtype=False,
                               msg=lambda report: report + (f"\nHint: {hint}" if hint else ""))


def seeded(seed):
    return torch.Generator().manual_seed(seed)


@INITIALISERS
def test_shape_and_dtype(init):
    weights = init(FAN_IN, FAN_OUT, seeded(0))
    assert weights.shape == (FAN_IN, FAN_OUT)
    assert weights.dtype == torch.float32


@INITIALISERS
def test_mean_and_std(init):
    # 131072 draws: a correct initialiser lands far inside these bounds.
    weights = init(FAN_IN, FAN_OUT, seeded(1)).double()
    std = EXPECTED_STD[init]
    assert abs(weights.mean().item()) < 0.05 * std, \
        f"mean {weights.mean().item():.4g}: draw from a distribution centred on 0 (randn, not rand)"
    assert weights.std().item() == pytest.approx(std, rel=0.02), (
        f"std {weights.std().item():.4g}, expected {std:.4g} for fan_in={FAN_IN}: W is (fan_in, fan_out), and "
        "torch.nn.init reads a 2-D weight as (fan_out, fan_in); a uniform on [-a, a] has std a / sqrt(3)")


@INITIALISERS
def test_generator_controls_the_draw(init):
    assert_close(init(8, 4, seeded(7)), init(8, 4, seeded(7)), rtol=0, atol=0,
                 hint="draw every random number from the generator argument (generator=generator)")
    assert not torch.equal(init(8, 4, seeded(7)), init(8, 4, seeded(8))), \
        "generators in different states gave the same weights: draw them from the generator argument"


@INITIALISERS
def test_works_without_generator(init):
    weights = init(3, 5)
    assert weights.shape == (3, 5) and weights.dtype == torch.float32
