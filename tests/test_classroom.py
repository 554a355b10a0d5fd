"""GitHub Classroom: the template's workflow grades task by task, its points add up to the
assignment's total, and `nngrade grade --format classroom` speaks the actions' result format."""
import ast
import base64
import json
import re
import subprocess
import sys

import pytest
import yaml

from conftest import ASSIGNMENTS, ROOT
from graders import kinds
from graders.outputs import classroom, release, render
from graders.grading.engine import Diagnosis, SubmissionResult
from graders.grading.engine import TestResult as Outcome

COMMAND_GRADER = "classroom-resources/autograding-command-grader@v1"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"


def _code(name, load):
    assignment = load(name)
    if not kinds.of(assignment).runs_student_code:
        pytest.skip(f"{name} is a {assignment.kind}; its workflow is the quiz's own")
    return assignment


def _workflow_steps(assignment):
    workflow = yaml.safe_load(release.template_files(assignment)[".github/workflows/classroom.yml"])
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    graders = [s for s in steps if s.get("uses") == COMMAND_GRADER]
    reporter = [s for s in steps if s.get("uses") == REPORTER]
    assert len(reporter) == 1 and steps[-1] is reporter[0]
    return graders, reporter[0]


def _selectors(step):
    words = step["with"]["command"].split()
    assert words[:4] == ["python", "-m", "pytest", "-q"]
    return words[4:]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_one_step_per_task_worth_its_points_adding_up_to_the_total(name, load):
    assignment = _code(name, load)
    graders, reporter = _workflow_steps(assignment)
    scored = {s["id"]: int(s["with"]["max-score"]) for s in graders if int(s["with"]["max-score"]) > 0}
    expected = {task.id.replace("_", "-"): sum(task.points.values()) for task in assignment.tasks.values()}
    assert scored == expected  # one step per task, max-score = the task's points on every device
    assert sum(scored.values()) == sum(sum(t.points.values()) for t in assignment.tasks.values())
    assert {s["id"] for s in graders} - set(scored) <= {"cross-task-checks"}
    runners = [s["id"] for s in graders]
    assert reporter["with"]["runners"].split(",") == runners
    assert reporter["env"] == {f"{r.upper()}_RESULTS": f"${{{{steps.{r}.outputs.result}}}}" for r in runners}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_public_test_runs_in_exactly_one_step(name, load):
    assignment = _code(name, load)
    graders, _ = _workflow_steps(assignment)
    files = {p.name: p for p in (assignment.folder / "public").glob("test_*.py")}
    selected = []  # (file, test function or None for the whole file)
    for step in graders:
        assert _selectors(step), f"step {step['id']} selects no test"
        for selector in _selectors(step):
            path, _, function = selector.partition("::")
            assert path.startswith("tests/") and path[6:] in files, selector
            selected.append((path[6:], function or None))
    for filename, path in files.items():
        tests = [n.name for n in ast.parse(path.read_text()).body
                 if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name.startswith(("test", "Test"))]
        whole = selected.count((filename, None))
        for test in tests:
            assert whole + selected.count((filename, test)) == 1, f"{filename}::{test}"


def test_steps_run_the_public_tests_task_by_task(tmp_path, load):
    """In a released a2 template: with the reference every step passes; with the stub, each
    task's step fails; together the steps run every public test once."""
    assignment = load("a2_numpy_mlp")
    template = release.release(assignment.name, release.template_files(assignment), tmp_path)
    graders, _ = _workflow_steps(assignment)

    def pytest_run(*args):
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=template,
                              capture_output=True, text=True, timeout=300)

    everything = pytest_run("--collect-only", "-q").stdout.count("::")
    for step in graders:
        assert pytest_run("-q", *_selectors(step)).returncode == 1, step["id"]  # the stub fails every task
    (template / "mlp.py").write_text(assignment.reference_source)
    ran = 0
    for step in graders:
        run = pytest_run("-q", *_selectors(step))
        assert run.returncode == 0, run.stdout[-2000:]
        ran += int(re.search(r"(\d+) passed", run.stdout).group(1))
    assert ran == everything > 0


def _result():
    tests = [
        Outcome("t_pass", "linear", "cpu", "passes", 5.0, points=5.0, status="passed"),
        Outcome("t_fail", "linear", "cpu", "fails", 10.0, status="failed", message="dW: shape (3, 4), expected (4, 3)",
                   diagnoses=[Diagnosis("dw_transposed", "dW came out transposed.")]),
        Outcome("t_gpu", "linear", "cuda", "on the GPU", 4.0, status="not_run",
                   message="not run (no CUDA on the grading machine)"),
    ]
    return SubmissionResult("bob", "a2_numpy_mlp", "graded", tests=tests)


def test_classroom_result_has_the_actions_shape_and_adds_up():
    result = classroom.classroom_result(render.results_json(_result()))
    assert result["version"] == 1 and result["status"] == "fail" and result["max_score"] == 15
    assert [t["status"] for t in result["tests"]] == ["pass", "fail"]  # not run, not counted: left out
    assert sum(t["score"] for t in result["tests"]) == 5
    assert all({"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"} <= t.keys()
               for t in result["tests"])
    assert "dW came out transposed" in result["tests"][1]["message"] and "t_gpu [cuda]" in result["message"]
    assert json.loads(base64.b64decode(classroom.encode(result))) == result


def test_classroom_result_follows_the_reveal_policy():
    hidden = _result()
    hidden.reveal = "names"
    result = classroom.classroom_result(render.results_json(hidden))
    assert result["tests"][1]["message"] == "failed"


def test_grade_format_classroom_prints_the_result_json(nngrade_main):
    run = nngrade_main("grade", "a2_numpy_mlp", ROOT / "examples" / "a2_numpy_mlp" / "alice", "--format", "classroom")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["status"] == "pass" and sum(t["score"] for t in result["tests"]) == result["max_score"] == 100
    assert "alice: 100 / 100" in run.stderr
