"""Hidden tests of the initialisation task: ``xavier_init`` and ``kaiming_init``.

The weights are random by design, so the tests check their statistics and their use
of the generator, never their values: any correct distribution (normal, uniform,
truncated normal) with mean 0 and the right std passes.
"""
import math

import torch

from graders.grading.hidden import check, expect, hidden_test

FAN_IN, FAN_OUT = 256, 1024
# W has n = 256 * 1024 = 262144 independent entries of std s.
# Mean: the sample mean has std s / sqrt(n) = s / 512 and, at this n, is normal to great
# accuracy, so |mean| < 6 s / sqrt(n) fails with probability about 2e-9.
# Std: the sample std has std s * sqrt((k - 1) / (4 n)), k being the distribution's
# kurtosis (3 for a normal, 1.8 for a uniform, below 3 for a truncated normal), so at
# most s / sqrt(2 n) = s / 724. A 1% relative bound is 7.24 of those: it fails with
# probability about 4e-13. Both are far below one in 10^6, and every catalogued wrong
# std is off by more than a third, so none can pass by luck either.
MEAN_BOUND = 6.0 / math.sqrt(FAN_IN * FAN_OUT)  # in units of the expected std
STD_RTOL = 0.01

XAVIER_STD = 1.0 / math.sqrt(FAN_IN)
KAIMING_STD = math.sqrt(2.0 / FAN_IN)
# The std each catalogued mistake produces, to name the mistake a wrong std reveals.
XAVIER_WRONG_STDS = {
    "xavier_glorot_average_fan": math.sqrt(2.0 / (FAN_IN + FAN_OUT)),
    "uniform_half_width_is_std": XAVIER_STD / math.sqrt(3.0),
}
KAIMING_WRONG_STDS = {
    "kaiming_two_over_sqrt_n": 2.0 / math.sqrt(FAN_IN),
    "uniform_half_width_is_std": KAIMING_STD / math.sqrt(3.0),
    # torch.nn.init reads a 2-D weight as nn.Linear's (out, in): its fan_in is our fan_out.
    "kaiming_fan_from_torch_layout": math.sqrt(2.0 / FAN_OUT),
}


def _describe(weights):
    """What a correct initialiser's result has regardless of the random draw."""
    return {"shape": tuple(weights.shape), "dtype": str(weights.dtype), "device": weights.device.type}


def _check_statistics(name, weights, expected_std, wrong_stds):
    check(isinstance(weights, torch.Tensor),
          f"{name} should return a torch.Tensor, not {type(weights).__name__}")
    values = weights.detach().double()
    mean, std = values.mean().item(), values.std().item()
    expect(abs(mean) < MEAN_BOUND * expected_std,
           f"the mean of {name}'s {values.numel()} weights is {mean:.4g}; it should be 0 "
           f"(within {MEAN_BOUND * expected_std:.2g})",
           mistake="rand_instead_of_randn" if values.min().item() >= 0 else None)
    expect(abs(std / expected_std - 1) < STD_RTOL,
           f"the std of {name}'s weights is {std:.4g}; for fan_in={FAN_IN} it should be "
           f"{expected_std:.4g} (within {STD_RTOL:.0%})",
           mistake=next((mistake for mistake, wrong in wrong_stds.items()
                         if abs(std / wrong - 1) < STD_RTOL), None))


def _check_uses_generator(name, init, rand, device):
    first = rand.torch_generator(device)
    twin = torch.Generator(device=device)
    twin.set_state(first.get_state())
    other = rand.torch_generator(device)
    weights, twin_weights, other_weights = (init(16, 8, generator) for generator in (first, twin, other))
    check(torch.equal(weights, twin_weights),
          f"two calls of {name} with generators in the same state gave different weights: "
          "draw every random number from the generator you are given",
          mistake="ignores_generator")
    check(not torch.equal(weights, other_weights),
          f"{name} gave the same weights for generators in different states: "
          "draw the random numbers from the generator you are given",
          mistake="ignores_generator")


@hidden_test(task="initialisation", weight=2.0)
def xavier_statistics(impl, rand, device):
    """xavier_init(256, 1024): float32 (256, 1024) on the generator's device, mean 0, std 1/16."""
    weights = impl.xavier_init(FAN_IN, FAN_OUT, rand.torch_generator(device))
    _check_statistics("xavier_init", weights, XAVIER_STD, XAVIER_WRONG_STDS)
    return _describe(weights)


@hidden_test(task="initialisation", weight=2.0)
def kaiming_statistics(impl, rand, device):
    """kaiming_init(256, 1024): float32 (256, 1024) on the generator's device, mean 0, std sqrt(2/256)."""
    weights = impl.kaiming_init(FAN_IN, FAN_OUT, rand.torch_generator(device))
    _check_statistics("kaiming_init", weights, KAIMING_STD, KAIMING_WRONG_STDS)
    return _describe(weights)


@hidden_test(task="initialisation")
def xavier_uses_generator(impl, rand, device):
    """xavier_init draws from its generator: equal generator states give equal weights, others not."""
    _check_uses_generator("xavier_init", impl.xavier_init, rand, device)
    return {}  # everything this test asks is in the checks above


@hidden_test(task="initialisation")
def kaiming_uses_generator(impl, rand, device):
    """kaiming_init draws from its generator: equal generator states give equal weights, others not."""
    _check_uses_generator("kaiming_init", impl.kaiming_init, rand, device)
    return {}  # everything this test asks is in the checks above


@hidden_test(task="initialisation")
def initialisers_without_generator(impl):
    """Without a generator, both initialisers use torch's global one and return float32 CPU weights."""
    xavier = impl.xavier_init(FAN_IN, FAN_OUT)
    _check_statistics("xavier_init", xavier, XAVIER_STD, XAVIER_WRONG_STDS)
    kaiming = impl.kaiming_init(FAN_IN, FAN_OUT)
    _check_statistics("kaiming_init", kaiming, KAIMING_STD, KAIMING_WRONG_STDS)
    return {"xavier_init": _describe(xavier), "kaiming_init": _describe(kaiming)}
