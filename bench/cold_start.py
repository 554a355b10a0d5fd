"""A cold `nngrade grade` of one submission against a bare `python -c "import numpy, torch"`.

    python bench/cold_start.py                        # a2_numpy_mlp, a3_torch_layers, a4_conv, a5_autograd
    python bench/cold_start.py a4_conv --repeats 7

What a student's Classroom run or a Gradescope container pays: a fresh interpreter that
loads the assignment, starts the zygote, grades the reference solution in a sandboxed
worker and writes its results, timed whole from the command's start to its exit. The
bare import is timed in the same run, interleaved with the grading runs, and the median
of each is compared. The target: at most ``TARGET`` x the bare import.

Not a test: timings depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders import kinds  # noqa: E402
from grade_time import bare_import_seconds  # noqa: E402 - the one yardstick of every bench

TARGET = 1.5
DEFAULT_ASSIGNMENTS = ("a2_numpy_mlp", "a3_torch_layers", "a4_conv", "a5_autograd")


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed ({run.returncode}):\n{run.stderr[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help=f"default: {' '.join(DEFAULT_ASSIGNMENTS)}")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    bare: list[float] = []
    cold: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="nngrade-cold-") as scratch:
        for name in args.assignments or DEFAULT_ASSIGNMENTS:
            assignment = kinds.load(name, ROOT)
            submission = Path(scratch) / name / "student"
            submission.mkdir(parents=True)
            (submission / f"{assignment.module}.py").write_text(assignment.reference_source)
            grade = [sys.executable, "-m", "graders.cli", "grade", name, str(submission),
                     "--out", str(Path(scratch) / name / "out")]
            timed(grade)  # the first run fills the OS page cache; every later one finds it warm
            for _ in range(args.repeats):
                bare += bare_import_seconds(1)
                cold.setdefault(name, []).append(timed(grade))
    yardstick = statistics.median(bare)
    print(f"bare `python -c 'import numpy, torch'`: median {yardstick:.3f} s of {len(bare)} "
          f"(min {min(bare):.3f}, max {max(bare):.3f})")
    met = True
    for name, seconds in cold.items():
        ratio = statistics.median(seconds) / yardstick
        met &= ratio <= TARGET
        print(f"{name:18} cold `nngrade grade`: median {statistics.median(seconds):.3f} s "
              f"(min {min(seconds):.3f}, max {max(seconds):.3f}), {ratio:.2f} x bare "
              f"({'meets' if ratio <= TARGET else 'MISSES'} the target of {TARGET})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
