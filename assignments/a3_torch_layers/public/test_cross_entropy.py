"""Public tests of the cross-entropy task; run them with `pytest` from your repository's root."""
import pytest
import torch
import torch.nn.functional as F

from layers import cross_entropy_backward, cross_entropy_forward

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
COURSE_LOGITS = [0.39117, -0.52377]  # the course's MLP output; softmax = [0.71401, 0.28599]


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
    logits = torch.tensor([COURSE_LOGITS], dtype=torch.float64)
    loss, cache = cross_entropy_forward(logits, torch.tensor([0]))
    assert isinstance(loss, torch.Tensor) and loss.shape == ()
    assert loss.item() == pytest.approx(0.3368583, abs=1e-7)  # -log(0.71401)
    dlogits = cross_entropy_backward(cache)
    assert dlogits.tolist() == [pytest.approx([0.7140100 - 1, 0.2859900], abs=1e-7)]


def test_batch_mean():
    # Two samples with the course's logits, targets 0 and 1: (0.33686 + 1.25180) / 2.
    logits = torch.tensor([COURSE_LOGITS, COURSE_LOGITS], dtype=torch.float64)
    loss, cache = cross_entropy_forward(logits, torch.tensor([0, 1]))
    assert loss.item() == pytest.approx(0.7943283, abs=1e-7)
    dlogits = cross_entropy_backward(cache)  # (softmax - onehot) / N
    assert dlogits.tolist() == [pytest.approx([(0.7140100 - 1) / 2, 0.2859900 / 2], abs=1e-7),
                                pytest.approx([0.7140100 / 2, (0.2859900 - 1) / 2], abs=1e-7)]


def test_label_smoothing_course_example():
    # eps = 0.1, C = 2: the target distribution is [0.95, 0.05].
    logits = torch.tensor([COURSE_LOGITS], dtype=torch.float64)
    loss, _ = cross_entropy_forward(logits, torch.tensor([0]), label_smoothing=0.1)
    assert loss.item() == pytest.approx(0.95 * 0.3368583 + 0.05 * 1.2517983, abs=1e-7)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.25])
def test_agrees_with_torch(eps):
    torch.manual_seed(2)
    logits = torch.randn(6, 4, dtype=torch.float64) * 2
    targets = torch.randint(0, 4, (6,))
    loss, _ = cross_entropy_forward(logits, targets, label_smoothing=eps)
    assert loss.item() == pytest.approx(F.cross_entropy(logits, targets, label_smoothing=eps).item())


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_gradient_matches_numerical_gradient(eps):
    torch.manual_seed(3)
    logits = torch.randn(3, 4, dtype=torch.float64)
    targets = torch.tensor([0, 3, 1])
    _, cache = cross_entropy_forward(logits, targets, eps)
    dlogits = cross_entropy_backward(cache)
    h = 1e-6
    expected = torch.zeros_like(logits)
    for i in range(3):
        for j in range(4):
            plus, minus = logits.clone(), logits.clone()
            plus[i, j] += h
            minus[i, j] -= h
            difference = cross_entropy_forward(plus, targets, eps)[0] - cross_entropy_forward(minus, targets, eps)[0]
            expected[i, j] = difference.item() / (2 * h)
    assert_close(dlogits, expected, rtol=1e-5, atol=1e-9,
                 hint="dlogits = (softmax(logits) - q) / N, q the (smoothed) target distribution")


def test_stable_for_huge_logits():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=torch.float64)
    targets = torch.tensor([1, 2])
    loss, cache = cross_entropy_forward(logits, targets)
    # Row 0: -log p_1 = 2e4 (to many digits); row 1: -log(1/3).
    log_space = ("log(softmax(x)) is -inf where a probability underflows to 0: work in log space, "
                 "log_softmax = (x - max) - log(sum(exp(x - max)))")
    assert_finite(loss, hint=log_space)
    assert loss.item() == pytest.approx((2e4 + 1.0986123) / 2), log_space
    assert_finite(cross_entropy_backward(cache), hint="subtract each row's maximum before exp()")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_dtype_device_and_input(dtype, device):
    logits = torch.tensor([[0.5, -1.0, 2.0], [0.0, 1.0, -0.5]], dtype=dtype, device=device)
    targets = torch.tensor([2, 0], device=device)
    original = logits.clone()
    loss, cache = cross_entropy_forward(logits, targets, 0.1)
    dlogits = cross_entropy_backward(cache)
    assert loss.shape == () and loss.dtype == dtype and loss.device == logits.device
    assert dlogits.shape == logits.shape and dlogits.dtype == dtype and dlogits.device == logits.device
    assert torch.equal(logits, original), "cross_entropy_forward must not modify its input"
