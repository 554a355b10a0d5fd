"""Warm workers: median grading time per submission against a bare `python -c "import numpy, torch"`.

    python bench/grade_time.py                       # a2_numpy_mlp then a4_conv, 100 submissions each
    python bench/grade_time.py a2_numpy_mlp --submissions 200 --workers 2 --executor dask
    python bench/grade_time.py a4_conv --profile 10  # where one submission's time goes

For each assignment it writes N submissions into a temporary folder, cycling through the
reference, every known mistake and every correct variant (so passing and failing paths,
diagnosis included, are timed), grades them with `nngrade grade-all`, and reads each
submission's own grading time (`execution_time` in its results.json: from the start of
its grading to its end, worker start and import of the student's module included).
The bare import is timed in the same run, before and after the grading runs, and the
median of all repetitions is the yardstick. The target: median per submission at most
0.25 x the bare import (workers are forked from a warm zygote, so a submission never pays
for importing numpy or torch).

Not a test: timings depend on the machine and its load. An assignment that does not load
(not written yet, or broken) is reported and skipped; the others still run.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders import assignment as assignments  # noqa: E402
from graders import executors  # noqa: E402

TARGET = 0.25
DEFAULT_ASSIGNMENTS = ("a2_numpy_mlp", "a4_conv")


def bare_import_seconds(repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy, torch"], check=True)
        times.append(time.perf_counter() - started)
    return times


def sources_for(assignment) -> list[tuple[str, str]]:
    """(label, source) for the reference, each known mistake and each correct variant."""
    return ([("reference", assignment.reference_source)]
            + [(f"mistake:{m.id}", assignment.source_with(m)) for m in assignment.mistakes]
            + [(f"variant:{v.id}", assignment.source_with(v)) for v in assignment.variants])


def make_submissions(assignment, count: int, root: Path) -> dict[str, str]:
    """N student folders; returns student -> which source they hold."""
    sources = sources_for(assignment)
    made = {}
    for index in range(count):
        label, source = sources[index % len(sources)]
        folder = root / f"student{index:04d}"
        folder.mkdir(parents=True)
        (folder / f"{assignment.module}.py").write_text(source)
        made[folder.name] = label
    return made


def run_grade_all(name: str, root: Path, out: Path, workers: int, executor: str) -> tuple[float, str]:
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "graders.cli", "grade-all", name, str(root), "--out", str(out),
                          "--workers", str(workers), "--executor", executor],
                         cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if run.returncode not in (0, 1):
        raise RuntimeError(f"grade-all failed ({run.returncode}):\n{run.stderr[-3000:]}")
    summary = run.stdout[run.stdout.find("grade-all summary"):].strip()
    return wall, summary


def bench(name: str, count: int, workers: int, executor: str) -> dict:
    assignment = assignments.load(name, ROOT)
    with tempfile.TemporaryDirectory(prefix="nngrade-bench-") as scratch:
        root, out = Path(scratch) / "subs", Path(scratch) / "out"
        made = make_submissions(assignment, count, root)
        wall, summary = run_grade_all(name, root, out, workers, executor)
        times = {}
        for student in made:
            results = out / student / "results.json"
            if results.is_file():
                times[student] = json.loads(results.read_text())["execution_time"]
    per_kind: dict[str, list[float]] = {}
    for student, seconds in times.items():
        per_kind.setdefault(made[student].split(":")[0], []).append(seconds)
    slowest = sorted(times.items(), key=lambda item: -item[1])[:3]
    return {"assignment": name, "submissions": count, "graded": len(times), "workers": workers,
            "executor": executor, "median": statistics.median(times.values()) if times else float("nan"),
            "p90": _quantile(list(times.values()), 0.9), "max": max(times.values(), default=float("nan")),
            "wall": wall, "per_kind": {k: statistics.median(v) for k, v in sorted(per_kind.items())},
            "slowest": [(s, made[s], t) for s, t in slowest], "summary": summary}


def profile(name: str, count: int) -> None:
    """Grade ``count`` submissions in this process under cProfile, after a warm-up one,
    and print where the time goes (this process only: the student's worker is separate)."""
    from graders import bulk, engine, sandbox

    assignment = assignments.load(name, ROOT)
    with tempfile.TemporaryDirectory(prefix="nngrade-profile-") as scratch:
        root = Path(scratch)
        made = make_submissions(assignment, count + 1, root)
        bulk._warm(assignment)
        sandbox.shared_zygote()
        students = list(made)
        engine.grade(assignment, root / students[0], students[0])  # warm-up, not profiled
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        seconds = []
        for student in students[1:]:
            seconds.append(engine.grade(assignment, root / student, student).seconds)
        profiler.disable()
        total = time.perf_counter() - started
    print(f"\nprofile of {count} {name} submissions graded one after another in one process: "
          f"{total:.2f} s, median {statistics.median(seconds):.3f} s each")
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(30)
    print(stream.getvalue())


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help=f"default: {' '.join(DEFAULT_ASSIGNMENTS)}")
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--workers", type=int, default=executors.usable_cores(),
                        help="default: the usable cores (%(default)s here)")
    parser.add_argument("--executor", choices=executors.KINDS, default="local")
    parser.add_argument("--repeats", type=int, default=5, help="bare imports timed before and after (each)")
    parser.add_argument("--profile", type=int, metavar="N", default=0,
                        help="also profile N submissions of each assignment in one process")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    names = args.assignments or list(DEFAULT_ASSIGNMENTS)

    print(f"{os.cpu_count()} CPUs here, {executors.usable_cores()} usable, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    bare = bare_import_seconds(args.repeats)
    results, skipped = [], {}
    for name in names:
        try:
            assignments.load(name, ROOT).tests  # noqa: B018 - fail early on a broken assignment
        except Exception as error:  # noqa: BLE001 - report and go on with the others
            skipped[name] = f"{type(error).__name__}: {error}"
            print(f"\n{name}: skipped, it does not load ({skipped[name]})", flush=True)
            continue
        print(f"\n{name}: grading {args.submissions} submissions with {args.workers} {args.executor} worker(s)...",
              flush=True)
        results.append(bench(name, args.submissions, args.workers, args.executor))
        print(results[-1]["summary"], flush=True)
    bare += bare_import_seconds(args.repeats)
    yardstick = statistics.median(bare)

    print(f"\nbare `python -c 'import numpy, torch'`: median {yardstick:.3f} s of {len(bare)} "
          f"(min {min(bare):.3f}, max {max(bare):.3f})")
    for r in results:
        ratio = r["median"] / yardstick
        verdict = "meets" if ratio <= TARGET else "MISSES"
        print(f"\n{r['assignment']}: {r['graded']}/{r['submissions']} graded, {r['workers']} {r['executor']} worker(s)")
        print(f"  median per submission  {r['median']:.3f} s   (p90 {r['p90']:.3f}, max {r['max']:.3f})")
        print(f"  ratio median / bare    {ratio:.3f}   ({verdict} the target of {TARGET})")
        print(f"  batch wall time        {r['wall']:.1f} s, {r['wall'] / r['submissions']:.3f} s per submission "
              "(process and cluster start included)")
        print("  median by kind         " + ", ".join(f"{k} {v:.3f} s" for k, v in r["per_kind"].items()))
        print("  slowest                " + ", ".join(f"{s} ({label}) {t:.2f} s" for s, label, t in r["slowest"]))
        r["bare_median"], r["ratio"] = yardstick, ratio
    if args.profile:
        for r in results:
            profile(r["assignment"], args.profile)
    if args.json:
        args.json.write_text(json.dumps({"bare": bare, "results": results, "skipped": skipped}, indent=2) + "\n")
    return 0 if results and all(r["ratio"] <= TARGET for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
