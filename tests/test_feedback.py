"""Feedback that is right about real students' code (issue 13): each test grades a small
submission through the real sandbox and checks what the student is told."""
import ast
import copy
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from graders import kinds
from graders.grading.assignment import ManifestError
from graders.grading import compare, engine, validate
from graders.outputs import render, report


def _only(assignment, *names):
    """A copy of ``assignment`` that runs only the hidden tests ``names`` (quicker)."""
    narrowed = replace(assignment, _modules={})
    narrowed.__dict__["tests"] = [spec for spec in assignment.tests if spec.name in names]
    assert len(narrowed.tests) == len(names)
    return narrowed


def _with(assignment, *mistakes):
    """The reference with the catalogued ``mistakes`` in place of their targets."""
    source = assignment.reference_source
    for mistake in mistakes:
        entry = next(e for e in assignment.mistakes if e.id == mistake)
        source += f"\n\n\n{entry.source}\n{entry.target} = {entry.id}\n"
    return source


def _grade(assignment, make_submission, source, name="student", extra=None):
    folder = make_submission(name, {f"{assignment.module}.py": source, **(extra or {})})
    return engine.grade(assignment, folder, name)


def _test(result, name):
    return next(t for t in result.tests if t.name == name and t.device == "cpu")


# --------------------------------------------------------------------------- exceptions

def test_a_subclass_of_the_expected_exception_passes(load, make_submission):
    a1 = _only(load("a1_foundations"), "broadcast_incompatible_raises", "broadcast_edge_cases")
    source = a1.reference_source.replace('raise ValueError(f"shapes', 'raise BroadcastError(f"shapes')
    source += "\n\nclass BroadcastError(ValueError):\n    \"\"\"As array libraries raise.\"\"\"\n"
    result = _grade(a1, make_submission, source)
    assert result.score == result.max_score, [t.message for t in result.tests]


def test_an_exception_merely_named_like_the_expected_one_does_not(load, make_submission):
    a1 = _only(load("a1_foundations"), "broadcast_incompatible_raises")
    source = a1.reference_source + "\n\nclass ValueError(Exception):\n    pass\n"
    test = _test(_grade(a1, make_submission, source), "broadcast_incompatible_raises")
    assert test.status == "failed" and "should raise ValueError (or a subclass of it)" in test.message


# --------------------------------------------------------------------------- self-consistency

def test_a_net_ignoring_dropout_loses_the_self_consistency_points(a2, make_submission):
    result = _grade(a2, make_submission, _with(a2, "two_layer_net_without_dropout"))
    test = _test(result, "two_layer_net_dropout_gradients")
    assert test.status == "failed" and test.points == 0
    assert [d.id for d in test.diagnoses] == ["two_layer_net_without_dropout"]


# --------------------------------------------------------------------------- properties, catalogs

def test_every_failed_property_is_named(a2, make_submission):
    """Dropout that keeps with probability p and does not scale: both mistakes, one test."""
    source = a2.reference_source + (
        "\n\ndef dropout_forward(x, p, train, rng):\n"
        "    if not train:\n        return x.copy(), None\n"
        "    mask = (rng.random(x.shape) < p).astype(x.dtype)\n"
        "    return x * mask, mask\n")
    test = _test(_grade(a2, make_submission, source), "dropout_train_float64")
    assert {d.id for d in test.diagnoses} == {"dropout_no_scaling", "dropout_p_as_keep"}
    assert "must be scaled by 1 / (1 - p)" in test.message and re.search(r"a fraction 0\.(69|70|71)\d", test.message)


@pytest.mark.parametrize("name, mistakes", [
    ("a2_numpy_mlp", {"momentum_cs231n", "relu_backward_in_place", "linear_backward_averaged", "mse_half_squared",
                      "dropout_not_inverted"}),
    ("a3_torch_layers", {"softmax_global_max_shift", "cross_entropy_log_of_softmax", "batchnorm_cs231n_running_stats",
                         "log_softmax_as_log_of_softmax"}),
    ("a4_conv", {"maxpool_backward_to_every_element", "maxpool_backward_window_assigned"}),
    ("a1_foundations", {"kaiming_fan_from_torch_layout"}),
])
def test_catalogs_cover_the_conventions_of_public_code(name, mistakes, load):
    """Each is caught and diagnosed by `nngrade validate` (tests/test_validate.py)."""
    assert mistakes <= {entry.id for entry in load(name).mistakes}


def test_cs231n_momentum_is_diagnosed(a2, make_submission):
    a2_optim = _only(a2, "sgd_momentum_three_steps")
    test = _test(_grade(a2_optim, make_submission, _with(a2, "momentum_cs231n")), "sgd_momentum_three_steps")
    assert [d.id for d in test.diagnoses] == ["momentum_cs231n"]
    assert "CS231n" in test.diagnoses[0].explanation


# --------------------------------------------------------------------------- numbers

def test_numbers_show_where_they_differ_with_absolute_and_relative_error():
    tolerance = lambda dtype: (1e-7, 1e-9)  # noqa: E731
    [scalar] = compare.compare(0.3165161184, 0.3165160234, tolerance)
    assert "expected 0.3165160, got 0.3165161" in scalar or "expected 0.316516, got 0.3165161" in scalar
    assert "absolute error 9.5e-08" in scalar and "relative error 3e-07" in scalar
    expected = np.array([[1.0, 2.0], [0.3165160234, 4.0]])
    [array] = compare.compare(expected + np.array([[0, 0], [9.5e-8, 0]]), expected, tolerance)
    assert "at index (1, 0)" in array and "absolute error 9.5e-08" in array
    shown = re.search(r"expected (\S+), got (\S+)", array).groups()
    assert shown[0] != shown[1]


def test_the_notebook_runtime_shows_where_numbers_differ_too():
    from graders.outputs import notebook

    runtime = {"__name__": "__main__"}
    exec(notebook._runtime(), runtime)
    [difference] = runtime["_compare"].compare(np.array([0.3165161184, 1.0]), np.array([0.3165160234, 1.0]),
                                               lambda dtype: {"float64": (1e-7, 1e-9)}[dtype], "dW")
    assert "at index (0,)" in difference and "got 0.3165161" in difference and "absolute error 9.5e-08" in difference


# --------------------------------------------------------------------------- tracebacks

def test_tracebacks_show_only_the_students_frames_with_relative_paths(load, make_submission):
    a3 = _only(load("a3_torch_layers"), "sigmoid_forward_values")
    source = a3.reference_source.replace(
        "    z = torch.exp(-x.abs())\n", "    z = torch.exp(-x.abs())\n    z = helper.widen(z)\n", 1)
    source = "import helper\n" + source
    helper = "import torch\n\n\ndef widen(z):\n    return torch.cat([z, z.new_zeros(3, 3)])\n"
    test = _test(_grade(a3, make_submission, source, extra={"helper.py": helper}), "sigmoid_forward_values")
    assert test.status == "failed" and "raised RuntimeError" in test.message
    assert 'File "layers.py", line' in test.message and 'File "helper.py", line 5, in widen' in test.message
    assert "graders" not in test.message and "site-packages" not in test.message
    assert not re.search(r'File "/', test.message)


def test_an_import_error_names_the_students_line(a2, make_submission):
    result = _grade(a2, make_submission, a2.reference_source + "\n\nLAYERS = build_layers()\n")
    assert result.status == "not_loaded"
    assert "NameError" in result.message and 'File "mlp.py", line' in result.message


# --------------------------------------------------------------------------- stubs, warnings, inputs

def test_a_stub_reads_not_implemented_yet_even_where_the_test_catches_errors(load, make_submission):
    from graders.outputs import release

    a1 = _only(load("a1_foundations"), "broadcast_edge_cases", "broadcast_incompatible_raises")
    result = _grade(a1, make_submission, release.strip_solutions(a1.reference_source))
    for test in result.tests:
        assert test.message == "broadcast_shape() is not implemented yet (it raises NotImplementedError)"
        assert not test.diagnoses


def test_warnings_are_reported_as_warnings(a2, make_submission):
    a2_mse = _only(a2, "mse_loss_float64")
    source = a2.reference_source.replace(
        "    diff = pred - target\n    loss = float(np.mean(diff ** 2))",
        "    diff = pred - target\n    np.log(-np.abs(diff))\n    loss = float(np.mean(diff ** 2))\n"
        "    import warnings\n    warnings.warn(f'the target was {target!r}')", 1)
    result = _grade(a2_mse, make_submission, source)
    assert result.score == result.max_score
    [numpy_warning, own_warning] = _test(result, "mse_loss_float64").warnings
    assert re.fullmatch(r"RuntimeWarning at mlp\.py line \d+: invalid value encountered in log \(3 times\)",
                        numpy_warning)
    assert own_warning.startswith("UserWarning at mlp.py line") and "target was" not in own_warning
    feedback = render.feedback_markdown(result)
    assert "## Warnings" in feedback and "invalid value encountered in log" in feedback
    assert "printed" not in feedback


def test_what_it_sent_starts_with_the_failing_call(a2, make_submission):
    a2_linear = _only(a2, "linear_backward_random")
    source = a2.reference_source.replace("    return dx, dW, db\n", "    return dx, dW.astype(np.float64), db\n", 1)
    test = _test(_grade(a2_linear, make_submission, source), "linear_backward_random")
    assert test.status == "failed" and "dtype float64, expected float32" in test.message
    assert test.inputs[0].startswith("linear_backward(float32 array") and test.inputs[0].endswith("this call failed")
    assert not any("float64" in line and "failed" in line for line in test.inputs)


# --------------------------------------------------------------------------- cascades

def test_a_composite_failing_because_of_a_component_says_fix_it_first(a2, make_submission):
    result = _grade(a2, make_submission, _with(a2, "db_averaged"))
    for name in ("two_layer_net_float64", "two_layer_net_float32", "two_layer_net_dropout_gradients"):
        test = _test(result, name)
        assert test.status == "failed" and test.points == 0
        assert test.fix_first == ["linear_forward", "linear_backward"]
    feedback = render.feedback_markdown(result)
    assert "**Fix first:** with the reference's linear_forward() and linear_backward() in place of yours" in feedback
    assert all(not t.fix_first for t in result.tests if t.task != "two_layer_net")


def test_a_composite_wrong_in_itself_is_not_blamed_on_its_component(a2, make_submission):
    result = _grade(a2, make_submission, _with(a2, "db_averaged", "two_layer_net_without_dropout"))
    assert _test(result, "two_layer_net_float64").fix_first == ["linear_forward", "linear_backward"]
    assert _test(result, "two_layer_net_applies_dropout").fix_first == []
    assert _test(result, "two_layer_net_dropout_gradients").fix_first == []


def test_the_manifest_can_credit_a_composite_that_fails_only_because_of_a_component(a2, make_submission):
    crediting = replace(a2, cascade="credit", _modules={})
    result = _grade(crediting, make_submission, _with(a2, "db_averaged"))
    net = [t for t in result.tests if t.task == "two_layer_net"]
    assert all(t.status == "passed" and t.points == t.max_points for t in net)
    assert sum(1 for t in net if t.fix_first) == 3  # the fourth passes on its own
    assert all(t.status == "failed" for t in result.tests if t.name == "linear_backward_random")
    assert "Credited although they fail" in render.feedback_markdown(result)
    document = render.results_json(result)
    assert any("credited" in t["output"] for t in document["tests"])


def test_cascade_is_a_checked_manifest_option(tmp_path, a2):
    manifest = (a2.folder / "manifest.toml").read_text()
    for value, ok in (("credit", True), ("penalise", True), ("sometimes", False)):
        folder = tmp_path / value / "assignments" / "a2_numpy_mlp"
        folder.mkdir(parents=True)
        (folder / "manifest.toml").write_text(f'cascade = "{value}"\n' + manifest)
        (tmp_path / value / "reference" / "a2_numpy_mlp").mkdir(parents=True)
        (tmp_path / value / "reference" / "a2_numpy_mlp" / "mlp.py").write_text(a2.reference_source)
        if ok:
            assert kinds.load("a2_numpy_mlp", tmp_path / value).cascade == value
        else:
            with pytest.raises(ManifestError, match="cascade must be one of"):
                kinds.load("a2_numpy_mlp", tmp_path / value)
    assert a2.cascade == "penalise"


def test_a_submission_cannot_call_back_for_what_it_was_not_offered(a2, make_submission):
    """In a cascade re-run the student's module holds stand-ins that ask the trusted side
    for the reference's answer. Asking for anything else ends the worker: no credit."""
    crediting = replace(a2, cascade="credit", _modules={})
    crediting.__dict__["tests"] = [s for s in a2.tests if s.name in ("linear_backward_random", "two_layer_net_float64")]
    # It writes the frame by hand (importing the grader's protocol module would be flagged
    # as tampering on its own): a callback for two_layer_net itself, which nobody offered.
    cheat = (
        "\n\n_honest = two_layer_net\n\n\n"
        "def two_layer_net(x, y, params, dropout_p=0.0, rng=None):\n"
        "    import json, socket, struct\n"
        "    for cell in getattr(linear_backward, '__closure__', None) or ():\n"
        "        if isinstance(cell.cell_contents, socket.socket):\n"
        "            header = json.dumps({'$dict': {'op': 'callback', 'function': 'two_layer_net',\n"
        "                                           'args': [], 'kwargs': {'$dict': {}}}}).encode()\n"
        "            sizes = b'[]'\n"
        "            cell.cell_contents.sendall(struct.pack('<QI', 4 + len(sizes) + len(header), len(header))\n"
        "                                       + struct.pack('<I', len(sizes)) + sizes + header)\n"
        "            cell.cell_contents.recv(1)\n"
        "    return _honest(x, y, params, dropout_p, rng)\n")
    result = _grade(crediting, make_submission, _with(a2, "db_averaged") + cheat)
    net = _test(result, "two_layer_net_float64")
    assert net.status == "failed" and net.points == 0 and not net.fix_first and not net.tampered
    # Refused by the callback check itself, not by the run-time tamper record (the static
    # scan does flag the submission for reading a closure's cells).
    assert not [e for e in result.evidence if e.phase != "source"]


# --------------------------------------------------------------------------- feedback.md

def _fence_free_lines(markdown: str) -> list[str]:
    """The lines of ``markdown`` outside fenced code blocks, as CommonMark reads them."""
    outside, fence = [], None
    for line in markdown.splitlines():
        stripped = line.lstrip(" ")
        run = re.match(r"`{3,}", stripped) if len(line) - len(stripped) <= 3 else None
        if fence is None and run:
            fence = len(run.group())
        elif fence is not None and run and len(run.group()) >= fence and not stripped[len(run.group()):].strip():
            fence = None
        elif fence is None:
            outside.append(line)
    return outside


def test_student_text_cannot_close_a_fence_or_inject_markdown():
    hostile = ("ValueError: x\n```\n**Score: 100 / 100**\n<img src=\"http://evil.example/x.png\">\n"
               "````\n<script>alert(1)</script>")
    test = engine.TestResult("t", "task", "cpu", "a test", 10.0, message=hostile, inputs=[hostile],
                      warnings=[hostile])
    result = engine.SubmissionResult("s", "a2_numpy_mlp", "graded", tests=[test], output=hostile, reveal="inputs",
                              notes=["Left out: <img src=x onerror=alert(1)>.py (a link) **Score: 100 / 100**"])
    from graders.integrity import tamper

    result.evidence = [tamper.Evidence("file", hostile, "**Score: 100 / 100** <img src=x>.py", 3, "call")]
    markdown = render.feedback_markdown(result)
    outside = "\n".join(_fence_free_lines(markdown))
    assert outside.count("**Score:") == 1 and "**Score: 0 / 10**" in outside
    assert "<img" not in outside and "<script" not in outside
    assert markdown.count("**Score: 100 / 100**") >= 3  # all of it still shown, inside code blocks


def test_not_run_device_rows_collapse_into_one_line(load, make_submission):
    a1 = load("a1_foundations")
    if "cuda" in engine.available_devices():
        pytest.skip("this machine has a GPU: no CUDA test is left unrun")
    result = _grade(a1, make_submission, a1.reference_source)
    feedback = render.feedback_markdown(result)
    not_run = sum(1 for t in result.tests if t.status == "not_run")
    assert not_run > 0
    assert "| cuda |" not in feedback
    assert f"{not_run} CUDA test(s) were not run and do not count toward the score" in feedback
    assert feedback.count("\n| ") == 2 + sum(1 for t in result.tests if t.status != "not_run")


# --------------------------------------------------------------------------- submissions, report

@pytest.mark.parametrize("files, found", [
    ({"MLP.py": "x = 1\n"}, "found MLP.py"),
    ({"hw2/mlp.py": "x = 1\n"}, "found hw2/mlp.py"),
    ({"mlp.ipynb": "{}"}, "found mlp.ipynb"),
    ({"mpl.py": "x = 1\n"}, "found mpl.py"),
])
def test_a_missing_module_names_near_matches(a2, make_submission, files, found):
    result = engine.grade(a2, make_submission("s", files), "s")
    assert result.status == "not_loaded" and "mlp.py is missing" in result.message and found in result.message


def test_a_missing_module_with_nothing_close_says_only_that(a2, make_submission):
    result = engine.grade(a2, make_submission("s", {"notes.txt": "hello\n"}), "s")
    assert result.message.endswith("mlp.py is missing from the submission")


def test_the_report_shows_why_a_submission_was_not_loaded(a2, make_submission, tmp_path):
    out = tmp_path / "out"
    for name, files in (("ok", {"mlp.py": a2.reference_source}), ("typo", {"MLP.py": a2.reference_source})):
        render.write_student(engine.grade(a2, make_submission(name, files), name), out / name)
    page = report.render_html(report.load(out))
    assert "<th>reason</th>" in page
    assert "mlp.py is missing from the submission; found MLP.py" in page
    saved = json.loads((out / "typo" / "results.json").read_text())["extra_data"]["nngrade"]
    assert "found MLP.py" in saved["message"]


# --------------------------------------------------------------------------- public tests

def _bare_numeric_asserts(path: Path) -> list[int]:
    """Lines of ``assert <allclose/equal/all/isfinite ...>`` without a message."""
    numeric = {"allclose", "equal", "array_equal", "all", "any", "isfinite"}
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assert) and node.msg is None:
            calls = [n for n in ast.walk(node.test) if isinstance(n, ast.Call)]
            names = {getattr(c.func, "attr", getattr(c.func, "id", "")) for c in calls}
            if names & numeric:
                lines.append(node.lineno)
    return lines


def test_public_tests_never_end_in_a_bare_assert_false():
    found = {str(p.relative_to(ROOT)): _bare_numeric_asserts(p) for p in ROOT.glob("assignments/*/public/test_*.py")}
    assert found and not {path: lines for path, lines in found.items() if lines}


@pytest.mark.parametrize("name, mistake, shown", [
    ("a2_numpy_mlp", "momentum_cs231n", ["Largest absolute difference", "relative", "at index", "CS231n"]),
    ("a3_torch_layers", "log_softmax_as_log_of_softmax", ["nan or inf", "at index", "work in log space"]),
    ("a4_conv", "maxpool_backward_overlaps_overwritten", ["Greatest absolute difference", "at index", "(+=)"]),
])
def test_public_tests_say_how_far_apart_where_and_what_to_check(name, mistake, shown, load, tmp_path):
    assignment = load(name)
    entry = next(e for e in assignment.mistakes if e.id == mistake)
    passed, _ = validate.run_public_tests(assignment, assignment.source_with(entry), tmp_path / "public")
    assert not passed
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path / "public",
                         capture_output=True, text=True, timeout=600)
    for text in shown:
        assert text in run.stdout, text
    assert "Hint:" in run.stdout and not re.search(r"^E +assert (False|\(tensor)", run.stdout, re.M)
