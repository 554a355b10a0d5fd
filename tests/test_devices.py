"""CPU and GPU: CUDA tests without a GPU are "not run", counted only under require_gpu;
dtype and device must be kept."""
import dataclasses
import json

import pytest
import torch

from graders.grading import engine
from graders.outputs import render


@pytest.fixture
def a3(load):
    return load("a3_torch_layers")


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(engine, "available_devices", lambda assignment=None: {"cpu"})


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


# --------------------------------------------------------------------------- GPU readiness, checked on the CPU

def test_the_graders_gpu_choice_and_cuda_settings_reach_the_worker(make_submission, monkeypatch):
    from graders.sandbox import host
    from graders.sandbox.host import Limits, RemoteImpl, Worker

    settings = {"CUDA_VISIBLE_DEVICES": "GPU-8f0c-test", "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
                "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(host, "_zygotes", {})  # a zygote started with these settings
    folder = make_submission("s", {"mod.py": "import os\ndef env():\n    return dict(os.environ)\n"})
    with Worker(folder, "mod", Limits()) as worker:
        seen = RemoteImpl(worker).env()
    assert {name: seen.get(name) for name in settings} == settings


def test_pool_processes_spread_over_the_gpus_round_robin(monkeypatch):
    from graders.sandbox import executors, gpus

    monkeypatch.setenv(gpus.VARIABLE, "GPU-aaaa,GPU-bbbb")
    with executors.start("local", workers=2) as pool:
        futures = [pool.submit(_visible_gpus) for _ in range(6)]
        chosen = {future.result() for future in futures}
    assert chosen == {"GPU-aaaa", "GPU-bbbb"}
    assert gpus.pin(3) == "GPU-bbbb" and gpus.listed() == ["GPU-bbbb"]


def _visible_gpus() -> str:
    import os
    import time

    time.sleep(0.2)  # keep both pool processes busy, so both take tasks
    return os.environ.get("CUDA_VISIBLE_DEVICES", "")


def test_ray_tasks_ask_for_a_share_of_the_gpus_only_where_there_are_some():
    from graders.sandbox.executors import ray_gpu_share

    assert ray_gpu_share({"CPU": 8.0, "GPU": 2.0}, 8) == 0.25
    assert ray_gpu_share({"CPU": 2.0, "GPU": 4.0}, 2) == 1.0
    assert ray_gpu_share({"CPU": 8.0}, 8) == 0.0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: CUDA starts")
def test_a_worker_that_cannot_start_cuda_is_the_graders_problem_not_the_students(make_submission):
    from graders.sandbox.host import GraderProblem, Limits, Worker

    folder = make_submission("s", {"mod.py": "x = 1\n"})
    with pytest.raises(GraderProblem, match="CUDA could not be started in the sandboxed worker"):
        Worker(folder, "mod", Limits(), gpu=True)


def test_cuda_out_of_memory_is_named_as_the_gpu_memory_limit():
    from graders.sandbox import worker

    class OutOfMemoryError(RuntimeError):  # torch.cuda.OutOfMemoryError's name and message
        pass

    error = OutOfMemoryError("CUDA out of memory. Tried to allocate 130.00 GiB")
    assert worker._limit_behind(error) == "gpu_memory_mb"
    assert "GPU memory limit" in worker._describe_error(error, "calling f")["message"]


def test_doctor_says_plainly_what_this_machine_has(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    run = subprocess.run([sys.executable, "-m", "graders.cli", "doctor"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "grading runs at: " in run.stdout and "a sandboxed worker started in" in run.stdout
    if torch.cuda.is_available():
        assert "a sandboxed CUDA worker" in run.stdout
    else:
        assert "no GPU here" in run.stdout and "not run (no GPU)" in run.stdout


# --------------------------------------------------------------------------- on a GPU (not run without one)

GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine: CUDA grading not exercised")


@GPU
def test_a1_reference_gets_full_marks_on_the_gpu(load, make_submission):
    a1 = load("a1_foundations")
    result = engine.grade(a1, make_submission("ref", {"foundations.py": a1.reference_source}), "ref", devices={"cuda"})
    assert result.score == result.max_score > 0, [t.message for t in result.tests if t.status != "passed"]


@GPU
@pytest.mark.parametrize("name", ["a1_foundations", "a3_torch_layers", "a4_conv", "a5_autograd"])
def test_a_known_mistake_loses_points_on_the_gpu_with_its_diagnosis(load, make_submission, name):
    assignment = load(name)
    mistake = assignment.mistakes[0]
    result = engine.grade(assignment, make_submission("wrong", {f"{assignment.module}.py": assignment.source_with(mistake)}),
                          "wrong", devices={"cuda"})
    assert result.score < result.max_score
    assert any(d.id == mistake.id for t in result.tests for d in t.diagnoses)


@GPU
def test_the_worker_uses_the_graders_gpu(make_submission):
    from graders.sandbox.host import Limits, RemoteImpl, Worker

    folder = make_submission("s", {"mod.py": "import torch\ndef uuid():\n    return str(torch.cuda.get_device_properties(0).uuid)\n"})
    with Worker(folder, "mod", Limits(), gpu=True) as worker:
        assert RemoteImpl(worker).uuid() == str(torch.cuda.get_device_properties(0).uuid)


@GPU
@pytest.mark.parametrize("executor", ["local", "ray"])
def test_bulk_grading_runs_the_cuda_tests(tmp_path, executor):
    import csv
    import subprocess
    import sys

    from conftest import ROOT

    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "graders.cli", "grade-all", "a1_foundations",
                          str(ROOT / "examples" / "a1_foundations"), "--out", str(out), "--workers", "2",
                          "--executor", executor, "--device", "cuda"], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stderr
    rows = {row["student"]: row for row in csv.DictReader(open(out / "grades.csv"))}
    assert all(row["tests_not_run"] == "0" for row in rows.values())
    assert float(rows["alice"]["score"]) == float(rows["alice"]["max_score"]) > 0
    assert all(float(rows[s]["score"]) < float(rows[s]["max_score"]) for s in ("bob", "carol", "dave"))


def test_no_gpu_driver_means_cpu_only_without_importing_torch(monkeypatch):
    """A batch's coordinator asks which devices there are; where no GPU could be usable it
    is told without importing torch (a second of its start-up)."""
    import subprocess
    import sys

    from conftest import ROOT

    from graders.sandbox import gpus

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert not gpus.driver_present()  # every GPU hidden
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-0")
    assert gpus.driver_present()  # one listed: torch is asked
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    if gpus.driver_present():
        pytest.skip("this machine has a GPU driver: torch is asked")
    run = subprocess.run([sys.executable, "-c", "import sys; from graders.grading import engine; "
                          "print(sorted(engine.available_devices()), 'torch' in sys.modules)"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    assert run.stdout.split() == ["['cpu']", "False"]
