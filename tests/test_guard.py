"""Forbidden APIs are refused at run time, however they are spelled, even when caught."""
import pytest
import torch
import torch.nn.functional as F

from graders import engine, guard, release

X = torch.randn(2, 3, 6, 5, dtype=torch.float64)
W = torch.randn(4, 3, 3, 2, dtype=torch.float64)


def _swallowing(action):
    def run():
        try:
            action()
        except BaseException:  # noqa: BLE001 - the attack: hide the refusal and carry on
            pass
    return run


def _set_requires_grad_and_differentiate():
    y = X.clone()
    y.requires_grad = True
    torch.autograd.grad((y * y).sum(), y)


SPELLINGS = {
    "F.conv2d": ("torch.conv", lambda: F.conv2d(X, W)),
    "torch.conv2d": ("torch.conv", lambda: torch.conv2d(X, W)),
    "getattr spelling": ("torch.conv", lambda: getattr(torch, "con" + "v2d")(X, W)),
    "torch.ops.aten": ("torch.conv", lambda: torch.ops.aten.convolution(X, W, None, [1, 1], [0, 0], [1, 1],
                                                                        False, [0, 0], 1)),
    "Tensor.unfold": ("torch.unfold", lambda: X.unfold(2, 3, 1)),
    "F.unfold": ("torch.unfold", lambda: F.unfold(X, (3, 2))),
    "F.max_pool2d": ("torch.pool", lambda: F.max_pool2d(X, 2)),
    "Tensor.tanh_": ("torch.tanh", lambda: X.clone().tanh_()),
    "torch.special.expit": ("torch.sigmoid", lambda: torch.special.expit(X)),
    "F.softmax": ("torch.softmax", lambda: F.softmax(X, dim=-1)),
    "torch.special.log_softmax": ("torch.softmax", lambda: torch.special.log_softmax(X, dim=-1)),
    "F.cross_entropy": ("torch.cross_entropy", lambda: F.cross_entropy(X[:, :, 0, 0], torch.tensor([0, 1]))),
    "F.dropout": ("torch.dropout", lambda: F.dropout(X, 0.5)),
    ".backward()": ("autograd", lambda: (X.clone().requires_grad_() * 2).sum().backward()),
    "requires_grad = True": ("autograd", _set_requires_grad_and_differentiate),
    "swallowed": ("torch.tanh", _swallowing(lambda: torch.tanh(X))),
}


@pytest.mark.parametrize("deep", [False, True], ids=["function mode", "function + dispatch modes"])
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_every_spelling_is_refused(spelling, deep):
    group, action = SPELLINGS[spelling]
    with pytest.raises(guard.ForbiddenCall) if spelling != "swallowed" else _nothing():
        with guard.watching([group], deep=deep) as seen:
            action()
    assert seen.violation is not None and seen.violation.group == group


def test_allowed_work_passes_and_other_groups_do_not_interfere():
    with guard.watching(["torch.conv", "torch.pool", "autograd"]) as seen:
        padded = F.pad(X, (1, 1, 1, 1))
        torch.einsum("nchw,fchw->nf", padded[:, :, :3, :2], W)
        torch.tanh(X).sum()
    assert seen.violation is None


def test_unknown_group_is_a_manifest_error():
    with pytest.raises(ValueError, match="unknown forbidden group 'torch.magic'"):
        guard.check_groups(["torch.magic"], "manifest.toml")


def test_a_forbidden_call_in_a_submission_scores_zero_and_names_the_call(load, make_submission):
    a4 = load("a4_conv")
    cheat = a4.reference_source + '''

def conv2d_forward(x, w, b, stride=1, padding=0):
    import torch.nn.functional as F
    out = F.conv2d(x, w, b, stride=stride, padding=padding)
    return out, (x, w, b, stride, padding)
'''
    result = engine.grade(a4, make_submission("cheat", {"conv.py": cheat}), "cheat", devices={"cpu"})
    forward = [t for t in result.tests if t.task == "conv_forward"]
    assert forward and all(t.points == 0 for t in forward)
    message = forward[0].message
    assert "torch.conv2d" in message and "conv.py line" in message and "forbids" in message
    assert all(t.status == "passed" for t in result.tests if t.task in ("output_size", "pool_forward", "pool_backward"))


def test_the_stub_of_a_guarded_assignment_scores_zero_without_forbidden_noise(load, make_submission):
    a3 = load("a3_torch_layers")
    stub = release.strip_solutions(a3.reference_source)
    result = engine.grade(a3, make_submission("stub", {"layers.py": stub}), "stub", devices={"cpu"})
    assert result.score == 0 and not any("forbids" in t.message for t in result.tests)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
