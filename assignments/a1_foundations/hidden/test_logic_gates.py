"""Hidden tests of the logic-gates task: ``and_perceptron`` and ``xor_network``.

Many weights compute the same gate, so the tests evaluate the student's weights on the
four inputs and compare truth tables, never weights.
"""
import torch

from graders.grading.hidden import check, hidden_test

INPUTS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
AND = (0, 0, 0, 1)
OR = (0, 1, 1, 1)
XOR = (0, 1, 1, 0)
NEVER = (0, 0, 0, 0)


def _tensor(value, shape, name):
    """``value`` as a float64 CPU tensor (lists, numbers and tensors on any device are fine)."""
    tensor = torch.as_tensor(value, dtype=torch.float64, device="cpu")
    check(tuple(tensor.shape) == shape, f"{name} should have shape {shape}, not {tuple(tensor.shape)}")
    return tensor


def _scalar(value, name):
    tensor = torch.as_tensor(value, dtype=torch.float64, device="cpu")
    check(tensor.numel() == 1, f"{name} should be a single number, not shape {tuple(tensor.shape)}")
    return tensor.reshape(())


def _table_text(table):
    return ", ".join(f"{tuple(map(int, x))} -> {y}" for x, y in zip(INPUTS.tolist(), table))


@hidden_test(task="logic_gates")
def and_perceptron_truth_table(impl):
    """step(w·x + b) is AND on the four inputs of {0, 1}²; any such w and b pass."""
    w, b = impl.and_perceptron()
    w, b = _tensor(w, (2,), "w"), _scalar(b, "b")
    table = tuple(int(z > 0) for z in INPUTS @ w + b)
    check(table == AND, f"your perceptron gives {_table_text(table)}; AND gives {_table_text(AND)}",
          mistake={OR: "and_perceptron_is_or", NEVER: "and_perceptron_never_fires"}.get(table))
    return {"truth_table": table}


@hidden_test(task="logic_gates")
def xor_network_truth_table(impl):
    """relu(x @ W1 + b1) @ w2 + b2 > 0.5 is XOR on the four inputs of {0, 1}²; any such weights pass."""
    params = impl.xor_network()
    check(isinstance(params, dict) and {"W1", "b1", "w2", "b2"} <= params.keys(),
          "xor_network should return a dict with the keys W1, b1, w2 and b2")
    W1, b1 = _tensor(params["W1"], (2, 2), "W1"), _tensor(params["b1"], (2,), "b1")
    w2, b2 = _tensor(params["w2"], (2,), "w2"), _scalar(params["b2"], "b2")
    out = torch.clamp(INPUTS @ W1 + b1, min=0) @ w2 + b2
    table = tuple(int(z > 0.5) for z in out)
    check(table == XOR, f"your network gives {_table_text(table)}; XOR gives {_table_text(XOR)}",
          mistake={OR: "xor_network_is_or"}.get(table))
    return {"truth_table": table}
