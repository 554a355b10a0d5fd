"""Assignment kinds: what a manifest's ``kind`` decides, in one place.

    code   the student submits a module; it is graded in the sandbox against hidden tests
           (graders.grading), and released as a stub with public tests (graders.outputs)
    quiz   the student submits an answers.toml; it is read as data in the trusted process
           (graders.quiz)

Everything that works on an assignment of either kind asks its ``Kind`` here, so the
layers below never test a kind's name and never import each other to reach the other kind.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from graders.grading import assignment as code_assignment, engine, validate as code_validate
from graders.grading.assignment import ManifestError, available, project_root
from graders.outputs import release
from graders.quiz import parse as quiz_parse, scoring as quiz_scoring, templates as quiz_templates
from graders.quiz import validate as quiz_validate


@dataclass(frozen=True)
class Kind:
    name: str
    # Student code runs, so grading needs the sandbox (and records its isolation level), warm
    # zygotes pay off, submissions can be compared for copying, and nbgrader can host it.
    runs_student_code: bool
    load: Callable  # (manifest, name, folder, root, manifest path) -> the assignment
    grade: Callable  # (assignment, submission folder, student, devices=None, identity=None) -> SubmissionResult
    validate: Callable  # (assignment, devices=None, report=print) -> list[Check]
    template_files: Callable  # (assignment) -> {relative path: text} of the student's template repo
    summary: Callable  # (assignment) -> what validate is about to check, for its first line
    classroom_workflow: Callable  # (assignment) -> the template's GitHub Classroom workflow


def _grade_quiz(quiz, submission, student, devices=None, identity=None):
    # One device, and no hidden inputs to seed from the student's identity.
    return quiz_scoring.grade(quiz, Path(submission), student)


def _validate_quiz(quiz, devices=None, report=print):
    return quiz_validate.validate(quiz, report)


CODE = Kind("code", runs_student_code=True, load=code_assignment.parse, grade=engine.grade,
            validate=code_validate.validate, template_files=release.template_files,
            summary=lambda a: f"{len(a.tests)} hidden tests, {len(a.mistakes)} known mistakes, "
                              f"{len(a.variants)} correct variants",
            classroom_workflow=release.classroom_workflow)
QUIZ = Kind("quiz", runs_student_code=False, load=quiz_parse.parse, grade=_grade_quiz,
            validate=_validate_quiz, template_files=quiz_templates.template_files,
            summary=lambda q: f"{len(q.questions)} questions, {len(q.mistakes)} known mistakes",
            classroom_workflow=quiz_templates.classroom_workflow)
KINDS = {kind.name: kind for kind in (CODE, QUIZ)}


def of(assignment) -> Kind:
    """The kind of a loaded assignment (its class names it)."""
    return KINDS[assignment.kind]


def load(name: str, root: Path | None = None):
    """The assignment ``name`` (an ``Assignment`` or a ``Quiz``), from its manifest's kind."""
    root = root or project_root()
    folder = root / "assignments" / name
    manifest_path = folder / "manifest.toml"
    if not manifest_path.is_file():
        known = ", ".join(available(root)) or "none"
        raise ManifestError(f"no assignment named {name!r} (no {manifest_path}); known: {known}")
    try:
        manifest = tomllib.loads(manifest_path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{manifest_path} is not valid TOML: {error}") from None
    kind = KINDS.get(manifest.get("kind", "code"))
    if kind is None:
        allowed = " or ".join(f'"{known}"' for known in KINDS)
        raise ManifestError(f"{manifest_path}: kind must be {allowed}, not {manifest['kind']!r}")
    return kind.load(manifest, name, folder, root, manifest_path)
