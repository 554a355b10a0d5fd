"""Gradescope: the autograder zip needs nothing from this checkout and grades a submission
laid out as Gradescope lays it out (/autograder/source, submission, results)."""
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT
from graders import kinds
from graders.grading import engine
from graders.outputs import export, release
from graders.quiz import templates


@pytest.fixture
def nngrade(nngrade_main):
    return nngrade_main


def test_a_torch_assignments_bundle_installs_the_pinned_cpu_build(load):
    import tomllib

    files = export.gradescope_files(load("a3_torch_layers"))
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["nngrade"]
    setup = files["setup.sh"].decode()
    assert f'"{settings["torch-pin"]}" --index-url {settings["torch-index"]}' in setup


def test_gradescope_zip_grades_a_submission_in_an_autograder_layout(tmp_path, load, nngrade):
    bundle = tmp_path / "autograder.zip"
    run = nngrade("export", "gradescope", "a2_numpy_mlp", "-o", bundle)
    assert run.returncode == 0, run.stderr
    names = set(zipfile.ZipFile(bundle).namelist())
    assert {"setup.sh", "run_autograder", "requirements.txt", "nngrade/pyproject.toml", "nngrade/graders/grading/engine.py",
            "assignments/a2_numpy_mlp/manifest.toml", "reference/a2_numpy_mlp/mlp.py"} <= names
    assert any(n.startswith("assignments/a2_numpy_mlp/hidden/test_") for n in names)
    assert not any("__pycache__" in n or n.startswith("student_template") for n in names)
    setup = zipfile.ZipFile(bundle).read("setup.sh").decode()
    requirements = zipfile.ZipFile(bundle).read("requirements.txt").decode()
    # a2 is NumPy only: its image gets no torch, and nothing the grader does not import.
    assert "torch" not in setup + requirements and "matplotlib" not in requirements and "--no-deps" in setup
    assert set(requirements.split()) >= {"numpy>=1.24", "pytest>=8", "pytest-timeout>=2.2"}

    root, graded = _run_in_autograder_layout(tmp_path, bundle, ROOT / "examples" / "a2_numpy_mlp" / "bob" / "mlp.py")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    # The bundle's own grader ran, not this checkout's.
    assert f"from {root / 'source' / 'nngrade' / 'graders'}" in graded.stdout, graded.stdout

    results = json.loads((root / "results" / "results.json").read_text())
    expected = engine.grade(load("a2_numpy_mlp"), ROOT / "examples" / "a2_numpy_mlp" / "bob", "bob@example.edu")
    assert 0 < results["score"] == expected.score < expected.max_score
    assert results["extra_data"]["nngrade"]["student"] == "bob@example.edu"
    assert sum(t["score"] for t in results["tests"]) == pytest.approx(results["score"], abs=1e-3)
    assert any("Likely cause" in t["output"] for t in results["tests"])


def test_a_quiz_bundle_grades_answers_without_torch(tmp_path, load, nngrade):
    bundle = tmp_path / "autograder.zip"
    run = nngrade("export", "gradescope", "q1_concepts", "-o", bundle)
    assert run.returncode == 0, run.stderr
    archive = zipfile.ZipFile(bundle)
    assert {"assignments/q1_concepts/questions.toml", "reference/q1_concepts/answers.toml"} <= set(archive.namelist())
    setup, requirements = archive.read("setup.sh").decode(), archive.read("requirements.txt").decode()
    assert "torch" not in setup + requirements and "numpy>=1.24" in requirements.split()

    # The key written as answers, graded by an interpreter that lists every module it imports.
    quiz = load("q1_concepts")
    answers = tmp_path / "answers.toml"
    answers.write_text(templates.answers_text(quiz, templates.key_as_answers(quiz)))
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} -X importtime "$@"\n')
    python.chmod(0o755)
    root, graded = _run_in_autograder_layout(tmp_path, bundle, answers, python=python)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in graded.stderr.splitlines() if "import time:" in line]
    assert "graders.kinds" in imported and "torch" not in imported
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == sum(q.points for q in quiz.questions.values()) > 0


def _run_in_autograder_layout(tmp_path, bundle, submitted, python=sys.executable):
    """Gradescope's image in a temporary folder: the bundle unpacked as source, one file
    submitted by bob@example.edu, setup.sh (installing nothing) then run_autograder."""
    root = tmp_path / "autograder"
    export.unpack(bundle, root / "source")
    (root / "submission").mkdir()
    shutil.copy(submitted, root / "submission" / submitted.name)
    (root / "results").mkdir()
    (root / "submission_metadata.json").write_text(json.dumps(
        {"id": 1, "users": [{"email": "bob@example.edu", "id": 7, "name": "Bob"}]}))
    env = {k: v for k, v in os.environ.items() if k not in ("NNGRADE_ROOT", "PYTHONPATH")}
    env.update(NNGRADE_AUTOGRADER_ROOT=str(root), NNGRADE_PYTHON=str(python), NNGRADE_SKIP_INSTALL="1")
    installed = subprocess.run([root / "source" / "setup.sh"], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=60)
    assert installed.returncode == 0 and "nothing installed" in installed.stdout, installed.stderr
    graded = subprocess.run([root / "source" / "run_autograder"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    return root, graded


def test_zip_is_the_same_bytes_every_build(tmp_path, load):
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    export.build_gradescope(load("a2_numpy_mlp"), first)
    export.build_gradescope(load("a2_numpy_mlp"), second)
    assert first.read_bytes() == second.read_bytes()


def test_export_classroom_writes_the_templates_workflow(tmp_path, load, nngrade):
    run = nngrade("export", "classroom", "a2_numpy_mlp", "-o", tmp_path)
    assert run.returncode == 0, run.stderr
    written = (tmp_path / ".github" / "workflows" / "classroom.yml").read_text()
    assert written == release.template_files(load("a2_numpy_mlp"))[".github/workflows/classroom.yml"]


def test_export_classroom_of_a_quiz_writes_its_templates_workflow(tmp_path, load, nngrade):
    run = nngrade("export", "classroom", "q1_concepts", "-o", tmp_path)
    assert run.returncode == 0, run.stderr
    written = (tmp_path / ".github" / "workflows" / "classroom.yml").read_text()
    assert written == kinds.QUIZ.template_files(load("q1_concepts"))[".github/workflows/classroom.yml"]
    assert "python check_answers.py" in written
