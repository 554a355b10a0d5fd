"""Render a ``SubmissionResult``: Gradescope's results.json, feedback.md, grades.csv rows."""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from graders.engine import SubmissionResult, TestResult

CSV_COLUMNS = ("student", "assignment", "score", "max_score", "status", "tests_passed",
               "tests_failed", "tests_not_run", "limits_hit")
OUTPUT_SHOWN = 4000


def results_json(result: SubmissionResult) -> dict:
    """Gradescope's autograder schema (score, output, tests[...]) plus an nngrade block."""
    tests = []
    for number, test in enumerate(result.tests, start=1):
        entry = {
            "name": _test_title(test),
            "number": str(number),
            "score": round(test.points, 4),
            "max_score": round(test.max_points, 4) if test.status != "not_run" else 0.0,
            "output": _test_output(test),
            "tags": [test.task, test.device],
            "visibility": "visible",
        }
        if test.status != "not_run":
            entry["status"] = test.status
        tests.append(entry)
    return {
        "score": result.score,
        "execution_time": round(result.seconds, 3),
        "output": _summary_line(result),
        "output_format": "text",
        "test_output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"nngrade": {
            "student": result.student, "assignment": result.assignment, "status": result.status,
            "max_score": result.max_score, "isolation": result.isolation,
            "grader_version": result.grader_version, "limits_hit": result.limits_hit,
            "diagnoses": sorted({d.id for t in result.tests for d in t.diagnoses}),
        }},
    }


def feedback_markdown(result: SubmissionResult, title: str = "") -> str:
    lines = [f"# Feedback: {title or result.assignment}", "",
             f"**Score: {_number(result.score)} / {_number(result.max_score)}**", ""]
    if result.status == "not_loaded":
        lines += ["Your submission could not be loaded, so no test could run:", "", "```", result.message, "```", ""]
    lines += ["| test | device | points | result |", "| --- | --- | --- | --- |"]
    for test in result.tests:
        lines.append(f"| {_test_title(test)} | {test.device} | {_number(test.points)} / "
                     f"{_number(test.max_points)} | {_status_word(test)} |")
    failed = [t for t in result.tests if t.status == "failed" and result.status != "not_loaded"]
    if failed:
        lines += ["", "## What went wrong", ""]
        for test in failed:
            lines += [f"### {_test_title(test)} ({test.device})", "", "```", test.message, "```", ""]
            for diagnosis in test.diagnoses:
                lines += [f"**Likely cause:** {diagnosis.explanation}", ""]
    not_run = [t for t in result.tests if t.status == "not_run"]
    if not_run:
        lines += ["", f"{len(not_run)} test(s) were not run and do not count toward the score: {not_run[0].message}."]
    if result.limits_hit:
        lines += ["", "Limits hit: " + ", ".join(result.limits_hit) + "."]
    if result.output.strip():
        shown = result.output[:OUTPUT_SHOWN]
        lines += ["", "## What your code printed", "", "```", shown.rstrip(), "```"]
    return "\n".join(lines).rstrip() + "\n"


def csv_row(result: SubmissionResult) -> dict:
    counts = {status: sum(1 for t in result.tests if t.status == status) for status in ("passed", "failed", "not_run")}
    return {"student": result.student, "assignment": result.assignment, "score": _number(result.score),
            "max_score": _number(result.max_score), "status": result.status,
            "tests_passed": counts["passed"], "tests_failed": counts["failed"],
            "tests_not_run": counts["not_run"], "limits_hit": ";".join(result.limits_hit)}


def write_student(result: SubmissionResult, folder: Path, title: str = "", extra: dict | None = None) -> None:
    """Write results.json and feedback.md for one student, each atomically.

    ``extra`` joins the nngrade block of results.json (bulk grading's resume key)."""
    document = results_json(result)
    document["extra_data"]["nngrade"].update(extra or {})
    # results.json last: bulk grading treats it as the mark that this student is done.
    atomic_write(folder / "feedback.md", feedback_markdown(result, title))
    atomic_write(folder / "results.json", json.dumps(document, indent=2) + "\n")


def write_csv(rows: list[dict], path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda r: r["student"]))
    atomic_write(path, buffer.getvalue())


def atomic_write(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _summary_line(result: SubmissionResult) -> str:
    passed = sum(1 for t in result.tests if t.status == "passed")
    ran = sum(1 for t in result.tests if t.status != "not_run")
    text = f"{passed} of {ran} tests passed."
    if result.status == "not_loaded":
        text = result.message
    not_run = len(result.tests) - ran
    if not_run:
        text += f" {not_run} GPU test(s) not run (no GPU)."
    return text


def _test_title(test: TestResult) -> str:
    return f"{test.task}: {test.description or test.name}"


def _test_output(test: TestResult) -> str:
    if test.status == "passed":
        return "passed"
    text = test.message
    for diagnosis in test.diagnoses:
        text += f"\nLikely cause: {diagnosis.explanation}"
    return text


def _status_word(test: TestResult) -> str:
    if test.status == "not_run":
        return "not run (no GPU)" if test.device == "cuda" else "not run"
    return "passed" if test.status == "passed" else "**failed**"


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"
