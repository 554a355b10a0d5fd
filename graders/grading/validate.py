"""``nngrade validate``: prove an assignment sound before students see it.

The reference scores full marks (under several student seeds), the untouched stub scores
zero without crashing anything, every known mistake loses points and is named in the
feedback, every correct variant keeps full marks, none of these is flagged as possible
tampering, and the public tests pass against the reference and fail against the stub. Every submission here goes through the real sandbox.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from graders.grading import engine
from graders.outputs import release
from graders.grading.assignment import Assignment

SEED_NAMES = ("validate-reference-1", "validate-reference-2")


@dataclass
class Check:
    subject: str
    ok: bool
    detail: str


def validate(assignment: Assignment, devices: set[str] | None = None, report=print) -> list[Check]:
    checks: list[Check] = []

    def record(subject: str, ok: bool, detail: str) -> None:
        checks.append(Check(subject, ok, detail))
        report(f"{'ok  ' if ok else 'FAIL'}  {subject:<38} {detail}")

    with tempfile.TemporaryDirectory(prefix="nngrade-validate-") as scratch:
        def grade(label: str, source: str, student: str) -> engine.SubmissionResult:
            folder = Path(scratch) / label
            folder.mkdir()
            (folder / f"{assignment.module}.py").write_text(source)
            return engine.grade(assignment, folder, student, devices)

        for student in SEED_NAMES:
            result = grade(student, assignment.reference_source, student)
            failed = [f"{t.name}[{t.device}]: {t.message}" for t in result.tests if t.status == "failed"]
            record(f"reference ({student})", result.score == result.max_score > 0 and not failed
                   and not result.flagged, f"{_score(result)}" + ("; " + "; ".join(failed) if failed else "")
                   + _flags(result))

        stub = release.strip_solutions(assignment.reference_source, str(assignment.reference_path))
        result = grade("stub", stub, "validate-stub")
        crashed = [t.name for t in result.tests if t.crashed]
        record("stub", result.score == 0 and result.status == "graded" and not crashed,
               _score(result) + (f"; unexpected failures in {crashed}" if crashed else ""))

        for entry in assignment.mistakes:
            result = grade(f"mistake-{entry.id}", assignment.source_with(entry), "validate-mistake")
            named = entry.id in {d.id for t in result.tests for d in t.diagnoses}
            record(f"mistake {entry.id}", result.score < result.max_score and named and not result.flagged,
                   f"{_score(result)}, " + ("diagnosed" if named else "NOT diagnosed") + _flags(result))

        for entry in assignment.variants:
            result = grade(f"variant-{entry.id}", assignment.source_with(entry), "validate-variant")
            failed = [f"{t.name}: {t.message}" for t in result.tests if t.status == "failed"]
            record(f"variant {entry.id}", result.score == result.max_score and not failed and not result.flagged,
                   _score(result) + ("; " + "; ".join(failed) if failed else "") + _flags(result))

        for label, source, should_pass in (("reference", assignment.reference_source, True), ("stub", stub, False)):
            passed, summary = run_public_tests(assignment, source, Path(scratch) / f"public-{label}")
            record(f"public tests vs {label}", passed == should_pass, summary)

    if len(assignment.mistakes) == 0:
        record("mistake catalog", False, "no known mistakes are catalogued")
    return checks


def run_public_tests(assignment: Assignment, module_source: str, folder: Path) -> tuple[bool, str]:
    """Run the template's public tests with plain pytest against ``module_source``."""
    files = release.template_files(assignment)
    files[f"{assignment.module}.py"] = module_source
    for relative, text in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                               cwd=folder, capture_output=True, text=True, env=environment, timeout=600)
    summary = (completed.stdout.strip().splitlines() or ["(no output)"])[-1]
    return completed.returncode == 0, summary


def _flags(result: engine.SubmissionResult) -> str:
    """Honest code is never flagged as possible tampering: say so where it was."""
    return "; FLAGGED: " + "; ".join(e.describe() for e in result.evidence) if result.flagged else ""


def _score(result: engine.SubmissionResult) -> str:
    return f"{result.score:g}/{result.max_score:g}"
