"""nngrade side by side with nbgrader, on the same students' work, in one run on this machine.

    python bench/peers.py                           # 20 students of a2_numpy_mlp, 5 with one known mistake
    python bench/peers.py --students 40 --wrong 10 --mistake db_averaged --repeats 5

Each student's code is written twice: as a submission folder for `nngrade grade-all`, and
as that student's copy of the notebook `nngrade release --format nbgrader` makes (the
released notebook with its solution cells filled in) in an nbgrader course folder. The
correct students hold the reference or one of the assignment's correct variants; the
wrong ones hold the reference with the chosen catalogued mistake.

Then, in this one run, every command timed whole (interpreter start and exit included):

- a bare `python -c "import numpy, torch"`, before and after the graders (the yardstick);
- `nbgrader autograde` of every student (it grades one notebook after another: it has no
  parallel option); `nbgrader generate_assignment` runs first and is not timed;
- `nngrade grade-all` with the default workers (the usable cores) and with `--workers 1`,
  alternating, each into a fresh output folder, ``--repeats`` times.

It prints a table of wall time and seconds per submission with each grader's ratio to
nbgrader's, nngrade's own median time per submission (from results.json), and checks that
both graders mark down the same students (a student is marked down when their score is
below the maximum). Exit status: 0 when they agree and grade-all takes at most
``TARGET`` x nbgrader's wall time, else 1.

Otter-Grader is not run: its tests come from `otter assign` on a notebook in its own
format, which nngrade does not generate (see the closing line printed).
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders import kinds  # noqa: E402
from graders.sandbox import executors  # noqa: E402
from grade_time import bare_import_seconds  # noqa: E402 - the one yardstick of every bench

TARGET = 0.1  # grade-all's wall time for the batch, as a fraction of nbgrader autograde's
DEFAULT_ASSIGNMENT = "a2_numpy_mlp"
DEFAULT_MISTAKE = "two_layer_net_without_dropout"  # caught by the hidden tests only, in both graders


# --------------------------------------------------------------------------- the students

def cohort(assignment, students: int, wrong: int, mistake_id: str) -> dict[str, object]:
    """Student name -> the catalog entry their code uses (None: the reference). The first
    ``wrong`` students make the mistake; the others cycle through the reference and the
    correct variants."""
    mistake = next((m for m in assignment.mistakes if m.id == mistake_id), None)
    if mistake is None:
        raise SystemExit(f"{assignment.name} has no known mistake {mistake_id!r}; it has: "
                         f"{', '.join(m.id for m in assignment.mistakes)}")
    correct = [None, *assignment.variants]
    return {f"student{index:03d}": mistake if index < wrong else correct[(index - wrong) % len(correct)]
            for index in range(students)}


def write_folders(assignment, students: dict, root: Path) -> None:
    for student, entry in students.items():
        folder = root / student
        folder.mkdir(parents=True)
        source = assignment.reference_source if entry is None else assignment.source_with(entry)
        (folder / f"{assignment.module}.py").write_text(source)


def write_notebooks(assignment, students: dict, course: Path) -> None:
    """Each student's notebook: the released one (solutions stripped by nbgrader) with the
    reference's solution cells put back, and the student's entry appended to the cell of
    the task its function belongs to, exactly as the module file has it."""
    import nbformat

    name = assignment.name
    source = nbformat.read(course / "source" / name / f"{name}.ipynb", as_version=4)
    solutions = {_meta(c)["grade_id"]: re.sub(r"(?m)^[ \t]*### (BEGIN|END) SOLUTION\n", "", c.source)
                 for c in source.cells if _meta(c).get("solution")}
    task_of = {function: task.id for task in assignment.tasks.values() for function in task.functions}
    released = course / "release" / name / f"{name}.ipynb"
    for student, entry in students.items():
        notebook = nbformat.read(released, as_version=4)
        for cell in notebook.cells:
            grade_id = _meta(cell).get("grade_id")
            if _meta(cell).get("solution"):
                cell.source = solutions[grade_id]
                if entry is not None and grade_id == f"solution_{task_of[entry.target]}":
                    cell.source += f"\n\n\n{entry.source}\n{entry.target} = {entry.id}\n"
        folder = course / "submitted" / student / name
        folder.mkdir(parents=True)
        nbformat.write(notebook, str(folder / f"{name}.ipynb"))


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


# --------------------------------------------------------------------------- the graders

def _timed(command: list[str], **options) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, **options)
    return time.perf_counter() - started, run


def _check(run: subprocess.CompletedProcess, what: str, ok=(0,)) -> None:
    if run.returncode not in ok:
        raise SystemExit(f"{what} failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-6000:]}")


def nbgrader_course(assignment, course: Path) -> dict:
    """Release the source notebook, configure the course, generate the student version;
    returns the environment nbgrader commands run in."""
    _check(subprocess.run([sys.executable, "-m", "graders.cli", "release", "--format", "nbgrader", assignment.name,
                           "--out", str(course)], cwd=ROOT, capture_output=True, text=True),
           "nngrade release --format nbgrader")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(course / 'gradebook.db')!r}\n"
        "c.Execute.timeout = 300\n")
    environment = dict(os.environ)
    # nbgrader calls the alembic script by name, and the kernel must be this interpreter's.
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    for kind in ("CONFIG", "RUNTIME", "DATA"):  # nothing from the user's own Jupyter set-up
        environment[f"JUPYTER_{kind}_DIR"] = str(course / f".jupyter-{kind.lower()}")
    environment.pop("JUPYTER_PATH", None)
    _check(subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment.name, "--force"],
                          cwd=course, env=environment, capture_output=True, text=True), "nbgrader generate_assignment")
    return environment


def nbgrader_autograde(assignment, course: Path, environment: dict) -> float:
    seconds, run = _timed([sys.executable, "-m", "nbgrader", "autograde", assignment.name, "--force"],
                          cwd=course, env=environment)
    _check(run, "nbgrader autograde")
    return seconds


def nbgrader_marked_down(assignment, course: Path, students) -> set[str]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        found = set()
        for student in students:
            graded = gradebook.find_submission_notebook(assignment.name, assignment.name, student)
            if graded.score < graded.max_score:
                found.add(student)
        return found


def nngrade_grade_all(assignment, root: Path, out: Path, workers: int | None) -> float:
    command = [sys.executable, "-m", "graders.cli", "grade-all", assignment.name, str(root), "--out", str(out)]
    seconds, run = _timed(command + (["--workers", str(workers)] if workers else []), cwd=ROOT)
    _check(run, "nngrade grade-all", ok=(0, 1))
    return seconds


def nngrade_marked_down(out: Path) -> set[str]:
    with open(out / "grades.csv", newline="") as stream:
        return {row["student"] for row in csv.DictReader(stream) if float(row["score"]) < float(row["max_score"])}


def nngrade_own_seconds(out: Path, students) -> list[float]:
    import json

    return [json.loads((out / student / "results.json").read_text())["execution_time"] for student in students]


# --------------------------------------------------------------------------- the run

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default=DEFAULT_ASSIGNMENT)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--wrong", type=int, default=5, help="students with the mistake (default %(default)s)")
    parser.add_argument("--mistake", default=DEFAULT_MISTAKE, help="a catalogued mistake's id")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each grade-all (default %(default)s)")
    args = parser.parse_args()
    assignment = kinds.load(args.assignment, ROOT)
    students = cohort(assignment, args.students, args.wrong, args.mistake)
    wrong = {s for s, entry in students.items() if entry is not None and entry.id == args.mistake}
    cores = executors.usable_cores()
    print(f"{os.cpu_count()} CPUs here, {cores} usable; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    print(f"{args.assignment}: {args.students} students, {len(wrong)} with the mistake {args.mistake}", flush=True)

    with tempfile.TemporaryDirectory(prefix="nngrade-peers-") as scratch:
        scratch = Path(scratch)
        write_folders(assignment, students, scratch / "submissions")
        course = scratch / "course"
        environment = nbgrader_course(assignment, course)
        write_notebooks(assignment, students, course)

        bare = bare_import_seconds(3)
        print("nbgrader autograde...", flush=True)
        nbgrader_wall = nbgrader_autograde(assignment, course, environment)
        nbgrader_down = nbgrader_marked_down(assignment, course, students)
        walls: dict[str, list[float]] = {"default": [], "1": []}
        own: list[float] = []
        nngrade_down: set[str] = set()
        for round_ in range(args.repeats):
            for workers in ("default", "1"):
                print(f"nngrade grade-all --workers {cores if workers == 'default' else 1} "
                      f"({round_ + 1}/{args.repeats})...", flush=True)
                out = scratch / f"out-{workers}-{round_}"
                walls[workers].append(nngrade_grade_all(assignment, scratch / "submissions", out,
                                                        None if workers == "default" else 1))
                if workers == "default":
                    own += nngrade_own_seconds(out, students)
                    nngrade_down = nngrade_marked_down(out)
        bare += bare_import_seconds(3)
    print(f"load average afterwards {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    count = args.students
    yardstick = statistics.median(bare)
    default_wall, single_wall = statistics.median(walls["default"]), statistics.median(walls["1"])
    rows = [("nbgrader autograde (serial)", nbgrader_wall, f"{nbgrader_wall:.1f} s"),
            (f"nngrade grade-all ({cores} workers)", default_wall, _spread(walls["default"])),
            ("nngrade grade-all --workers 1", single_wall, _spread(walls["1"]))]
    print(f"\n| grader | wall for {count} | per submission | vs nbgrader |")
    print("| --- | --- | --- | --- |")
    for label, wall, shown in rows:
        print(f"| {label} | {shown} | {wall / count:.3f} s | {wall / nbgrader_wall:.3f} x |")
    print(f"| bare `python -c \"import numpy, torch\"` | | {yardstick:.2f} s (median of {len(bare)}, "
          f"{min(bare):.2f}-{max(bare):.2f}) | |")
    print(f"\nnngrade's own time per submission (results.json): median {statistics.median(own):.3f} s, "
          f"max {max(own):.3f} s ({statistics.median(own) / yardstick:.3f} x the bare import)")

    agree = nbgrader_down == nngrade_down == wrong
    print(f"marked down by nbgrader: {_names(nbgrader_down)}")
    print(f"marked down by nngrade:  {_names(nngrade_down)}")
    print(f"the same students, and those with the mistake: {'yes' if agree else 'NO'}")
    ratio = default_wall / nbgrader_wall
    print(f"grade-all / nbgrader wall time: {ratio:.3f} ({'meets' if ratio <= TARGET else 'MISSES'} the target "
          f"of {TARGET})")
    print("Otter-Grader: not run (its tests come from `otter assign` on a notebook in Otter's own format, "
          "which nngrade does not generate)")
    return 0 if agree and ratio <= TARGET else 1


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f} s"
    return f"{statistics.median(values):.1f} s ({min(values):.1f}-{max(values):.1f})"


def _names(students: set[str]) -> str:
    return ", ".join(sorted(students)) or "nobody"


if __name__ == "__main__":
    sys.exit(main())
