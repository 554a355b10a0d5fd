"""Median grading time per submission against a bare `python -c "import numpy, torch"`.

    python bench/grade_time.py a2_numpy_mlp --submissions 20 --workers 1

Builds N submissions from the reference and the mistake catalog (so both passing and
failing paths, diagnosis included, are timed), grades them with `nngrade grade-all`,
and reads each submission's own grading time from its results.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from graders import assignment as assignments

ROOT = Path(__file__).resolve().parent.parent


def bare_import_seconds(repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy, torch"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def make_submissions(assignment, count: int, root: Path) -> None:
    sources = [assignment.reference_source] + [assignment.source_with(m) for m in assignment.mistakes]
    for index in range(count):
        folder = root / f"student{index:03d}"
        folder.mkdir(parents=True)
        (folder / f"{assignment.module}.py").write_text(sources[index % len(sources)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("assignment")
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    assignment = assignments.load(args.assignment, ROOT)
    with tempfile.TemporaryDirectory() as scratch:
        root, out = Path(scratch) / "subs", Path(scratch) / "out"
        make_submissions(assignment, args.submissions, root)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "graders.cli", "grade-all", args.assignment, str(root),
                        "--out", str(out), "--workers", str(args.workers)], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        per_submission = [json.loads(p.read_text())["execution_time"] for p in out.glob("*/results.json")]
    bare = bare_import_seconds()
    median = statistics.median(per_submission)
    print(f"{args.assignment}: {len(per_submission)} submissions, {args.workers} worker(s)")
    print(f"  median grading time per submission: {median:.3f} s (min {min(per_submission):.3f}, max {max(per_submission):.3f})")
    print(f"  grade-all wall time: {wall:.2f} s in all, {wall / len(per_submission):.3f} s per submission")
    print(f"  bare `python -c 'import numpy, torch'`: {bare:.3f} s (median of 5)")
    print(f"  ratio median/bare: {median / bare:.2f}")


if __name__ == "__main__":
    main()
