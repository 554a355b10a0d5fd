"""Forbidden APIs are refused at torch's dispatcher, however they are spelled, in any thread,
with torch's modes switched off, and even when the refusal is caught."""
import threading
import warnings

import pytest
import torch
import torch.nn.functional as F

from graders.grading import engine
from graders.integrity import enforce, guard
from graders.outputs import release

X = torch.randn(2, 3, 6, 5, dtype=torch.float64)
W = torch.randn(4, 3, 3, 2, dtype=torch.float64)
DOUT = torch.randn(2, 4, 4, 4, dtype=torch.float64)
V = torch.randn(7, dtype=torch.float64)


def _swallowing(action):
    def run():
        try:
            action()
        except BaseException:  # noqa: BLE001 - the attack: hide the refusal and carry on
            pass
    return run


def _in_thread(action):
    def run():
        worker = threading.Thread(target=_swallowing(action))
        worker.start()
        worker.join()
    return run


def _modes_popped(action):
    """Pop every torch function mode, call, push them back: what beat the old guard."""
    def run():
        popped = []
        while torch._C._len_torch_function_stack():
            popped.append(torch._C._pop_torch_function_stack())
        try:
            action()
        finally:
            for mode in reversed(popped):
                torch._C._push_on_torch_function_stack(mode)
    return run


def _without_torch_function(action):
    def run():
        with torch._C.DisableTorchFunction():
            action()
    return run


def _set_requires_grad_and_differentiate():
    y = X.clone()
    y.requires_grad = True
    torch.autograd.grad((y * y).sum(), y)


def _autograd_inside_backward():
    """A hand-written backward that asks autograd: grad mode switched back on, in no_grad."""
    with torch.no_grad():
        with torch.enable_grad():
            y = V.detach().requires_grad_()
            torch.autograd.grad((y * 3).sum(), y)


def _switch_anomaly_off_then_differentiate():
    torch.autograd.set_detect_anomaly(False)
    (V.clone().requires_grad_() * 2).sum().backward()


CONV = ("torch.conv", lambda: F.conv2d(X, W))
SPELLINGS = {
    "F.conv2d": CONV,
    "torch.conv2d": ("torch.conv", lambda: torch.conv2d(X, W)),
    "getattr spelling": ("torch.conv", lambda: getattr(torch, "con" + "v2d")(X, W)),
    "aten.convolution": ("torch.conv", lambda: torch.ops.aten.convolution(X, W, None, [1, 1], [0, 0], [1, 1],
                                                                           False, [0, 0], 1)),
    "aten.convolution.default": ("torch.conv", lambda: torch.ops.aten.convolution.default(
        X, W, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)),
    "aten.convolution_backward.default": ("torch.conv", lambda: torch.ops.aten.convolution_backward.default(
        DOUT, X, W, [4], [1, 1], [0, 0], [1, 1], False, [0, 0], 1, [True, True, True])),
    "torch._C._nn.thnn_conv2d": ("torch.conv", lambda: torch._C._nn.thnn_conv2d(X, W, [3, 2])),
    "torch._convolution_mode": ("torch.conv", lambda: torch._convolution_mode(X, W, None, [1, 1], "valid",
                                                                               [1, 1], 1)),
    "torch.nn.grad.conv2d_input": ("torch.conv", lambda: torch.nn.grad.conv2d_input(X.shape, W, DOUT)),
    "torch.nn.grad.conv2d_weight": ("torch.conv", lambda: torch.nn.grad.conv2d_weight(X, W.shape, DOUT)),
    "F.conv2d in a thread": ("torch.conv", _in_thread(CONV[1])),
    "F.conv2d, torch function off": ("torch.conv", _without_torch_function(CONV[1])),
    "F.conv2d, mode stack popped": ("torch.conv", _modes_popped(CONV[1])),
    "F.conv2d in inference mode": ("torch.conv", lambda: torch.inference_mode().__enter__() or CONV[1]()),
    "Tensor.unfold": ("torch.unfold", lambda: X.unfold(2, 3, 1)),
    "F.unfold": ("torch.unfold", lambda: F.unfold(X, (3, 2))),
    "aten.im2col.default": ("torch.unfold", lambda: torch.ops.aten.im2col.default(X, [2, 2], [1, 1], [0, 0], [1, 1])),
    "aten.col2im.default": ("torch.unfold", lambda: torch.ops.aten.col2im.default(
        torch.ones(1, 4, 9, dtype=torch.float64), [4, 4], [2, 2], [1, 1], [0, 0], [1, 1])),
    "F.max_pool2d": ("torch.pool", lambda: F.max_pool2d(X, 2)),
    "aten.max_pool2d_with_indices.default": ("torch.pool", lambda: torch.ops.aten.max_pool2d_with_indices.default(
        X, [2, 2])),
    "aten.max_pool2d_with_indices_backward.default": ("torch.pool", lambda: torch.ops.aten.max_pool2d_with_indices_backward.default(
        torch.ones(2, 3, 3, 2, dtype=torch.float64), X, [2, 2], [2, 2], [0, 0], [1, 1], False,
        torch.zeros(2, 3, 3, 2, dtype=torch.long))),
    "Tensor.tanh_": ("torch.tanh", lambda: X.clone().tanh_()),
    "aten.tanh.default": ("torch.tanh", lambda: torch.ops.aten.tanh.default(V)),
    "aten.tanh_backward.default": ("torch.tanh", lambda: torch.ops.aten.tanh_backward.default(V, V)),
    "torch.special.expit": ("torch.sigmoid", lambda: torch.special.expit(X)),
    "aten.sigmoid.default": ("torch.sigmoid", lambda: torch.ops.aten.sigmoid.default(V)),
    "torch._C._nn.log_sigmoid": ("torch.sigmoid", lambda: torch._C._nn.log_sigmoid(V)),
    "F.silu": ("torch.sigmoid", lambda: F.silu(V)),
    "F.softmax": ("torch.softmax", lambda: F.softmax(X, dim=-1)),
    "aten._softmax.default": ("torch.softmax", lambda: torch.ops.aten._softmax.default(V, 0, False)),
    "torch._masked_softmax": ("torch.softmax", lambda: torch._masked_softmax(V, V > 0)),
    "torch.special.log_softmax": ("torch.softmax", lambda: torch.special.log_softmax(X, dim=-1)),
    "F.cross_entropy": ("torch.cross_entropy", lambda: F.cross_entropy(X[:, :, 0, 0], torch.tensor([0, 1]))),
    "F.batch_norm": ("torch.batch_norm", lambda: F.batch_norm(X, None, None, training=True)),
    "aten._native_batch_norm_legit.no_stats": ("torch.batch_norm", lambda: torch.ops.aten._native_batch_norm_legit.no_stats(
        X, None, None, True, 0.1, 1e-5)),
    "F.layer_norm on a transpose": ("torch.batch_norm", lambda: F.layer_norm(X.flatten(1).T, (2,))),
    "F.dropout": ("torch.dropout", lambda: F.dropout(X, 0.5)),
    "aten.native_dropout.default": ("torch.dropout", lambda: torch.ops.aten.native_dropout.default(X, 0.5, True)),
    "F.alpha_dropout": ("torch.dropout", lambda: F.alpha_dropout(X, 0.5, training=True)),
    ".backward()": ("autograd", lambda: (X.clone().requires_grad_() * 2).sum().backward()),
    "requires_grad = True": ("autograd", _set_requires_grad_and_differentiate),
    "autograd inside a backward": ("autograd", _autograd_inside_backward),
    "autograd in a thread": ("autograd", _in_thread(_set_requires_grad_and_differentiate)),
    "autograd, torch function off": ("autograd", _without_torch_function(_set_requires_grad_and_differentiate)),
    "torch.func.grad": ("autograd", lambda: torch.func.grad(lambda v: (v * v).sum())(V)),
    "torch.func.jvp (forward AD)": ("autograd", lambda: torch.func.jvp(lambda v: v * v, (V,), (V,))),
    "anomaly mode switched off": ("autograd", _switch_anomaly_off_then_differentiate),
    "swallowed": ("torch.tanh", _swallowing(lambda: torch.tanh(X))),
}
# These hide the refusal from the caller (another thread, a bare except): the watch keeps it.
QUIET = {"swallowed", "F.conv2d in a thread", "autograd in a thread"}
# The torch modes the guard used to be refused these too: kept, so that the dispatcher does
# no worse (composites such as dropout and batch norm, inference mode, autograd by name).
OLD_GUARD_REFUSED = {".backward()", "F.alpha_dropout", "F.batch_norm", "F.conv2d in inference mode", "F.conv2d",
                     "F.cross_entropy", "F.dropout", "F.max_pool2d", "F.softmax", "F.unfold", "Tensor.tanh_",
                     "Tensor.unfold", "anomaly mode switched off", "aten.convolution", "autograd inside a backward",
                     "getattr spelling", "requires_grad = True", "swallowed", "torch._C._nn.log_sigmoid",
                     "torch.conv2d", "torch.func.grad", "torch.special.expit", "torch.special.log_softmax"}


@pytest.mark.parametrize("spelling", sorted(set(SPELLINGS) - OLD_GUARD_REFUSED))
def test_spellings_that_beat_the_old_guard_are_refused(spelling):
    _refused(spelling)


@pytest.mark.parametrize("spelling", sorted(OLD_GUARD_REFUSED))
def test_spellings_the_old_guard_refused_still_are(spelling):
    _refused(spelling)


def _refused(spelling):
    group, action = SPELLINGS[spelling]
    with torch.inference_mode(False):
        if spelling in QUIET:
            with enforce.watching([group]) as seen:
                action()
        else:
            with pytest.raises(guard.ForbiddenCall):
                with enforce.watching([group]) as seen:
                    action()
    assert seen.violation is not None and seen.violation.group == group
    assert not torch.is_anomaly_enabled()  # the guard switched its autograd trap off again


def test_a_thread_started_before_the_call_is_refused_during_it():
    requests, answers = [], []
    ready, done = threading.Event(), threading.Event()

    def server():
        ready.wait()
        try:
            answers.append(F.conv2d(X, W))
        except guard.ForbiddenCall as refusal:
            answers.append(refusal)
        done.set()

    thread = threading.Thread(target=server)
    thread.start()
    with enforce.watching(["torch.conv"]) as seen:
        requests.append(1)
        ready.set()
        done.wait(10)
    thread.join()
    assert isinstance(answers[0], guard.ForbiddenCall) and seen.violation is not None


def test_allowed_operators_pass_through_unchanged_autograd_included():
    expected = F.conv2d(X, W)
    leaf = X.clone().requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "an autograd kernel was not registered" must not appear
        with enforce.watching(["torch.pool", "torch.tanh"]) as seen:
            out = F.conv2d(leaf, W)
            out.sum().backward()
            dropped = F.dropout(V, 0.0)
    assert seen.violation is None
    assert torch.equal(out.detach(), expected) and leaf.grad.shape == X.shape and torch.equal(dropped, V)
    assert torch.equal(F.conv2d(X, W), expected)  # and after the guard


def test_other_groups_do_not_interfere():
    with enforce.watching(["torch.conv", "torch.pool", "autograd"]) as seen:
        padded = F.pad(X, (1, 1, 1, 1))
        torch.einsum("nchw,fchw->nf", padded[:, :, :3, :2], W)
        padded.as_strided((2, 3, 2, 2), padded.stride()).sum()
        torch.tanh(X).sum()
    assert seen.violation is None


# --------------------------------------------------------------------------- families

@pytest.mark.parametrize("group, members", [
    ("torch.conv", ["aten::convolution", "aten::convolution_backward", "aten::_convolution_mode",
                    "aten::thnn_conv2d", "aten::slow_conv3d", "aten::_slow_conv2d_forward",
                    "aten::mkldnn_convolution", "aten::cudnn_convolution", "aten::cudnn_convolution_relu",
                    "aten::cudnn_convolution_add_relu", "aten::_conv_depthwise2d", "aten::_nnpack_spatial_convolution",
                    "aten::conv_transpose2d.input", "mkldnn::_convolution_pointwise", "mkldnn_prepacked::conv2d_run"]),
    ("torch.unfold", ["aten::im2col", "aten::col2im", "aten::unfold", "aten::unfold_backward"]),
    ("torch.pool", ["aten::max_pool2d_with_indices", "aten::max_pool2d_with_indices_backward",
                    "aten::avg_pool2d_backward", "aten::adaptive_max_pool2d", "aten::max_unpool2d"]),
    ("torch.softmax", ["aten::_softmax", "aten::_log_softmax_backward_data", "aten::_masked_softmax",
                       "aten::_safe_softmax"]),
    ("torch.tanh", ["aten::tanh", "aten::tanh_", "aten::tanh_backward", "aten::_foreach_tanh"]),
    ("torch.sigmoid", ["aten::sigmoid", "aten::sigmoid_backward", "aten::log_sigmoid_forward", "aten::special_expit"]),
    ("torch.batch_norm", ["aten::native_batch_norm", "aten::_native_batch_norm_legit",
                          "aten::_native_batch_norm_legit_no_training", "aten::_native_batch_norm_legit_functional",
                          "aten::cudnn_batch_norm", "aten::batch_norm_stats", "aten::batch_norm_elemt",
                          "aten::batch_norm_backward_reduce", "aten::batch_norm_gather_stats"]),
    ("torch.dropout", ["aten::dropout", "aten::native_dropout", "aten::_fused_dropout", "aten::_masked_scale",
                       "aten::feature_alpha_dropout"]),
    ("autograd", ["aten::_make_dual"]),
])
def test_families_come_from_the_registry_and_cover_every_variant(group, members):
    covered = {op.split(".")[0] for op in guard.family(group)} | set(guard.family(group))
    assert set(members) <= covered, set(members) - covered


@pytest.mark.parametrize("group, outsiders", [
    ("torch.conv", ["aten::_convert_indices_from_coo_to_csr", "aten::conj"]),
    ("torch.pool", ["inductor::_alloc_from_pool"]),
    ("torch.tanh", ["aten::atanh", "aten::hardtanh"]),
    ("torch.sigmoid", ["aten::hardsigmoid"]),
    ("torch.dropout", ["aten::_flash_attention_forward_no_dropout_inplace"]),
])
def test_families_leave_look_alikes_out(group, outsiders):
    covered = {op.split(".")[0] for op in guard.family(group)}
    assert not set(outsiders) & covered


def _arguments(op):
    """Arguments of the right types for ``op``'s schema (values need not make sense: the
    guard refuses before the kernel looks at them), or None if a type cannot be made."""
    args, kwargs = [], {}
    for argument in op._schema.arguments:
        kind = str(argument.type)
        if argument.kwarg_only and argument.has_default_value():
            continue
        size = getattr(argument, "N", None) or 2
        value = {"Tensor": lambda: torch.ones(1, 1, 4, 4), "List[Tensor]": lambda: [torch.ones(1, 1, 4, 4)],
                 "List[Optional[Tensor]]": lambda: [None], "int": lambda: 1, "SymInt": lambda: 1,
                 "float": lambda: 0.5, "bool": lambda: False, "number": lambda: 1, "str": lambda: "none",
                 "List[int]": lambda: [1] * size, "List[SymInt]": lambda: [1] * size,
                 "List[bool]": lambda: [True] * (getattr(argument, "N", None) or 3),
                 "List[float]": lambda: [1.0] * size}.get(kind)
        if kind.startswith("Optional["):
            value = lambda: None  # noqa: E731
        if value is None:
            return None
        (kwargs.__setitem__(argument.name, value()) if argument.kwarg_only else args.append(value()))
    return args, kwargs


def test_every_operator_of_every_family_is_refused():
    """Called with CPU tensors, every overload with a CPU kernel fails with our refusal; every
    one (CUDA-only ones included) has our kernel at every key it had a kernel for."""
    fence = enforce.install()
    called, untestable = 0, []
    for group in guard.GROUPS:
        for name in guard.family(group):
            keys = fence.registered.get(name)
            assert keys is not None, f"{name} ({group}) was never looked at"
            if not keys:  # a schema without kernels: nothing can run it
                assert not any(torch._C._dispatch_has_computed_kernel_for_dispatch_key(name, k)
                               for k in fence.keys if not k.startswith("Autograd")), name
                continue
            if "CPU" not in keys and "AutogradCPU" not in keys:
                continue  # a CUDA- or quantized-only kernel: it cannot run on CPU tensors at all
            namespace, rest = name.split("::")
            base, _, overload = rest.partition(".")
            op = getattr(getattr(getattr(torch.ops, namespace), base), overload or "default")
            built = _arguments(op)
            if built is None:
                untestable.append(name)
                continue
            with pytest.raises(guard.ForbiddenCall):
                with enforce.watching([group]):
                    op(*built[0], **built[1])
            called += 1
    assert called > 250
    # Prepacked quantized weights and the like: registered (checked above), not callable here.
    assert all("quantized" in n or "mkldnn" in n or "onednn" in n for n in untestable), untestable


RAW_GROUP = """
import torch
from graders.integrity import enforce, guard
V = torch.randn(7, dtype=torch.float64)
cases = lambda: (V * 0.1, V.float() * 0.1, torch.ones(2, dtype=torch.int64) * 2.5, V * 3)
before = cases()
try:
    with enforce.watching(["aten.mul"]):
        V * 2
    raise SystemExit("not refused")
except guard.ForbiddenCall:
    pass
# Allowed again afterwards, exactly as before: Python numbers in Tensor slots included.
for old, new in zip(before, cases()):
    assert old.dtype == new.dtype and torch.equal(old, new), (old, new)
print("ok")
"""


def test_raw_operator_groups_and_typos():
    import subprocess
    import sys

    from conftest import ROOT

    # In its own interpreter: a kernel on aten::mul would stay for the rest of this one.
    run = subprocess.run([sys.executable, "-c", RAW_GROUP], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.stdout.strip() == "ok", run.stdout + run.stderr
    with pytest.raises(ValueError, match="names no operator torch has"):
        guard.check_groups(["aten.convolutoin"], "manifest.toml")


def test_unknown_group_is_a_manifest_error():
    with pytest.raises(ValueError, match="unknown forbidden group 'torch.magic'"):
        guard.check_groups(["torch.magic"], "manifest.toml")


# --------------------------------------------------------------------------- in a worker

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
    assert "conv2d" in message and "conv.py line" in message and "forbids" in message
    assert all(t.status == "passed" for t in result.tests if t.task in ("output_size", "pool_forward", "pool_backward"))
    assert not result.flagged  # a plain forbidden call is refused, not tampering


def test_the_stub_of_a_guarded_assignment_scores_zero_without_forbidden_noise(load, make_submission):
    a3 = load("a3_torch_layers")
    stub = release.strip_solutions(a3.reference_source)
    result = engine.grade(a3, make_submission("stub", {"layers.py": stub}), "stub", devices={"cpu"})
    assert result.score == 0 and not any("forbids" in t.message for t in result.tests)
    assert not result.flagged
