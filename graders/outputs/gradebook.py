"""Write a graded folder's scores into nbgrader's gradebook database.

Through ``nbgrader.api.Gradebook`` only (no SQL of our own), so any database URL nbgrader
accepts works and nbgrader's tools (formgrader, ``nbgrader export``) read the result:

    assignment   the nngrade assignment (e.g. a2_numpy_mlp)
    notebook     one, named after the student module (e.g. mlp)
    grade cells  one per (hidden test, device), named ``test[device]``, max_score = its points
    students     one per graded submission folder; auto_score = the points earned

Only (test, device) pairs that counted toward the score get a cell (CUDA tests not run on
a CPU-only machine do not), so nbgrader's score and max score equal grades.csv's.
Grades set by hand (manual_score) are left alone; a re-run updates auto_score.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
import warnings
from pathlib import Path

from graders.outputs import render


def check_url(db_url: str) -> str:
    """Why nbgrader could not write to ``db_url``, or "" (checked before a batch is graded,
    not after)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    try:
        url = make_url(db_url)
    except Exception as error:  # noqa: BLE001 - sqlalchemy raises several kinds for a bad URL
        return f"{db_url!r} is not a database URL ({error}); for example sqlite:///gradebook.db"
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return "an in-memory database would be lost when grading ends; name a file: sqlite:///gradebook.db"
        folder = Path(url.database).expanduser().resolve().parent
        if not folder.is_dir():
            return f"the folder {folder} for {url.database} does not exist"
        if not os.access(folder, os.W_OK):
            return f"the folder {folder} for {url.database} is not writable"
        return ""
    try:
        with create_engine(url).connect():
            return ""
    except Exception as error:  # noqa: BLE001 - any failure to connect is the answer
        return f"cannot connect to {url.render_as_string(hide_password=True)}: {type(error).__name__}: {error}"


def cell_name(record: render.Record) -> str:
    return f"{record.id}[{record.device}]"


def write(db_url: str, assignment: str, notebook: str, out: Path, students: list[str] | None = None,
          course_id: str = "default_course") -> int:
    """Record every ``STUDENT/results.json`` under ``out``; returns the number of students."""
    graded = _graded(out, students)
    return write_records(db_url, assignment, notebook, graded, course_id)


def write_records(db_url: str, assignment: str, notebook: str, graded: dict[str, list[render.Record]],
                  course_id: str = "default_course") -> int:
    from nbgrader.api import Gradebook, Grade, MissingEntry

    cells: dict[str, float] = {}
    for records in graded.values():
        for record in records:
            if record.counts:
                cells.setdefault(cell_name(record), record.max_points)
    with _alembic_on_path(), warnings.catch_warnings(), Gradebook(db_url, course_id=course_id) as gradebook:
        # nbgrader's own add_submission builds its rows before adding them to the session,
        # which SQLAlchemy 2 warns about; the rows are stored all the same.
        warnings.filterwarnings("ignore", message=".*not in session.*")
        gradebook.update_or_create_assignment(assignment)
        gradebook.update_or_create_notebook(notebook, assignment)
        for name, max_points in cells.items():
            gradebook.update_or_create_grade_cell(name, notebook, assignment, max_score=max_points,
                                                  cell_type="code")
        for student, records in sorted(graded.items()):
            gradebook.update_or_create_student(student)
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                submission = gradebook.add_submission(assignment, student)
            submitted = next(nb for nb in submission.notebooks if nb.name == notebook)
            points = {cell_name(r): r.points for r in records if r.counts}
            for name in cells:
                try:
                    grade = gradebook.find_grade(name, notebook, assignment, student)
                except MissingEntry:  # a cell added after this submission was first recorded
                    cell = gradebook.find_grade_cell(name, notebook, assignment)
                    grade = Grade(cell_id=cell.id, notebook=submitted)
                    gradebook.db.add(grade)
                grade.auto_score = points.get(name, 0.0)
                grade.needs_manual_grade = False
            gradebook.db.commit()
    return len(graded)


@contextlib.contextmanager
def _alembic_on_path():
    """nbgrader runs the ``alembic`` command to stamp a new database; a virtual environment
    used without activating it (``.venv/bin/nngrade``) has it beside its python only."""
    saved = os.environ.get("PATH", "")
    if shutil.which("alembic") is None:
        os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), saved])
    try:
        yield
    finally:
        os.environ["PATH"] = saved


def _graded(out: Path, students: list[str] | None) -> dict[str, list[render.Record]]:
    return {student: render.test_records(document)
            for student, document in render.graded_documents(out, students) if document is not None}
