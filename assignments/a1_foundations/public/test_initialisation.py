"""Public tests of the initialisation task; run them with `pytest` from your repository's root."""
import math

import pytest
import torch

from foundations import kaiming_init, xavier_init

FAN_IN, FAN_OUT = 256, 512
EXPECTED_STD = {xavier_init: 1 / math.sqrt(FAN_IN), kaiming_init: math.sqrt(2 / FAN_IN)}
INITIALISERS = pytest.mark.parametrize("init", [xavier_init, kaiming_init], ids=["xavier", "kaiming"])


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
    assert abs(weights.mean().item()) < 0.05 * std
    assert weights.std().item() == pytest.approx(std, rel=0.02)


@INITIALISERS
def test_generator_controls_the_draw(init):
    assert torch.equal(init(8, 4, seeded(7)), init(8, 4, seeded(7)))
    assert not torch.equal(init(8, 4, seeded(7)), init(8, 4, seeded(8)))


@INITIALISERS
def test_works_without_generator(init):
    weights = init(3, 5)
    assert weights.shape == (3, 5) and weights.dtype == torch.float32
