"""Render a ``SubmissionResult``: Gradescope's results.json, feedback.md, grades.csv rows."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from graders.grading.assignment import reveals
from graders.grading.engine import SubmissionResult, TestResult

# The first nine columns are fixed (README.md lists them; older runs' files have them); what an LMS import needs
# follows: the score as a percentage and the student's identifier there (the roster's, else
# the folder name).
CSV_COLUMNS = ("student", "assignment", "score", "max_score", "status", "tests_passed",
               "tests_failed", "tests_not_run", "limits_hit", "percent", "identifier", "isolation",
               "flagged")
OUTPUT_SHOWN = 4000


def results_json(result: SubmissionResult) -> dict:
    """Gradescope's autograder schema (score, output, tests[...]) plus an nngrade block.

    What a test's output shows follows the assignment's reveal policy. Under "names" it is
    pass/fail only, and each failed test's details go into an extra zero-point entry that
    Gradescope shows students only once the instructor publishes the grades."""
    tests, details = [], []
    for number, test in enumerate(result.tests, start=1):
        entry = {
            "name": _test_title(test),
            "number": str(number),
            "score": round(test.points, 4),
            "max_score": round(test.max_points, 4) if test.counts else 0.0,
            "output": _test_output(test, result.reveal),
            "tags": [test.task, test.device],
            "visibility": "visible",
            "extra_data": _test_data(test),
        }
        if test.status != "not_run":
            entry["status"] = test.status
        tests.append(entry)
        if test.status == "failed" and not reveals(result.reveal, "messages"):
            details.append({
                "name": f"{_test_title(test)} ({test.device}): details",
                "number": f"{number}.1", "score": 0.0, "max_score": 0.0,
                "output": _test_output(test, "messages"), "tags": [test.task, test.device, "details"],
                "visibility": "after_published", "extra_data": {"details_of": str(number)},
            })
    tests += details
    explanations = {d.id: d.explanation for t in result.tests for d in t.diagnoses}
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
            "explanations": dict(sorted(explanations.items())), "reveal": result.reveal,
            "notes": result.notes, "message": result.message,
            "flagged": result.flagged, "evidence": [e.to_dict() for e in result.evidence],
        }},
    }


def feedback_markdown(result: SubmissionResult, title: str = "") -> str:
    """feedback.md. Everything the student's code controls (messages, printed output, file
    names) is fenced or escaped, so that it can never close a block and print a fake
    score, raw HTML or a remote image."""
    lines = [f"# Feedback: {title or result.assignment}", "",
             f"**Score: {_number(result.score)} / {_number(result.max_score)}**", ""]
    if result.status == "not_loaded":
        lines += ["Your submission could not be loaded, so no test could run:", "", *fenced(result.message), ""]
    for note in result.notes:
        lines += [f"Note: {escape_markdown(note)}.", ""]
    lines += ["| test | device | points | result |", "| --- | --- | --- | --- |"]
    for test in result.tests:
        if test.status == "not_run":
            continue  # summed up in one line below the table
        cell = _test_title(test).replace("|", "\\|")  # a "|" (as in |x|) would end the cell
        lines.append(f"| {cell} | {test.device} | {_number(test.points)} / "
                     f"{_number(test.max_points)} | {_status_word(test)} |")
    lines += _not_run_line(result)
    failed = [t for t in result.tests if t.status == "failed" and result.status != "not_loaded"]
    if failed and reveals(result.reveal, "messages"):
        lines += ["", "## What went wrong", ""]
        for test in failed:
            lines += _failure_section(test, result.reveal)
    elif failed:
        lines += ["", "The details of failed tests are not shown for this assignment."]
    credited = [t for t in result.tests if t.status == "passed" and t.fix_first]
    if credited and reveals(result.reveal, "messages"):
        lines += ["", "## Credited although they fail", ""]
        for test in credited:
            lines += [f"- {_test_title(test)} ({test.device}): {_fix_first_text(test)}"]
    if reveals(result.reveal, "messages"):
        lines += _other_warnings(result, failed)
    if result.limits_hit:
        lines += ["", "Limits hit: " + ", ".join(result.limits_hit) + "."]
    if result.flagged:
        lines += ["", *integrity_note(result)]
    if result.output.strip() and (result.status == "not_loaded" or reveals(result.reveal, "inputs")):
        shown = result.output[:OUTPUT_SHOWN]
        lines += ["", "## What your code printed", "", *fenced(shown.rstrip())]
    elif result.output.strip():
        # Printing an argument is the easiest way to copy a hidden input out.
        count, size = result.printed if result.printed[1] else (len(result.output.strip().splitlines()), 0)
        amount = f"{count:,} line(s)" + (f" ({_size(size)})" if size >= 1024 else "")
        lines += ["", f"Your code printed {amount} while the hidden tests ran; they are not shown "
                      "because they could contain the hidden inputs. Print while running the public tests instead."]
    return "\n".join(lines).rstrip() + "\n"


def _failure_section(test: TestResult, reveal: str) -> list[str]:
    lines = [f"### {_test_title(test)} ({test.device})", "", *fenced(test.message), ""]
    if test.fix_first:
        lines += [f"**Fix first:** {_fix_first_text(test)}", ""]
    for diagnosis in test.diagnoses:
        lines += [f"**Likely cause:** {diagnosis.explanation}", ""]
    if test.warnings:
        lines += ["Warnings your code raised during this test:", "", *fenced("\n".join(test.warnings)), ""]
    if test.inputs:
        lines += [_inputs_heading(reveal), "", *fenced("\n".join(test.inputs)), ""]
    return lines


def _other_warnings(result: SubmissionResult, failed: list[TestResult]) -> list[str]:
    """Warnings raised during tests that passed (those of failed tests are shown with them)."""
    shown = {line for test in failed for line in test.warnings}
    others = list(dict.fromkeys(line for test in result.tests for line in test.warnings if line not in shown))
    if not others:
        return []
    return ["", "## Warnings", "", "Your code raised these warnings while the hidden tests ran. They cost no "
            "points, but they often point at an overflow or a division by zero:", "", *fenced("\n".join(others))]


def _fix_first_text(test: TestResult) -> str:
    names = [f"{name}()" for name in test.fix_first]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    text = (f"with the reference's {listed} in place of yours this test passes, so it fails because of "
            f"{'that function' if len(names) == 1 else 'those functions'}: fix {listed} first "
            "(their own tests say how).")
    if test.status == "passed":
        text += " Its points are credited: this assignment does not take points twice for one mistake."
    return text


def _not_run_line(result: SubmissionResult) -> list[str]:
    """All the tests that could not run (CUDA ones on a machine without a GPU), in one line."""
    not_run = [t for t in result.tests if t.status == "not_run"]
    if not not_run:
        return []
    counted = "count as lost points" if any(t.required for t in not_run) else "do not count toward the score"
    devices = ", ".join(sorted({t.device.upper() for t in not_run}))
    return ["", f"{len(not_run)} {devices} test(s) were not run and {counted}: {not_run[0].message}."]


def fenced(text: str) -> list[str]:
    """A Markdown code block holding ``text`` verbatim: its fence is longer than any run of
    backticks inside, so nothing in the text can end the block early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def escape_markdown(text: str) -> str:
    """``text`` as plain words inside a line of Markdown: one line (so it cannot start a
    block of its own), HTML escaped, and the characters that open emphasis, code, links,
    images or strikethrough backslash-escaped. Everything else reads as written."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]~])", r"\\\1", text)


def integrity_note(result: SubmissionResult) -> list[str]:
    """The feedback's word on possible tampering: what was seen, where, and what happens next."""
    zeroed = sum(1 for t in result.tests if t.tampered)
    lines = ["## Integrity check", "",
             "Your submission is marked for a person to look at. This is not a verdict: the grader noticed "
             "code that can interfere with grading (listed below), and a member of staff will check it. If it "
             "was an experiment or a mistake, remove it and submit again."]
    if zeroed:
        lines[-1] += f" {zeroed} test(s) during which it happened scored 0."
    lines.append("")
    lines += [f"- {escape_markdown(e.describe())}" for e in result.evidence]  # file names are the student's
    return lines


def csv_row(result: SubmissionResult) -> dict:
    counts = {status: sum(1 for t in result.tests if t.status == status) for status in ("passed", "failed", "not_run")}
    return {"student": result.student, "assignment": result.assignment, "score": _number(result.score),
            "max_score": _number(result.max_score), "status": result.status,
            "tests_passed": counts["passed"], "tests_failed": counts["failed"],
            "tests_not_run": counts["not_run"], "limits_hit": ";".join(result.limits_hit),
            "isolation": result.isolation, "flagged": "yes" if result.flagged else "no"}


def write_student(result: SubmissionResult, folder: Path, title: str = "", extra: dict | None = None) -> None:
    """Write results.json and feedback.md for one student, each atomically.

    ``extra`` joins the nngrade block of results.json (bulk grading's resume key)."""
    document = results_json(result)
    document["extra_data"]["nngrade"].update(extra or {})
    for leftover in folder.glob(".*.*"):  # half-written temporaries of an interrupted run
        if leftover.name.startswith((".results.json.", ".feedback.md.")):
            leftover.unlink(missing_ok=True)
    # results.json last: bulk grading treats it as the mark that this student is done.
    atomic_write(folder / "feedback.md", feedback_markdown(result, title))
    atomic_write(folder / "results.json", json.dumps(document, indent=2) + "\n")


def write_csv(rows: list[dict], path: Path, identifiers: dict[str, str] | None = None) -> None:
    """One row per student, sorted; ``identifiers`` maps a student to their LMS identifier."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: r["student"]):
        full = {**row, "percent": _percent(row), "identifier": (identifiers or {}).get(row["student"], row["student"])}
        writer.writerow({key: spreadsheet_safe(value) for key, value in full.items()})
    atomic_write(path, buffer.getvalue())


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(value):
    """A CSV cell a spreadsheet shows as text, never evaluates: OWASP's rule (a leading
    quote before =, +, -, @, tab or CR) for any text that is not a plain number."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_STARTS):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def printable(text: str) -> str:
    """Text for a terminal or log: control characters (an ESC sequence in a folder name)
    shown as escapes, never obeyed."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in str(text))


RESERVED_NAMES = {"grades.csv", "junit.xml", "report.html", "similarity.csv", ".", ".."}


def student_folder(out: Path, student: str) -> Path:
    """Where a student's results.json and feedback.md go: their name, unless that name is
    one of the batch's own files (a folder called grades.csv must not shadow grades.csv)."""
    return out / (f"{student} (student)" if student in RESERVED_NAMES or student.startswith(".") else student)


def _percent(row: dict) -> str:
    try:
        score, most = float(row["score"]), float(row["max_score"])
    except (KeyError, TypeError, ValueError):
        return ""
    return f"{100 * score / most:.2f}" if most > 0 else ""


# --------------------------------------------------------------------------- reading back

@dataclass
class Record:
    """One (test, device) of a results.json, as the exporters and the report read it."""

    id: str
    title: str
    task: str
    device: str
    status: str  # passed | failed | not_run
    points: float
    max_points: float
    counts: bool
    message: str = ""  # the failure's details, whatever the reveal policy
    diagnoses: list[str] = field(default_factory=list)
    limit: str | None = None
    crashed: bool = False
    tampered: bool = False


def test_records(document: dict) -> list[Record]:
    """The (test, device) results of a results.json written by ``results_json``; a file
    from an older nngrade (no per-test extra_data) is read from names and tags."""
    tests = [t for t in document.get("tests", []) if isinstance(t, dict)]
    details = {str(t["extra_data"]["details_of"]): str(t.get("output", "")) for t in tests
               if isinstance(t.get("extra_data"), dict) and "details_of" in t["extra_data"]}
    records = []
    for test in tests:
        data = test.get("extra_data") if isinstance(test.get("extra_data"), dict) else {}
        if "details_of" in data:
            continue
        tags = list(test.get("tags") or []) + ["", ""]
        status = data.get("status") or test.get("status") or "not_run"
        output = str(test.get("output", ""))
        message = details.get(str(test.get("number")), "" if status == "passed" else output)
        records.append(Record(
            id=str(data.get("test", test.get("name", ""))), title=str(test.get("name", "")),
            task=str(data.get("task", tags[0])), device=str(data.get("device", tags[1]) or "cpu"),
            status=status, points=float(data.get("points", test.get("score") or 0.0)),
            max_points=float(data.get("max_points", test.get("max_score") or 0.0)),
            counts=bool(data.get("counts", status != "not_run")), message=message,
            diagnoses=list(data.get("diagnoses", [])), limit=data.get("limit"),
            crashed=bool(data.get("crashed", False)), tampered=bool(data.get("tampered", False))))
    return records


def graded_documents(out: Path, students: list[str] | None = None):
    """``(student, results.json document)`` for every student's results.json under ``out``
    (only ``students``, if given), in name order; the document is None where the file
    cannot be read or parsed. Read as data: nothing in it is run."""
    if students is not None:
        paths = [(student, student_folder(out, student) / "results.json") for student in sorted(students)]
    else:
        paths = [(path.parent.name, path) for path in sorted(out.glob("*/results.json"))]
    for name, path in paths:
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            if students is None or path.exists():
                yield name, None
            continue
        block = document.get("extra_data", {}).get("nngrade", {}) if isinstance(document, dict) else {}
        yield (name if students is not None else str(block.get("student") or name)), document


def atomic_write(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; results are for others to read
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
    for note in result.notes:
        text += f" {note}."
    return text


def _test_title(test: TestResult) -> str:
    return f"{test.task}: {test.description or test.name}"


def _test_output(test: TestResult, reveal: str = "messages") -> str:
    if test.status == "passed":
        return "passed" + (f" (credited: {_fix_first_text(test)})" if test.fix_first else "")
    if test.status == "failed" and not reveals(reveal, "messages"):
        return "failed"
    text = test.message
    if test.fix_first:
        text += f"\nFix first: {_fix_first_text(test)}"
    for diagnosis in test.diagnoses:
        text += f"\nLikely cause: {diagnosis.explanation}"
    if test.warnings and test.status == "failed":
        text += "\nWarnings your code raised during this test:\n" + "\n".join(test.warnings)
    if test.inputs and test.status == "failed":
        text += "\n" + _inputs_heading(reveal) + "\n" + "\n".join(test.inputs)
    return text


def _inputs_heading(reveal: str) -> str:
    if reveals(reveal, "inputs"):
        return "The hidden inputs it sent:"
    return "What it sent (kinds and shapes; the values stay hidden):"


def _test_data(test: TestResult) -> dict:
    """The machine-readable part of a test entry (read back by ``test_records``)."""
    # Points unrounded: the gradebook adds them up and must reach grades.csv's score, not
    # 99.9998 for 100 (Gradescope's "score" beside them is rounded for display).
    data = {"test": test.name, "task": test.task, "device": test.device, "status": test.status,
            "points": test.points, "max_points": test.max_points, "counts": test.counts}
    if test.diagnoses:
        data["diagnoses"] = [d.id for d in test.diagnoses]
    if test.limit:
        data["limit"] = test.limit
    if test.crashed:
        data["crashed"] = True
    if test.fix_first:
        data["fix_first"] = list(test.fix_first)
    if test.tampered:
        data["tampered"] = True
    return data


def _status_word(test: TestResult) -> str:
    if test.status == "not_run":
        return "not run (no GPU)" if test.device == "cuda" else "not run"
    return "passed" if test.status == "passed" else "**failed**"


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count / 1024:.0f} KiB"


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"
