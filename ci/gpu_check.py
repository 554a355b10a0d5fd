"""Everything that needs a GPU, in one command (under 10 minutes on one H100/H200):

    .venv/bin/python ci/gpu_check.py            # from the checkout, with a CUDA build of torch

1. ``nngrade doctor``: isolation, a sandboxed CUDA worker on the grader's GPU;
2. ``nngrade validate A --device all`` for a1, a3, a4, a5 (reference full marks on CPU and
   GPU, stub zero, every known mistake caught, every variant full marks);
3. the CUDA oracle and device tests (tests/test_oracles_*.py, tests/test_devices.py);
4. ``grade-all`` of the example a1 submissions (one correct, three with known mistakes)
   with ``--device cuda``, through the local pool.

It prints one summary and exits 0 only if every step passed. Without a GPU it says so and
exits 2: nothing here can pass on a CPU-only machine, and nothing is reported as passed.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ("a1_foundations", "a3_torch_layers", "a4_conv", "a5_autograd")


def step(name: str, command: list[str], results: list, timeout: int = 600, check=None) -> None:
    started = time.monotonic()
    try:
        run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        ok = run.returncode == 0 and (check is None or check(run))
        tail = (run.stdout + run.stderr).strip().splitlines()[-3:]
    except subprocess.TimeoutExpired:
        ok, tail = False, [f"timed out after {timeout} s"]
    seconds = time.monotonic() - started
    results.append((name, ok, seconds, tail))
    print(f"{'PASS' if ok else 'FAIL'}  {name}  ({seconds:.1f} s)", flush=True)
    if not ok:
        print("      " + "\n      ".join(tail), flush=True)


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print(f"no GPU here (torch {torch.__version__}, torch.cuda.is_available() is False): "
              "nothing checked, nothing passed")
        return 2
    python = sys.executable
    nngrade = [python, "-m", "graders.cli"]
    results: list = []
    started = time.monotonic()
    step("doctor", [*nngrade, "doctor"], results, timeout=300,
         check=lambda run: "a sandboxed CUDA worker" in run.stdout)
    for name in ASSIGNMENTS:
        step(f"validate {name} --device all", [*nngrade, "validate", name, "--device", "all"], results)
    step("CUDA oracle and device tests", [python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                          "tests/test_oracles_a3.py", "tests/test_oracles_a4.py",
                                          "tests/test_oracles_a5.py", "tests/test_devices.py", "-k", "cuda or gpu"],
         results, timeout=900)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"

        def graded_on_cuda(run) -> bool:
            rows = {row["student"]: row for row in csv.DictReader(open(out / "grades.csv"))}
            full = float(rows["alice"]["score"]) == float(rows["alice"]["max_score"]) > 0
            wrong = all(float(rows[s]["score"]) < float(rows[s]["max_score"]) for s in ("bob", "carol", "dave"))
            return full and wrong and all(row["tests_not_run"] == "0" for row in rows.values())

        step("grade-all examples/a1_foundations --device cuda",
             [*nngrade, "grade-all", "a1_foundations", "examples/a1_foundations", "--out", str(out), "--device", "cuda"],
             results, check=graded_on_cuda)
    wall = time.monotonic() - started
    print(f"\n{sum(ok for _, ok, _, _ in results)} of {len(results)} GPU checks passed in {wall:.0f} s on "
          f"{torch.cuda.get_device_name(0)}")
    for name, ok, seconds, _ in results:
        print(f"  {'PASS' if ok else 'FAIL'}  {seconds:7.1f} s  {name}")
    return 0 if all(ok for _, ok, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
