"""Warm workers: median grading time per submission against a bare `python -c "import numpy, torch"`.

    python bench/grade_time.py                       # a2_numpy_mlp then a4_conv, 100 submissions each
    python bench/grade_time.py a2_numpy_mlp --submissions 200 --workers 2 --executor dask
    python bench/grade_time.py a4_conv --profile 10  # where one submission's time goes
    python bench/grade_time.py a4_conv --submissions 1000 --batch 100   # at scale, and in batches

For each assignment it writes N submissions into a temporary folder, cycling through the
reference, every known mistake and every correct variant (so passing and failing paths,
diagnosis included, are timed), grades them with `nngrade grade-all`, and reads each
submission's own grading time (`execution_time` in its results.json: from the start of
its grading to its end, worker start and import of the student's module included).
The bare import is timed in the same run, right before and right after each
assignment's grading run, and the median of those repetitions is that assignment's
yardstick (a shared machine's speed drifts by a fifth over minutes: a yardstick taken
far from the run it measures says more about the drift than about the grader).
The targets: median per submission at most 0.15 x the bare import and p90 at most 0.5 x
(workers are forked from a warm zygote, so a submission never pays for importing numpy
or torch).

With 100 submissions or more it also reads, from /proc, what grade-all holds when 100
results are written and when all are: the coordinator's peak and current memory, the
largest grading process's peak, and the open file descriptors and processes in its whole
tree (flat means nothing grows with the batch). ``--batch N`` grades the same submissions
again N at a time and checks that their grades.csv rows equal the whole run's.

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
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders import kinds  # noqa: E402
from graders.sandbox import executors, isolation  # noqa: E402

TARGET = 0.15  # median per submission / the bare import
P90_TARGET = 0.5
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


def run_grade_all(name: str, root: Path, out: Path, workers: int, executor: str,
                  watch_at: tuple[int, ...] = (), total: int = 0) -> tuple[float, str, dict]:
    """Wall time, the summary, and what grade-all held when ``watch_at`` results were
    written and (``total``: the batch's size) near its end: see ``Watcher``."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "graders.cli", "grade-all", name, str(root), "--out",
                                    str(out), "--workers", str(workers), "--executor", executor],
                                   cwd=ROOT, stdout=stdout, stderr=stderr, text=True)
        watcher = Watcher(process.pid, out, watch_at, total)
        while process.poll() is None:
            watcher.sample()
            time.sleep(0.5)
        wall = time.perf_counter() - started
        stdout.seek(0), stderr.seek(0)
        output, errors = stdout.read(), stderr.read()
    if process.returncode not in (0, 1):
        raise RuntimeError(f"grade-all failed ({process.returncode}):\n{errors[-3000:]}")
    summary = output[output.find("grade-all summary"):].strip()
    return wall, summary, watcher.seen


class Watcher:
    """What grade-all holds as it goes, read from /proc: the coordinator's peak and current
    memory, the grading processes' largest peak, and the open file descriptors and the
    processes in its whole tree. Kept when the count of written results first reaches
    each of ``at``, and at the last look while the batch was still being graded."""

    def __init__(self, pid: int, out: Path, at: tuple[int, ...], total: int):
        self.pid, self.out, self.pending, self.total = pid, out, sorted(at), total
        self.seen: dict = {}

    def sample(self) -> None:
        if not (self.pending or self.total):
            return
        done = sum(1 for _ in self.out.glob("*/results.json")) if self.out.is_dir() else 0
        if self.pending and done >= self.pending[0]:
            self.seen[self.pending.pop(0)] = self._read(done)
        elif 0 < done < self.total and not self.pending:
            self.seen["last"] = self._read(done)  # the batch's end comes between two looks

    def _read(self, done: int) -> dict:
        tree = [self.pid, *isolation.descendants(self.pid)]
        pool = [pid for pid in tree if pid != self.pid and "multiprocessing" in _cmdline(pid)]
        return {"results": done, "coordinator_peak_mb": _status(self.pid, "VmHWM"),
                "coordinator_mb": _status(self.pid, "VmRSS"),
                "grading_peak_mb": max((_status(pid, "VmHWM") for pid in pool), default=0.0),
                "open_fds": sum(_fds(pid) for pid in tree), "processes": len(tree)}


def _status(pid: int, field: str) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith(field + ":"))
    except (OSError, StopIteration):
        return 0.0


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().decode(errors="replace")
    except OSError:
        return ""


def bench(name: str, count: int, workers: int, executor: str, batch: int = 0) -> dict:
    assignment = kinds.load(name, ROOT)
    with tempfile.TemporaryDirectory(prefix="nngrade-bench-") as scratch:
        root, out = Path(scratch) / "subs", Path(scratch) / "out"
        made = make_submissions(assignment, count, root)
        watched_batch = count > 100
        wall, summary, watched = run_grade_all(name, root, out, workers, executor, (100,) if watched_batch else (),
                                               count if watched_batch else 0)
        times = {}
        for student in made:
            results = out / student / "results.json"
            if results.is_file():
                times[student] = json.loads(results.read_text())["execution_time"]
        same_in_batches = in_batches(name, root, out, Path(scratch) / "batches", batch, workers, executor) \
            if batch else None
    per_kind: dict[str, list[float]] = {}
    for student, seconds in times.items():
        per_kind.setdefault(made[student].split(":")[0], []).append(seconds)
    slowest = sorted(times.items(), key=lambda item: -item[1])[:3]
    return {"assignment": name, "submissions": count, "graded": len(times), "workers": workers,
            "executor": executor, "median": statistics.median(times.values()) if times else float("nan"),
            "p90": _quantile(list(times.values()), 0.9), "max": max(times.values(), default=float("nan")),
            "wall": wall, "per_kind": {k: statistics.median(v) for k, v in sorted(per_kind.items())},
            "slowest": [(s, made[s], t) for s, t in slowest], "summary": summary, "watched": watched,
            "batch": batch, "same_in_batches": same_in_batches}


def in_batches(name: str, root: Path, whole: Path, scratch: Path, size: int, workers: int, executor: str) -> bool:
    """Grade the same submissions again, ``size`` at a time (each batch a grade-all of its
    own), and tell whether their grades.csv rows together equal the whole run's."""
    students = sorted(p.name for p in root.iterdir())
    rows = []
    for start in range(0, len(students), size):
        batch_root, batch_out = scratch / f"in-{start}", scratch / f"out-{start}"
        for student in students[start:start + size]:
            shutil.copytree(root / student, batch_root / student)
        run_grade_all(name, batch_root, batch_out, workers, executor)
        lines = (batch_out / "grades.csv").read_text().splitlines()
        header, rows = lines[0], rows + lines[1:]
        print(f"  batch {start // size + 1}: {len(lines) - 1} graded", flush=True)
    whole_lines = (whole / "grades.csv").read_text().splitlines()
    return [whole_lines[0], *sorted(whole_lines[1:])] == [header, *sorted(rows)]


def profile(name: str, count: int) -> None:
    """Grade ``count`` submissions in this process under cProfile, after a warm-up one,
    and print where the time goes (this process only: the student's worker is separate)."""
    from graders.grading import bulk, engine
    from graders.sandbox import host

    assignment = kinds.load(name, ROOT)
    with tempfile.TemporaryDirectory(prefix="nngrade-profile-") as scratch:
        root = Path(scratch)
        made = make_submissions(assignment, count + 1, root)
        bulk._warm(assignment)
        host.shared_zygote()
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
    parser.add_argument("--batch", type=int, metavar="N", default=0,
                        help="also grade the same submissions N at a time and check that grades.csv is the same")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    names = args.assignments or list(DEFAULT_ASSIGNMENTS)

    print(f"{os.cpu_count()} CPUs here, {executors.usable_cores()} usable, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    bare: list[float] = []
    results, skipped = [], {}
    for name in names:
        try:
            kinds.load(name, ROOT).tests  # noqa: B018 - fail early on a broken assignment
        except Exception as error:  # noqa: BLE001 - report and go on with the others
            skipped[name] = f"{type(error).__name__}: {error}"
            print(f"\n{name}: skipped, it does not load ({skipped[name]})", flush=True)
            continue
        print(f"\n{name}: grading {args.submissions} submissions with {args.workers} {args.executor} worker(s)...",
              flush=True)
        before = bare_import_seconds(args.repeats)
        results.append(bench(name, args.submissions, args.workers, args.executor, args.batch))
        print(results[-1]["summary"], flush=True)
        around = before + bare_import_seconds(args.repeats)
        results[-1]["bare"] = around
        bare += around

    if bare:
        print(f"\nbare `python -c 'import numpy, torch'`: median {statistics.median(bare):.3f} s of {len(bare)} "
              f"(min {min(bare):.3f}, max {max(bare):.3f})")
    for r in results:
        yardstick = statistics.median(r["bare"])
        ratio, p90_ratio = r["median"] / yardstick, r["p90"] / yardstick
        verdict = "meets" if ratio <= TARGET else "MISSES"
        p90_verdict = "meets" if p90_ratio <= P90_TARGET else "MISSES"
        print(f"\n{r['assignment']}: {r['graded']}/{r['submissions']} graded, {r['workers']} {r['executor']} worker(s)")
        print(f"  bare import around it  median {yardstick:.3f} s (min {min(r['bare']):.3f}, max {max(r['bare']):.3f})")
        print(f"  median per submission  {r['median']:.3f} s   (p90 {r['p90']:.3f}, max {r['max']:.3f})")
        print(f"  ratio median / bare    {ratio:.3f}   ({verdict} the target of {TARGET})")
        print(f"  ratio p90 / bare       {p90_ratio:.3f}   ({p90_verdict} the target of {P90_TARGET})")
        print(f"  batch wall time        {r['wall']:.1f} s, {r['wall'] / r['submissions']:.3f} s per submission "
              "(process and cluster start included)")
        print("  median by kind         " + ", ".join(f"{k} {v:.3f} s" for k, v in r["per_kind"].items()))
        print("  slowest                " + ", ".join(f"{s} ({label}) {t:.2f} s" for s, label, t in r["slowest"]))
        for seen in sorted(r["watched"].values(), key=lambda seen: seen["results"]):
            print(f"  at {seen['results']:>5} results     coordinator peak RSS {seen['coordinator_peak_mb']:.0f} MiB (now "
                  f"{seen['coordinator_mb']:.0f}), largest grading process peak {seen['grading_peak_mb']:.0f} MiB, "
                  f"{seen['open_fds']} open fds and {seen['processes']} processes in its tree")
        if r["batch"]:
            print(f"  grades.csv in batches of {r['batch']}: "
                  + ("the same" if r["same_in_batches"] else "DIFFERENT from the whole run's"))
        r["bare_median"], r["ratio"], r["p90_ratio"] = yardstick, ratio, p90_ratio
    if args.profile:
        for r in results:
            profile(r["assignment"], args.profile)
    if args.json:
        args.json.write_text(json.dumps({"bare": bare, "results": results, "skipped": skipped}, indent=2) + "\n")
    return 0 if results and all(r["ratio"] <= TARGET and r["p90_ratio"] <= P90_TARGET
                                and r["same_in_batches"] is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
