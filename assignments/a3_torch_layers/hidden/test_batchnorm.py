"""Hidden tests of the batch-norm task: ``batchnorm_forward`` and ``batchnorm_backward``.

Training output, running statistics, evaluation mode and the backward pass are separate
tests, so that each kind of mistake is diagnosed on its own. The running statistics
follow PyTorch's rule (``torch.nn.BatchNorm1d``): new = (1 - momentum) * old + momentum *
batch statistic, with the unbiased batch variance for the running variance;
tests/test_oracles_a3.py checks the reference against ``torch.nn.functional.batch_norm``.
"""
import torch

from graders.grading.hidden import hidden_test

DTYPES = (torch.float64, torch.float32)


def _name(dtype):
    return str(dtype).removeprefix("torch.")


def _parameters(rand, dtype, d):
    """gamma, beta, running_mean, running_var for D features (running_var positive)."""
    gamma = 1 + 0.5 * rand.tensor(d, dtype=dtype)
    beta = rand.tensor(d, dtype=dtype)
    running_mean = rand.tensor(d, dtype=dtype)
    running_var = rand.tensor(d, dtype=dtype).abs() + 0.5
    return gamma, beta, running_mean, running_var


def _batch(rand, dtype, n, d):
    """A batch whose features have their own offsets and spreads, far from mean 0, std 1."""
    offset = rand.tensor(d, scale=3.0, dtype=dtype)
    spread = rand.tensor(d, dtype=dtype).abs() + 0.5
    return rand.tensor(n, d, dtype=dtype) * spread + offset


@hidden_test(task="batchnorm", weight=2.0)
def batchnorm_train_output(impl, rand, device):
    """Training-mode output for N=16 D=5 and N=4 D=3, with the default eps and with eps=0.1."""
    results = {}
    for dtype in DTYPES:
        for n, d in [(16, 5), (4, 3)]:
            x = _batch(rand, dtype, n, d)
            gamma, beta, running_mean, running_var = _parameters(rand, dtype, d)
            out = impl.batchnorm_forward(x, gamma, beta, running_mean, running_var, True)[0]
            results[f"out {_name(dtype)} N={n} D={d}"] = out
            out = impl.batchnorm_forward(x, gamma, beta, running_mean, running_var, True, eps=0.1)[0]
            results[f"out {_name(dtype)} N={n} D={d} eps=0.1"] = out
    return results


@hidden_test(task="batchnorm", weight=2.0)
def batchnorm_running_stats(impl, rand, device):
    """Running mean and variance over three training steps, momentum 0.1 (default) and 0.3, N=4 and N=16."""
    results = {}
    for dtype in DTYPES:
        for n, d, momentum in [(4, 3, None), (16, 5, 0.3)]:
            gamma, beta, running_mean, running_var = _parameters(rand, dtype, d)
            for step in range(1, 4):
                x = _batch(rand, dtype, n, d)
                extra = {} if momentum is None else {"momentum": momentum}
                _, _, running_mean, running_var = impl.batchnorm_forward(
                    x, gamma, beta, running_mean, running_var, True, **extra)
                label = f"{_name(dtype)} N={n} momentum={momentum or 0.1} step {step}"
                results[f"running_mean {label}"] = running_mean
                results[f"running_var {label}"] = running_var
    return results


@hidden_test(task="batchnorm", weight=2.0)
def batchnorm_eval_mode(impl, rand, device):
    """Evaluation mode normalises with the running statistics and returns them unchanged."""
    results = {}
    for dtype in DTYPES:
        for n, d in [(16, 5), (4, 3)]:
            x = _batch(rand, dtype, n, d)
            gamma, beta, running_mean, running_var = _parameters(rand, dtype, d)
            for label, extra in (("", {}), (" eps=0.1 momentum=0.3", {"eps": 0.1, "momentum": 0.3})):
                out, _, new_mean, new_var = impl.batchnorm_forward(
                    x, gamma, beta, running_mean, running_var, False, **extra)
                key = f"{_name(dtype)} N={n} D={d}{label}"
                results[f"out {key}"] = out
                results[f"running_mean {key}"] = new_mean
                results[f"running_var {key}"] = new_var
    return results


@hidden_test(task="batchnorm", weight=3.0)
def batchnorm_backward_gradients(impl, rand, device):
    """dx, dgamma and dbeta in training mode for N=16 D=5 and N=3 D=4."""
    results = {}
    for dtype in DTYPES:
        for n, d in [(16, 5), (3, 4)]:
            x = _batch(rand, dtype, n, d)
            gamma, beta, running_mean, running_var = _parameters(rand, dtype, d)
            dout = rand.tensor(n, d, dtype=dtype)
            _, cache, _, _ = impl.batchnorm_forward(x, gamma, beta, running_mean, running_var, True)
            dx, dgamma, dbeta = impl.batchnorm_backward(dout, cache)
            key = f"{_name(dtype)} N={n} D={d}"
            results.update({f"dx {key}": dx, f"dgamma {key}": dgamma, f"dbeta {key}": dbeta})
    return results
