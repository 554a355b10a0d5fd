"""CPU and GPU: CUDA tests without a GPU are "not run", counted only under require_gpu;
dtype and device must be kept."""
import dataclasses
import json

import pytest
import torch

from graders import engine, render


@pytest.fixture
def a3(load):
    return load("a3_torch_layers")


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(engine, "available_devices", lambda: {"cpu"})


def test_cuda_tests_are_reported_not_run_and_leave_max_score(a3, make_submission, no_gpu, tmp_path):
    result = engine.grade(a3, make_submission("ref", {"layers.py": a3.reference_source}), "ref")
    cuda = [t for t in result.tests if t.device == "cuda"]
    assert cuda and all(t.status == "not_run" and t.points == 0 for t in cuda)
    assert all("not run (no CUDA" in t.message for t in cuda)
    cpu_points = sum(task.points["cpu"] for task in a3.tasks.values())
    assert result.score == result.max_score == cpu_points
    render.write_student(result, tmp_path / "ref", a3.title)
    document = json.loads((tmp_path / "ref" / "results.json").read_text())
    entries = [t for t in document["tests"] if t["tags"][-1] == "cuda"]
    assert entries and all("status" not in t and t["max_score"] == 0 for t in entries)
    assert "not run" in (tmp_path / "ref" / "feedback.md").read_text()


def test_require_gpu_counts_the_cuda_tests_as_lost(a3, make_submission, no_gpu):
    strict = dataclasses.replace(a3, require_gpu=True)
    result = engine.grade(strict, make_submission("ref", {"layers.py": a3.reference_source}), "ref")
    total = sum(sum(task.points.values()) for task in a3.tasks.values())
    assert result.max_score == total and result.score == total - sum(t.points["cuda"] for t in a3.tasks.values())
    assert "requires a GPU" in next(t.message for t in result.tests if t.device == "cuda")
    assert "count as lost points" in render.feedback_markdown(result)


def test_a_result_in_the_wrong_dtype_fails_with_a_dtype_message(a3, make_submission):
    widened = a3.reference_source + '''

_sigmoid = sigmoid_forward
def sigmoid_forward(x):
    out, cache = _sigmoid(x)
    return out.to(torch.float64), cache
'''
    result = engine.grade(a3, make_submission("wide", {"layers.py": widened}), "wide", devices={"cpu"})
    float32 = [t for t in result.tests if t.status == "failed" and "float32" in t.message]
    assert float32 and all("dtype" in t.message for t in float32)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine: CUDA grading not exercised")
@pytest.mark.parametrize("name", ["a3_torch_layers", "a4_conv", "a5_autograd"])
def test_the_reference_gets_full_marks_on_the_gpu(load, make_submission, name):
    assignment = load(name)
    result = engine.grade(assignment, make_submission("ref", {f"{assignment.module}.py": assignment.reference_source}),
                          "ref", devices={"cuda"})
    assert result.score == result.max_score > 0, [t.message for t in result.tests if t.status != "passed"]
