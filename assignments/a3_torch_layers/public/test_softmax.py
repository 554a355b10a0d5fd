"""Public tests of the softmax task; run them with `pytest` from your repository's root."""
import math

import pytest
import torch

from layers import log_softmax, softmax

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
# The course's MLP (x = [0.9, 0.7], three ReLU hidden units, bias 0.001) ends in these logits.
COURSE_LOGITS = [0.39117, -0.52377]


def assert_close(actual, expected, rtol=1e-5, atol=1e-8, hint=""):
    """Like ``assert torch.allclose(actual, expected)``, but a failure says how many values
    differ, the greatest absolute and relative differences and where, and what to check."""
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, check_dtype=False,
                               msg=lambda report: report + (f"\nHint: {hint}" if hint else ""))


def assert_finite(tensor, hint=""):
    """Every value finite; a failure says how many are nan or inf and where the first one is."""
    __tracebackhide__ = True
    bad = ~torch.isfinite(tensor)
    if bad.any():
        where = tuple(torch.nonzero(bad)[0].tolist())
        raise AssertionError(f"{int(bad.sum())} of {tensor.numel()} values are nan or inf; the first, at index "
                             f"{where}, is {tensor[where].item()}." + (f"\nHint: {hint}" if hint else ""))


def test_course_example():
    # exp(0.39117) / (exp(0.39117) + exp(-0.52377)) = 1 / (1 + exp(-0.91494)) = 0.71401
    probs = softmax(torch.tensor(COURSE_LOGITS, dtype=torch.float64))
    assert probs.tolist() == pytest.approx([0.7140100, 0.2859900], abs=1e-7)
    log_probs = log_softmax(torch.tensor(COURSE_LOGITS, dtype=torch.float64))
    assert log_probs.tolist() == pytest.approx([-0.3368583, -1.2517983], abs=1e-7)


def test_rows_sum_to_one_along_dim():
    x = torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    assert softmax(x)[0].tolist() == pytest.approx([0.0900306, 0.2447285, 0.6652410], abs=1e-7)
    assert softmax(x)[1].tolist() == pytest.approx([1 / 3] * 3)
    along_dim = "reduce (max and sum) along the dim argument, with keepdim=True so it broadcasts back"
    assert_close(softmax(x, dim=0).sum(dim=0), torch.ones(3, dtype=torch.float64), hint=along_dim)
    assert_close(softmax(x, dim=0), softmax(x.T, dim=1).T, hint=along_dim)


def test_log_softmax_is_log_of_softmax_for_moderate_logits():
    torch.manual_seed(0)
    x = torch.randn(4, 5, 3, dtype=torch.float64) * 3
    for dim in (0, 1, -1):
        assert_close(log_softmax(x, dim=dim), softmax(x, dim=dim).log(), hint=f"dim={dim}")


def test_agrees_with_torch():
    torch.manual_seed(1)
    x = torch.randn(6, 4, dtype=torch.float64) * 5
    assert_close(softmax(x), torch.softmax(x, dim=-1))
    assert_close(log_softmax(x, dim=0), torch.log_softmax(x, dim=0))


def test_stable_for_huge_logits():
    # exp(1e4) overflows; subtracting each row's maximum first avoids it.
    x = torch.tensor([[1e4, 1e4 - 1.0, -1e4], [-1e4, -1e4, -1e4]], dtype=torch.float64)
    probs, log_probs = softmax(x), log_softmax(x)
    assert_finite(probs, hint="exp(1e4) overflows: subtract each row's own maximum (along dim, keepdim=True) "
                  "before exp(); the maximum of the whole tensor leaves the other rows at 0 / 0")
    assert_finite(log_probs, hint="log(softmax(x)) is -inf where a probability underflows to 0: work in log "
                  "space, log_softmax = (x - max) - log(sum(exp(x - max)))")
    p = 1 / (1 + math.exp(-1.0))
    assert probs[0].tolist() == pytest.approx([p, 1 - p, 0.0])
    assert probs[1].tolist() == pytest.approx([1 / 3] * 3)
    assert log_probs[0].tolist() == pytest.approx([math.log(p), math.log(1 - p), -2e4 + math.log(p)])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_shape_dtype_device_and_input(dtype, device):
    x = torch.tensor([[0.5, -1.0], [2.0, 0.0]], dtype=dtype, device=device)
    original = x.clone()
    for result in (softmax(x), log_softmax(x)):
        assert result.shape == x.shape and result.dtype == dtype and result.device == x.device
    assert torch.equal(x, original), "softmax must not modify its input"
