"""Hidden tests of the cross-entropy task: ``cross_entropy_forward`` and ``cross_entropy_backward``.

The reference equals ``torch.nn.functional.cross_entropy`` (label smoothing included);
tests/test_oracles_a3.py checks that, so comparing with the reference compares with torch.
Losses and gradients are separate tests where possible, so that a wrong loss and a wrong
gradient are each diagnosed on their own.
"""
import torch

from graders.grading.hidden import hidden_test

DTYPES = (torch.float64, torch.float32)
# The course's MLP (x = [0.9, 0.7], three ReLU hidden units, bias 0.001) ends in these two logits.
COURSE_LOGITS = [0.39117, -0.52377]
EXTREME = [
    [1e4, -1e4, 0.0, 1e4 - 2.0],
    [-1e4, -1e4 + 1.0, -1e4 + 3.0, -1e4],
    [1e4, 1e4, 1e4, 1e4],
    [-1e4, -1e4, -1e4, -1e4],
    [1e4 - 0.5, 1e4 - 1.5, -3.0, 2.0],
]
EXTREME_TARGETS = [1, 2, 0, 3, 0]  # some targets at the row's top logit, some 2e4 below it
FLOAT32_EXTREME_ATOL = 2e-3  # float32 holds 1e4 only to about 1e-3 (see test_softmax.py)


def _name(dtype):
    return str(dtype).removeprefix("torch.")


def _batches(rand, dtype, device):
    """(label, logits, targets) for a few batch sizes and class counts, a batch of one included."""
    cases = []
    for n, c in [(8, 5), (3, 10), (1, 4)]:
        logits = rand.tensor(n, c, scale=2.0, dtype=dtype)
        targets = torch.as_tensor(rand.integers(0, c, n), device=device)
        cases.append((f"{_name(dtype)} N={n} C={c}", logits, targets))
    return cases


@hidden_test(task="cross_entropy", weight=2.0)
def cross_entropy_loss(impl, rand, device):
    """The mean cross-entropy loss (a 0-dim tensor) of random logits for N=8 C=5, N=3 C=10 and N=1 C=4."""
    return {label: impl.cross_entropy_forward(logits, targets)[0]
            for dtype in DTYPES for label, logits, targets in _batches(rand, dtype, device)}


@hidden_test(task="cross_entropy", weight=2.0)
def cross_entropy_gradient(impl, rand, device):
    """dlogits = (softmax(logits) - onehot(targets)) / N for N=8 C=5, N=3 C=10 and N=1 C=4."""
    results = {}
    for dtype in DTYPES:
        for label, logits, targets in _batches(rand, dtype, device):
            _, cache = impl.cross_entropy_forward(logits, targets)
            results[label] = impl.cross_entropy_backward(cache)
    return results


@hidden_test(task="cross_entropy", weight=2.0)
def cross_entropy_label_smoothing(impl, rand, device):
    """Loss and dlogits with label_smoothing 0.1 and 0.3, as torch.nn.functional.cross_entropy gives them."""
    results = {}
    for dtype in DTYPES:
        for label, logits, targets in _batches(rand, dtype, device):
            for eps in (0.1, 0.3):
                loss, cache = impl.cross_entropy_forward(logits, targets, label_smoothing=eps)
                results[f"loss {label} eps={eps}"] = loss
                results[f"dlogits {label} eps={eps}"] = impl.cross_entropy_backward(cache)
    return results


@hidden_test(task="cross_entropy")
def cross_entropy_course_example(impl, device):
    """The course's logits [0.39117, -0.52377]: loss 0.33686 for target 0, batch mean 0.79433 for targets [0, 1]."""
    results = {}
    for dtype in DTYPES:
        one = torch.tensor([COURSE_LOGITS], dtype=dtype, device=device)
        two = torch.tensor([COURSE_LOGITS, COURSE_LOGITS], dtype=dtype, device=device)
        for label, logits, targets in (("target 0", one, [0]), ("targets [0, 1]", two, [0, 1])):
            targets = torch.tensor(targets, device=device)
            for eps in (0.0, 0.1):
                loss, cache = impl.cross_entropy_forward(logits, targets, eps)
                results[f"loss {_name(dtype)} {label} eps={eps}"] = loss
                results[f"dlogits {_name(dtype)} {label} eps={eps}"] = impl.cross_entropy_backward(cache)
    return results


def _extreme(impl, dtype, device):
    logits = torch.tensor(EXTREME, dtype=dtype, device=device)
    targets = torch.tensor(EXTREME_TARGETS, device=device)
    results = {}
    for eps in (0.0, 0.1):
        loss, cache = impl.cross_entropy_forward(logits, targets, label_smoothing=eps)
        results[f"loss eps={eps}"] = loss
        results[f"dlogits eps={eps}"] = impl.cross_entropy_backward(cache)
    return results


@hidden_test(task="cross_entropy", weight=1.5)
def cross_entropy_extreme_logits(impl, device):
    """Loss and dlogits for float64 logits of +-1e4, with and without label smoothing: finite and correct."""
    return _extreme(impl, torch.float64, device)


@hidden_test(task="cross_entropy", atol=FLOAT32_EXTREME_ATOL)
def cross_entropy_extreme_float32(impl, device):
    """Loss and dlogits for float32 logits of +-1e4, with and without label smoothing (atol 2e-3)."""
    return _extreme(impl, torch.float32, device)
