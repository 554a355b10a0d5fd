"""Public tests of the logic-gates task; run them with `pytest` from your repository's root."""
import torch

from foundations import and_perceptron, xor_network

INPUTS = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)]


def test_and_perceptron_truth_table():
    w, b = and_perceptron()
    w = torch.as_tensor(w, dtype=torch.float64)
    outputs = [int(w @ torch.tensor(x, dtype=torch.float64) + b > 0) for x in INPUTS]
    assert outputs == [0, 0, 0, 1]


def test_xor_network_truth_table():
    params = xor_network()
    W1, b1, w2 = (torch.as_tensor(params[k], dtype=torch.float64) for k in ("W1", "b1", "w2"))
    assert W1.shape == (2, 2) and b1.shape == (2,) and w2.shape == (2,)
    x = torch.tensor(INPUTS, dtype=torch.float64)
    out = torch.clamp(x @ W1 + b1, min=0) @ w2 + params["b2"]
    assert (out > 0.5).int().tolist() == [0, 1, 1, 0]
