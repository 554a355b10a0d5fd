"""Public tests of the batch-norm task; run them with `pytest` from your repository's root."""
import pytest
import torch
import torch.nn.functional as F

from layers import batchnorm_backward, batchnorm_forward

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def assert_close(actual, expected, rtol=1e-5, atol=1e-8, hint=""):
    """Like ``assert torch.allclose(actual, expected)``, but a failure says how many values
    differ, the greatest absolute and relative differences and where, and what to check."""
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, check_dtype=False,
                               msg=lambda report: report + (f"\nHint: {hint}" if hint else ""))


def _parameters(d, dtype=torch.float64, device="cpu"):
    ones, zeros = torch.ones(d, dtype=dtype, device=device), torch.zeros(d, dtype=dtype, device=device)
    return ones, zeros, zeros.clone(), ones.clone()  # gamma, beta, running_mean, running_var


def test_small_example_by_hand():
    # Feature 0 holds 1 and 3: mean 2, biased variance 1. Feature 1 holds 2 and 6: mean 4, variance 4.
    x = torch.tensor([[1.0, 2.0], [3.0, 6.0]], dtype=torch.float64)
    gamma, beta, running_mean, running_var = _parameters(2)
    out, _, new_mean, new_var = batchnorm_forward(x, gamma, beta, running_mean, running_var, True, eps=0.0)
    assert out.tolist() == [pytest.approx([-1.0, -1.0]), pytest.approx([1.0, 1.0])]
    # Running stats: 0.9 * old + 0.1 * batch, with the UNBIASED variance (2 and 8) for the variance.
    assert new_mean.tolist() == pytest.approx([0.2, 0.4])
    assert new_var.tolist() == pytest.approx([0.9 + 0.1 * 2, 0.9 + 0.1 * 8])
    # The arguments are left as they were.
    assert running_mean.tolist() == [0.0, 0.0] and running_var.tolist() == [1.0, 1.0]


def test_eval_mode_uses_running_statistics():
    x = torch.tensor([[1.0, 2.0], [3.0, 6.0]], dtype=torch.float64)
    gamma = torch.tensor([2.0, 1.0], dtype=torch.float64)
    beta = torch.tensor([0.0, 1.0], dtype=torch.float64)
    running_mean = torch.tensor([1.0, 2.0], dtype=torch.float64)
    running_var = torch.tensor([4.0, 16.0], dtype=torch.float64)
    out, _, new_mean, new_var = batchnorm_forward(x, gamma, beta, running_mean, running_var, False, eps=0.0)
    assert out.tolist() == [pytest.approx([0.0, 1.0]), pytest.approx([2.0, 2.0])]
    assert_close(new_mean, running_mean, rtol=0, atol=0, hint="evaluation mode returns the running mean unchanged")
    assert_close(new_var, running_var, rtol=0, atol=0, hint="evaluation mode returns the running variance unchanged")


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_agrees_with_torch(train):
    torch.manual_seed(4)
    x = torch.randn(8, 3, dtype=torch.float64) * 2 + 1
    gamma, beta = torch.randn(3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    running_mean, running_var = torch.randn(3, dtype=torch.float64), torch.rand(3, dtype=torch.float64) + 0.5
    out, _, new_mean, new_var = batchnorm_forward(x, gamma, beta, running_mean, running_var, train, 0.2, 1e-3)
    # F.batch_norm updates the running statistics it is given in place: hand it copies.
    torch_mean, torch_var = running_mean.clone(), running_var.clone()
    expected = F.batch_norm(x, torch_mean, torch_var, gamma, beta, training=train, momentum=0.2, eps=1e-3)
    assert_close(out, expected, hint="training normalises with the batch's biased variance (divided by N); "
                 "evaluation with the running statistics")
    running = ("momentum is the weight of the NEW batch statistic: (1 - momentum) * running + momentum * batch, "
               "with the unbiased variance (divided by N - 1) for the running variance")
    assert_close(new_mean, torch_mean, hint=running)
    assert_close(new_var, torch_var, hint=running)


def test_backward_matches_numerical_gradient():
    torch.manual_seed(5)
    x = torch.randn(5, 3, dtype=torch.float64) * 2 + 1
    gamma, beta = torch.randn(3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    running_mean, running_var = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    dout = torch.randn(5, 3, dtype=torch.float64)
    _, cache, _, _ = batchnorm_forward(x, gamma, beta, running_mean, running_var, True)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)

    def numerical(which):
        inputs = [x, gamma, beta]
        grad = torch.zeros_like(inputs[which])
        h = 1e-6
        for index in range(grad.numel()):
            shifted = []
            for sign in (1, -1):
                args = [t.clone() for t in inputs]
                args[which].view(-1)[index] += sign * h
                out = batchnorm_forward(args[0], args[1], args[2], running_mean, running_var, True)[0]
                shifted.append((out * dout).sum().item())
            grad.view(-1)[index] = (shifted[0] - shifted[1]) / (2 * h)
        return grad

    assert_close(dx, numerical(0), rtol=1e-5, atol=1e-8, hint="x reaches the output directly, through the "
                 "batch mean and through the batch variance: dx has a term for each")
    assert_close(dgamma, numerical(1), rtol=1e-5, atol=1e-8, hint="dgamma sums dout * x_hat over the batch")
    assert_close(dbeta, numerical(2), rtol=1e-5, atol=1e-8, hint="dbeta sums dout over the batch")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_dtype_device_and_inputs(dtype, device):
    x = torch.tensor([[1.0, -2.0], [3.0, 0.5], [0.0, 1.0]], dtype=dtype, device=device)
    gamma, beta, running_mean, running_var = _parameters(2, dtype, device)
    originals = [t.clone() for t in (x, gamma, beta, running_mean, running_var)]
    out, cache, new_mean, new_var = batchnorm_forward(x, gamma, beta, running_mean, running_var, True)
    grads = batchnorm_backward(torch.ones_like(x), cache)
    for result, like in [(out, x), (new_mean, gamma), (new_var, gamma), *zip(grads, (x, gamma, beta))]:
        assert result.shape == like.shape and result.dtype == dtype and result.device == x.device
    for after, before in zip((x, gamma, beta, running_mean, running_var), originals):
        assert torch.equal(after, before), "batchnorm_forward must not modify its arguments"
