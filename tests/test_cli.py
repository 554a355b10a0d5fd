"""The command line: outputs as README.md describes them, resumable batches, clear errors."""
import csv
import json
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, main_in_process
from graders.outputs import release


def command(*args):
    """The real ``nngrade`` command, in a process of its own."""
    return subprocess.run([sys.executable, "-m", "graders.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def nngrade(nngrade_main):
    return nngrade_main


def _cohort(folder, load):
    """Three a2 submissions: full marks, one known mistake, the untouched stub."""
    a2 = load("a2_numpy_mlp")
    mistake = a2.mistakes[0]
    root = folder / "submissions"
    for name, source in {"alice": a2.reference_source, "bob": a2.source_with(mistake),
                         "carol": release.strip_solutions(a2.reference_source)}.items():
        (root / name).mkdir(parents=True)
        (root / name / "mlp.py").write_text(source)
    return root, mistake


@pytest.fixture
def cohort(tmp_path, load):
    return _cohort(tmp_path, load)


@pytest.fixture(scope="module")
def graded_cohort(tmp_path_factory, load):
    """The cohort and its first `grade-all`, run once for the module."""
    folder = tmp_path_factory.mktemp("graded")
    root, _ = _cohort(folder, load)
    first = main_in_process("grade-all", "a2_numpy_mlp", root, "--out", folder / "out", "--workers", "2")
    return root, folder / "out", first


@pytest.fixture
def regraded(graded_cohort, tmp_path):
    """A copy of the graded cohort and its results, for a test that goes on from there."""
    root, out, first = graded_cohort
    shutil.copytree(root, tmp_path / "submissions")
    shutil.copytree(out, tmp_path / "out")
    return tmp_path / "submissions", tmp_path / "out", first


def test_grade_writes_gradescope_results_feedback_and_csv(cohort, tmp_path, nngrade):
    root, mistake = cohort
    run = nngrade("grade", "a2_numpy_mlp", root / "bob", "--out", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "out" / "bob" / "results.json").read_text())
    assert {"score", "tests", "output"} <= results.keys()
    assert all({"name", "score", "max_score", "output", "status"} <= t.keys() for t in results["tests"])
    assert 0 < results["score"] < sum(t["max_score"] for t in results["tests"])
    feedback = (tmp_path / "out" / "bob" / "feedback.md").read_text()
    assert mistake.explanation.split(":")[0] in feedback
    rows = list(csv.DictReader(open(tmp_path / "out" / "grades.csv")))
    assert rows[0]["student"] == "bob" and rows[0]["assignment"] == "a2_numpy_mlp"
    assert {"student", "assignment", "score", "max_score", "status"} <= rows[0].keys()


def test_grade_all_grades_everyone_then_resumes_without_regrading(regraded, nngrade):
    root, out, first = regraded
    assert first.returncode == 0, first.stderr
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert rows["alice"]["score"] == rows["alice"]["max_score"] != "0"
    assert rows["carol"]["score"] == "0" and rows.keys() == {"alice", "bob", "carol"}
    grades = (out / "grades.csv").read_text()

    (root / "carol" / "mlp.py").write_text((root / "alice" / "mlp.py").read_text())
    second = nngrade("grade-all", "a2_numpy_mlp", root, "--out", out, "--workers", "2")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("unchanged, kept") == 2
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert rows["carol"]["score"] == rows["carol"]["max_score"]
    assert grades.splitlines()[:3] == (out / "grades.csv").read_text().splitlines()[:3]


def test_a_corrupt_results_file_is_regraded(regraded, nngrade):
    root, out, first = regraded
    assert first.returncode == 0, first.stderr
    (out / "alice" / "results.json").write_text("{ truncated")
    run = nngrade("grade-all", "a2_numpy_mlp", root, "--out", out)
    assert run.returncode == 0 and run.stdout.count("unchanged, kept") == 2
    assert json.loads((out / "alice" / "results.json").read_text())["score"] > 0


@pytest.mark.parametrize("args, message", [
    (("validate", "no_such_assignment"), "no assignment named 'no_such_assignment'"),
    (("grade", "a2_numpy_mlp", "/nonexistent/folder", "--out", "/tmp/x"), "is not a folder"),
    (("grade-all", "a2_numpy_mlp", "/nonexistent/folder", "--out", "/tmp/x"), "does not exist"),
])
def test_bad_input_gets_a_clear_error(args, message):
    """The real command: exit status 2 and one line, never a traceback."""
    run = command(*args)
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("manifest, message", [
    ("module = 'x\n", "not valid TOML"),
    ("module = 'x'\n", "missing required key 'tasks'"),
    ("module = 'x'\ndevices = ['tpu']\n[[tasks]]\nid = 't'\npoints = 1\n", "devices must be"),
    # A typo in a raw operator group once disabled the guard without a word.
    ("module = 'x'\n[[tasks]]\nid = 't'\npoints = 1\nforbidden = ['aten.convolutoin']\n",
     "'aten.convolutoin' names no operator torch has"),
])
def test_malformed_manifest_is_reported(tmp_path, manifest, message, nngrade):
    (tmp_path / "assignments" / "broken").mkdir(parents=True)
    (tmp_path / "assignments" / "broken" / "manifest.toml").write_text(manifest)
    run = nngrade("validate", "broken", env={"NNGRADE_ROOT": tmp_path}, cwd=tmp_path)
    assert run.returncode == 2 and message in run.stderr


def test_release_check_reports_a_hand_edited_template(tmp_path, nngrade):
    import shutil

    for folder in ("assignments", "reference", "student_template"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    env = {"NNGRADE_ROOT": tmp_path}
    assert nngrade("release", "--check", env=env, cwd=tmp_path).returncode == 0
    stub = tmp_path / "student_template" / "a2_numpy_mlp" / "mlp.py"
    stub.write_text(stub.read_text() + "\n# edited by hand\n")
    run = nngrade("release", "--check", env=env, cwd=tmp_path)
    assert run.returncode == 1 and "differs: mlp.py" in run.stdout
    assert nngrade("release", "a2_numpy_mlp", env=env, cwd=tmp_path).returncode == 0
    assert nngrade("release", "--check", env=env, cwd=tmp_path).returncode == 0


def test_guard_lists_what_each_group_covers(nngrade):
    run = nngrade("guard", "a4_conv", "--ops")
    assert run.returncode == 0, run.stderr
    conv = next(line for line in run.stdout.splitlines() if line.startswith("torch.conv: "))
    assert "torch's convolution operators" in conv and "conv_forward" in conv
    for operator in ("aten::_convolution_mode", "aten::thnn_conv2d", "aten::cudnn_convolution_relu", "aten::im2col",
                     "aten::max_pool2d_with_indices_backward", "aten::_make_dual"):
        assert f"  {operator}\n" in run.stdout, operator


def test_a_grader_problem_is_one_clear_line_and_any_other_error_still_raises(nngrade, make_submission, monkeypatch):
    """The grader failing to run a submission's tests (CUDA that cannot start in the sandbox,
    say) is the instructor's to fix: exit 1 with what went wrong. A bug stays a traceback."""
    import dataclasses

    from graders import kinds
    from graders.sandbox.host import GraderProblem

    folder = make_submission("alice", {"mlp.py": "x = 1\n"})

    def failing_with(error):
        def grade(*args, **kwargs):
            raise error
        return dataclasses.replace(kinds.CODE, grade=grade)

    monkeypatch.setattr(kinds, "of", lambda loaded: failing_with(GraderProblem("CUDA could not be started")))
    run = nngrade("grade", "a2_numpy_mlp", folder)
    assert run.returncode == 1
    assert run.stderr.strip() == "nngrade: the grader could not run this submission's tests: CUDA could not be started"
    monkeypatch.setattr(kinds, "of", lambda loaded: failing_with(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        nngrade("grade", "a2_numpy_mlp", folder)
