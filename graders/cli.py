"""The ``nngrade`` command line."""
from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from graders import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nngrade", description="Autograder for build-it-yourself deep-learning assignments.")
    parser.add_argument("--version", action="version", version=f"nngrade {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("validate", help="reference full marks, stub zero, every known mistake caught")
    p.add_argument("assignment")
    _device_option(p)
    _isolation_option(p)

    p = commands.add_parser("guard", help="what each forbidden-API group covers (torch's operators, by name)")
    p.add_argument("assignment", nargs="?", help="only the groups this assignment's tasks forbid")
    p.add_argument("--ops", action="store_true", help="list every operator, not just the counts")

    p = commands.add_parser("release", help="regenerate student_template/ from reference/ + assignments/")
    p.add_argument("assignments", nargs="*", help="default: every assignment")
    p.add_argument("--check", action="store_true", help="only report whether the committed templates are in sync")
    p.add_argument("--format", choices=["template", "nbgrader"], default="template",
                   help="template: student_template/ (default); nbgrader: an nbgrader source notebook per "
                        "code assignment, written to COURSE/source/<name>/<name>.ipynb")
    p.add_argument("--out", type=Path, metavar="COURSE",
                   help="with --format nbgrader: the nbgrader course folder (default: build/nbgrader)")

    p = commands.add_parser("grade", help="grade one submission folder")
    p.add_argument("assignment")
    p.add_argument("submission", type=Path)
    p.add_argument("--out", type=Path,
                   help="write results.json, feedback.md and grades.csv here (and the --format file); "
                        "without it, print the --format document on stdout")
    p.add_argument("--format", choices=["gradescope", "classroom", "junit"], default="gradescope",
                   help="gradescope: results.json (default); classroom: GitHub Classroom's autograding "
                        "result JSON (in --out: STUDENT/classroom.json); junit: JUnit XML (in --out: junit.xml)")
    p.add_argument("--student", help="default: the submission folder's name")
    _device_option(p)
    _isolation_option(p)

    p = commands.add_parser("grade-all", help="grade every submission folder under a root")
    p.add_argument("assignment")
    p.add_argument("root", type=Path, help="a folder of submission folders, or a zip of them")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--workers", type=int, default=None,
                   help="grading processes (default: the cores this process may use); with --scheduler, "
                        "the cluster's own size decides")
    p.add_argument("--executor", choices=["local", "dask", "ray"], default="local",
                   help="local: a process pool on this machine (default); dask, ray: that engine's cluster "
                        "at --scheduler, else a local one started for this run")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="an existing cluster: a Dask scheduler (tcp://host:8786) or a Ray address (auto, "
                        "ray://host:10001); its workers need nngrade installed and NNGRADE_ROOT set")
    p.add_argument("--gradebook", metavar="DB_URL",
                   help="also record every score in an nbgrader gradebook (e.g. sqlite:///gradebook.db)")
    p.add_argument("--roster", type=Path, metavar="CSV",
                   help="map students to LMS identifiers in grades.csv: a CSV with a github_username (or "
                        "student) column and an identifier column (GitHub Classroom's roster export)")
    _device_option(p)
    _isolation_option(p)

    p = commands.add_parser("doctor", help="what this machine gives the grader: isolation, a sandboxed worker, the GPU")
    _isolation_option(p)

    p = commands.add_parser("report", help="the instructor report (HTML with plots) for a graded folder")
    p.add_argument("folder", type=Path, help="a grade-all --out folder")
    p.add_argument("-o", "--output", type=Path, help="default: FOLDER/report.html")

    p = commands.add_parser("export", help="platform bundles and workflow files")
    p.add_argument("platform", choices=["gradescope", "classroom"])
    p.add_argument("assignment")
    p.add_argument("-o", "--output", type=Path,
                   help="gradescope: the autograder zip (default: ASSIGNMENT-gradescope.zip); classroom: "
                        "where to write the workflow (default: stdout)")

    args = parser.parse_args(argv)
    _quick_exit()
    from graders.grading.assignment import ManifestError
    from graders.sandbox.submission import BatchError
    from graders.sandbox.isolation import ENVIRONMENT_VARIABLE, IsolationUnavailable

    if getattr(args, "isolation", None):
        os.environ[ENVIRONMENT_VARIABLE] = args.isolation  # grading processes started later inherit it
    try:
        return COMMANDS[args.command](args)
    except (ManifestError, FileNotFoundError, NotADirectoryError, IsolationUnavailable, BatchError) as error:
        print(f"nngrade: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        from graders.sandbox.host import GraderProblem  # only now: a command that grades nothing never loads it

        if not isinstance(error, GraderProblem):  # the grader could not run the tests here
            raise
        print(f"nngrade: the grader could not run this submission's tests: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a full disk, a read-only or unwritable --out
        if error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        where = f" ({error.filename})" if error.filename else ""
        print(f"nngrade: cannot write results{where}: {error.strerror}; finished results are kept "
              "and a re-run resumes", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nngrade: interrupted; finished results are kept and a re-run resumes", file=sys.stderr)
        return 130


def _quick_exit() -> None:
    """At exit, freeze what is left instead of collecting it: with torch imported, the
    interpreter's last garbage collections take half a second, and nothing in them needs
    a finalizer (files are closed, results written, zygotes closed by their own atexit)."""
    import atexit
    import gc

    atexit.unregister(gc.freeze)  # once, however many times main() runs in one process
    atexit.register(gc.freeze)


def _device_option(parser) -> None:
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all",
                        help="which devices' tests to run (default: all the assignment lists)")


def _isolation_option(parser) -> None:
    parser.add_argument("--isolation", choices=["auto", "namespace", "landlock", "none"], default=None,
                        help="how submissions are shut in (default: $NNGRADE_ISOLATION, else auto: the strongest "
                             "available; grading refuses to start where none hides the grader's files). "
                             "none grades without protection and records it in every result")


def _check_devices(loaded, choice: str) -> None:
    """--device cuda where it cannot run: say so now, not after a batch of zeros."""
    if choice != "cuda":
        return
    if "cuda" not in loaded.devices:
        raise FileNotFoundError(f"--device cuda: {loaded.name} has no CUDA tests (its devices: "
                                f"{', '.join(loaded.devices)})")
    from graders.grading import engine

    if "cuda" not in engine.available_devices():
        raise FileNotFoundError("--device cuda: there is no usable GPU here (torch.cuda.is_available() is False); "
                                "grade on a machine with one, or use --device cpu")


def _sandbox_level(loaded) -> str:
    """The isolation level this run grades at, decided before any grading ("" where no
    student code runs). Raises ``IsolationUnavailable``."""
    from graders import kinds
    from graders.sandbox import isolation

    return isolation.level() if kinds.of(loaded).runs_student_code else ""


def _devices(choice: str):
    return None if choice == "all" else {choice}


def _validate(args) -> int:
    from graders import kinds

    loaded = kinds.load(args.assignment)
    kind = kinds.of(loaded)
    print(f"Validating {loaded.name}: {kind.summary(loaded)}")
    _check_devices(loaded, args.device)
    _sandbox_level(loaded)
    checks = kind.validate(loaded, _devices(args.device))
    failed = [c for c in checks if not c.ok]
    print(f"\n{len(checks) - len(failed)} of {len(checks)} checks passed" + (": VALID" if not failed else ": NOT VALID"))
    return 1 if failed else 0


def _guard(args) -> int:
    from graders import kinds
    from graders.integrity import guard

    used: dict[str, list[str]] = {}
    if args.assignment:
        loaded = kinds.load(args.assignment)
        for task in getattr(loaded, "tasks", {}).values():
            for group in task.forbidden:
                used.setdefault(group, []).append(task.id)
        if not used:
            print(f"{loaded.name}: no task forbids anything")
            return 0
    groups = list(used) if used else list(guard.GROUPS)
    for group, operators in guard.coverage(groups).items():
        overloads = len(guard.family(group))
        tasks = f"; forbidden in {', '.join(used[group])}" if used else ""
        print(f"{group}: {guard.describe(group)}: {len(operators)} operators, {overloads} overloads{tasks}")
        if args.ops:
            print("  " + "\n  ".join(operators))
    if not args.ops:
        print("(--ops lists every operator; autograd also covers every autograd graph node, in any thread)")
    return 0


def _release(args) -> int:
    from graders import kinds
    from graders.grading import assignment
    from graders.outputs import release

    root = assignment.project_root()
    names = args.assignments or assignment.available(root)
    if args.format == "nbgrader":
        from graders.outputs import notebook

        return notebook.release_command(names, root, args.out or root / "build" / "nbgrader", args.check)
    stale = 0
    for name in names:
        loaded = kinds.load(name, root)
        files = kinds.of(loaded).template_files(loaded)
        if args.check:
            problems = release.out_of_sync(name, files, root / "student_template")
            stale += bool(problems)
            print(f"{name}: " + ("in sync" if not problems else "OUT OF SYNC\n  " + "\n  ".join(problems)))
        else:
            target = release.release(name, files, root / "student_template")
            print(f"{name}: wrote {target}")
    return 1 if stale else 0


def _grade(args) -> int:
    import json

    from graders import kinds
    from graders.outputs import classroom, junit, render

    if not args.submission.is_dir():
        raise FileNotFoundError(f"{args.submission} is not a folder")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise FileNotFoundError(f"--out {args.out} is a file; give a folder (it is created if missing)")
    loaded = kinds.load(args.assignment)
    _check_devices(loaded, args.device)
    _sandbox_level(loaded)
    from graders.sandbox import submission

    student = args.student or Path(os.path.abspath(args.submission)).name
    result = kinds.of(loaded).grade(loaded, args.submission, student, _devices(args.device),
                                    identity=submission.metadata_identity(args.submission))
    document = render.results_json(result)
    formatted = {"gradescope": lambda: json.dumps(document, indent=2) + "\n",
                 "classroom": lambda: json.dumps(classroom.classroom_result(document), indent=2) + "\n",
                 "junit": lambda: junit.junit_xml([document], name=loaded.name)}[args.format]()
    line = f"{student}: {result.score:g} / {result.max_score:g} ({result.status})"
    if args.out is None:
        sys.stdout.write(formatted)
        print(render.printable(line), file=sys.stderr)
        return 0
    folder = render.student_folder(args.out, student)
    render.write_student(result, folder, loaded.title)
    render.write_csv([render.csv_row(result)], args.out / "grades.csv")
    if args.format == "classroom":
        render.atomic_write(folder / "classroom.json", formatted)
    elif args.format == "junit":
        render.atomic_write(args.out / "junit.xml", formatted)
    print(render.printable(f"{line}; feedback in {folder}"))
    return 0


def _grade_all(args) -> int:
    import time

    from graders.grading import bulk
    from graders.sandbox import executors

    if args.scheduler and args.executor == "local":
        print("nngrade: --scheduler needs --executor dask or ray", file=sys.stderr)
        return 2
    if args.workers is not None and args.workers < 1:
        print("nngrade: --workers must be at least 1", file=sys.stderr)
        return 2
    problem = _check_outputs(args)
    if problem:
        print(f"nngrade: {problem}", file=sys.stderr)
        return 2
    from graders import kinds

    loaded = kinds.load(args.assignment)
    _check_devices(loaded, args.device)
    _sandbox_level(loaded)
    progress = bulk.ConsoleProgress()
    started = time.monotonic()
    try:
        outcomes = bulk.grade_all(args.assignment, args.root, args.out, args.workers, _devices(args.device),
                                  progress, args.executor, args.scheduler,
                                  _read_roster(args.roster) if args.roster else None)
    except executors.ExecutorUnavailable as error:
        print(f"nngrade: {error}", file=sys.stderr)
        return 2
    finally:
        progress.end()
    print()
    bulk.print_summary(outcomes, seconds=time.monotonic() - started, how=progress.how)
    _after_grade_all(args, outcomes)
    print(f"Results in {args.out}/ (grades.csv, junit.xml, one folder per student)")
    return 1 if any(o.error for o in outcomes) else 0


def _check_outputs(args) -> str:
    """Why --out, --gradebook or --roster cannot work, found before any grading starts."""
    import importlib.util

    if args.out.exists() and not args.out.is_dir():
        return f"--out {args.out} is a file; give a folder (it is created if missing)"
    if args.gradebook and importlib.util.find_spec("nbgrader") is None:
        return "--gradebook needs nbgrader: pip install 'nngrade[nbgrader]'"
    if args.gradebook:
        from graders.outputs import gradebook

        problem = gradebook.check_url(args.gradebook)
        if problem:
            return f"--gradebook: {problem}"
    if args.roster:
        try:
            _read_roster(args.roster)
        except (OSError, UnicodeDecodeError) as error:
            return f"--roster: {error}"
    return ""


def _after_grade_all(args, outcomes) -> None:
    """Outputs made from the finished results: junit.xml, the roster's identifiers in
    grades.csv, and the nbgrader gradebook."""
    from graders import kinds
    from graders.outputs import gradebook, junit, render

    students = [o.student for o in outcomes]
    render.atomic_write(args.out / "junit.xml", junit.from_folder(args.out, students))
    if args.roster:
        render.write_csv([o.row for o in outcomes], args.out / "grades.csv", _read_roster(args.roster))
    if args.gradebook:
        loaded = kinds.load(args.assignment)
        graded = [o.student for o in outcomes if o.row.get("status") != "grader_error"]
        notebook = Path(loaded.submission_file).stem  # the module, or a quiz's answers
        count = gradebook.write(args.gradebook, loaded.name, notebook, args.out, graded)
        print(f"Recorded {count} students' scores in the nbgrader gradebook {args.gradebook}")


def _read_roster(path: Path) -> dict[str, str]:
    import csv

    with open(path, newline="", encoding="utf-8-sig") as stream:
        rows = list(csv.DictReader(stream))
    mapping = {}
    for row in rows:
        key = (row.get("github_username") or row.get("student") or "").strip()
        identifier = (row.get("identifier") or row.get("email") or "").strip()
        if key and identifier:
            mapping[key] = identifier
    if rows and not mapping:
        raise FileNotFoundError(f"{path}: no row has both a github_username (or student) and an identifier")
    return mapping


def _report(args) -> int:
    from graders.outputs import report

    if not args.folder.is_dir():
        raise FileNotFoundError(f"{args.folder} is not a folder")
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise FileNotFoundError("nngrade report draws its plots with matplotlib: pip install 'nngrade[report]'")
    target = report.write(args.folder, args.output)
    print(f"Report written to {target}")
    return 0


def _export(args) -> int:
    from graders import kinds
    from graders.outputs import export

    loaded = kinds.load(args.assignment)
    if args.platform == "gradescope":
        target = export.build_gradescope(loaded, args.output or Path(f"{loaded.name}-gradescope.zip"))
        print(f"Gradescope autograder for {loaded.name} written to {target}: upload it as the "
              "assignment's autograder (Ubuntu 22.04 or newer base image)")
        return 0
    workflow = kinds.of(loaded).classroom_workflow(loaded)
    if args.output is None:
        sys.stdout.write(workflow)
    else:
        target = args.output / ".github" / "workflows" / "classroom.yml" if args.output.is_dir() else args.output
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(workflow)
        print(f"GitHub Classroom workflow for {loaded.name} written to {target}")
    return 0


def _doctor(args) -> int:
    from graders import doctor

    return doctor.run()


COMMANDS = {"validate": _validate, "guard": _guard, "release": _release, "grade": _grade, "grade-all": _grade_all,
            "report": _report, "export": _export, "doctor": _doctor}

if __name__ == "__main__":
    sys.exit(main())
