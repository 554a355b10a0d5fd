"""The ``nngrade`` command line."""
from __future__ import annotations

import argparse
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

    p = commands.add_parser("release", help="regenerate student_template/ from reference/ + assignments/")
    p.add_argument("assignments", nargs="*", help="default: every assignment")
    p.add_argument("--check", action="store_true", help="only report whether the committed templates are in sync")

    p = commands.add_parser("grade", help="grade one submission folder")
    p.add_argument("assignment")
    p.add_argument("submission", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--student", help="default: the submission folder's name")
    _device_option(p)

    p = commands.add_parser("grade-all", help="grade every submission folder under a root")
    p.add_argument("assignment")
    p.add_argument("root", type=Path, help="a folder of submission folders, or a zip of them")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--workers", type=int, default=None, help="default: the number of CPU cores")
    p.add_argument("--executor", choices=["local"], default="local")
    _device_option(p)

    args = parser.parse_args(argv)
    from graders.assignment import ManifestError

    try:
        return COMMANDS[args.command](args)
    except (ManifestError, FileNotFoundError, NotADirectoryError) as error:
        print(f"nngrade: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nngrade: interrupted; finished results are kept and a re-run resumes", file=sys.stderr)
        return 130


def _device_option(parser) -> None:
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all",
                        help="which devices' tests to run (default: all the assignment lists)")


def _devices(choice: str):
    return None if choice == "all" else {choice}


def _validate(args) -> int:
    from graders import assignment, validate

    loaded = assignment.load(args.assignment)
    print(f"Validating {loaded.name}: {len(loaded.tests)} hidden tests, {len(loaded.mistakes)} known mistakes, "
          f"{len(loaded.variants)} correct variants")
    checks = validate.validate(loaded, _devices(args.device))
    failed = [c for c in checks if not c.ok]
    print(f"\n{len(checks) - len(failed)} of {len(checks)} checks passed" + (": VALID" if not failed else ": NOT VALID"))
    return 1 if failed else 0


def _release(args) -> int:
    from graders import assignment, release

    root = assignment.project_root()
    names = args.assignments or assignment.available(root)
    stale = 0
    for name in names:
        loaded = assignment.load(name, root)
        if args.check:
            problems = release.out_of_sync(loaded, root / "student_template")
            stale += bool(problems)
            print(f"{name}: " + ("in sync" if not problems else "OUT OF SYNC\n  " + "\n  ".join(problems)))
        else:
            target = release.release(loaded, root / "student_template")
            print(f"{name}: wrote {target}")
    return 1 if stale else 0


def _grade(args) -> int:
    from graders import assignment, engine, render

    if not args.submission.is_dir():
        raise FileNotFoundError(f"{args.submission} is not a folder")
    loaded = assignment.load(args.assignment)
    student = args.student or args.submission.resolve().name
    result = engine.grade(loaded, args.submission, student, _devices(args.device))
    render.write_student(result, args.out / student, loaded.title)
    render.write_csv([render.csv_row(result)], args.out / "grades.csv")
    print(f"{student}: {result.score:g} / {result.max_score:g} ({result.status}); feedback in {args.out / student}")
    return 0


def _grade_all(args) -> int:
    from graders import bulk

    def progress(outcome, done, total):
        print(f"[{done}/{total}] {outcome.student}: {outcome.row['score']} / {outcome.row['max_score']}"
              f"{' (unchanged)' if outcome.reused else ''}", file=sys.stderr, flush=True)

    outcomes = bulk.grade_all(args.assignment, args.root, args.out, args.workers, _devices(args.device), progress)
    print()
    bulk.print_summary(outcomes)
    print(f"\nResults in {args.out}/ (grades.csv, one folder per student)")
    return 1 if any(o.error for o in outcomes) else 0


COMMANDS = {"validate": _validate, "release": _release, "grade": _grade, "grade-all": _grade_all}

if __name__ == "__main__":
    sys.exit(main())
