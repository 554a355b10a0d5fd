"""Grade a folder of submissions in parallel, writing each result as soon as it is done.

A re-run skips a submission whose files, the assignment's files and the grader version
are all unchanged since its results.json was written, so an interrupted batch resumes.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from graders import __version__, assignment as assignments, engine, render, sandbox

SKIPPED_NAMES = {"__MACOSX", "__pycache__"}


@dataclass
class Graded:
    student: str
    row: dict
    reused: bool = False
    error: str | None = None


def find_submissions(root: Path) -> dict[str, Path]:
    """Student name -> folder: every visible sub-folder of ``root`` (GitHub Classroom's clone
    layout, or a Gradescope export's ``submission_*`` folders)."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder of submissions")
    found = {}
    for path in sorted(root.iterdir()):
        if path.is_dir() and not path.name.startswith(".") and path.name not in SKIPPED_NAMES:
            found[path.name] = _unwrap(path)
    return found


def unpack_if_zip(root: Path) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    if root.is_file() and zipfile.is_zipfile(root):
        holder = tempfile.TemporaryDirectory(prefix="nngrade-zip-")
        with zipfile.ZipFile(root) as archive:
            archive.extractall(holder.name)
        return _unwrap(Path(holder.name)), holder
    return root, None


def _unwrap(folder: Path) -> Path:
    """A folder holding nothing but one folder (a zip's top level) stands for that folder."""
    entries = [p for p in folder.iterdir() if p.name not in SKIPPED_NAMES and not p.name.startswith(".")]
    return _unwrap(entries[0]) if len(entries) == 1 and entries[0].is_dir() else folder


def content_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not path.is_symlink() and not any(p.startswith(".git") for p in relative.parts):
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def assignment_fingerprint(assignment: assignments.Assignment) -> str:
    digest = hashlib.sha256(__version__.encode())
    for path in sorted([assignment.reference_path, *assignment.folder.rglob("*.py"), *assignment.folder.glob("*.toml")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- per process

_state: dict = {}


def _init_process(name: str, root: str, devices) -> None:
    _state["assignment"] = assignments.load(name, Path(root))
    _state["devices"] = devices
    sandbox.shared_zygote()  # warm before the first submission, not during it


def grade_one(student: str, folder: str, out: str, fingerprint: str) -> Graded:
    """Grade one submission and write its files; runs in a pool process."""
    assignment = _state["assignment"]
    target = Path(out) / student
    key = f"{fingerprint}:{content_hash(Path(folder))}"
    previous = _previous_row(target / "results.json", key)
    if previous is not None:
        return Graded(student, previous, reused=True)
    try:
        result = engine.grade(assignment, Path(folder), student, _state["devices"])
    except Exception as error:  # noqa: BLE001 - one broken grading must not stop the batch
        row = {"student": student, "assignment": assignment.name, "score": 0, "max_score": "",
               "status": "grader_error"}
        return Graded(student, row, error=f"{type(error).__name__}: {error}")
    row = render.csv_row(result)
    render.write_student(result, target, assignment.title, extra={"resume_key": key, "csv_row": row})
    return Graded(student, row)


def _previous_row(results: Path, key: str) -> dict | None:
    try:
        block = json.loads(results.read_text())["extra_data"]["nngrade"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or corrupt: grade again
    return block.get("csv_row") if block.get("resume_key") == key else None


# --------------------------------------------------------------------------- the batch

def grade_all(name: str, root: Path, out: Path, workers: int | None = None, devices=None,
              progress=None) -> list[Graded]:
    assignment = assignments.load(name)
    source, holder = unpack_if_zip(root)
    try:
        submissions = find_submissions(source)
        out.mkdir(parents=True, exist_ok=True)
        fingerprint = assignment_fingerprint(assignment)
        workers = max(1, min(workers or os.cpu_count() or 1, len(submissions) or 1))
        outcomes: list[Graded] = []
        context = get_context("spawn")  # pool processes start clean, then warm their own zygote
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_process,
                                 initargs=(name, str(assignments.project_root()), devices)) as pool:
            futures = [pool.submit(grade_one, student, str(folder), str(out), fingerprint)
                       for student, folder in submissions.items()]
            for future in as_completed(futures):
                outcome = future.result()
                outcomes.append(outcome)
                render.write_csv([o.row for o in outcomes], out / "grades.csv")
                if progress:
                    progress(outcome, len(outcomes), len(futures))
        render.write_csv([o.row for o in outcomes], out / "grades.csv")
        return sorted(outcomes, key=lambda o: o.student)
    finally:
        if holder is not None:
            holder.cleanup()


def print_summary(outcomes: list[Graded], stream=sys.stdout) -> None:
    width = max([len(o.student) for o in outcomes] + [7])
    stream.write(f"{'student':<{width}}  {'score':>12}  status\n")
    stream.write(f"{'-' * width}  {'-' * 12}  {'-' * 12}\n")
    for o in outcomes:
        score = f"{o.row['score']} / {o.row['max_score']}"
        note = " (unchanged, kept)" if o.reused else (f"  {o.error}" if o.error else "")
        stream.write(f"{o.student:<{width}}  {score:>12}  {o.row['status']}{note}\n")
    graded = [o for o in outcomes if o.row["status"] != "grader_error"]
    if graded:
        scores = sorted(float(o.row["score"]) for o in graded)
        stream.write(f"\n{len(outcomes)} submissions, {len(graded)} graded, "
                     f"median score {scores[len(scores) // 2]:g}, "
                     f"{sum(o.reused for o in outcomes)} unchanged since the last run\n")

