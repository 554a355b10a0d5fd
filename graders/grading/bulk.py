"""Grade a folder of submissions in parallel, writing each result as soon as it is done.

The coordinating process (this one) finds the submissions, skips those already graded,
hands the rest to an executor (``graders.sandbox.executors``: a local process pool, Dask or Ray)
as one task per submission, and writes each student's files and ``grades.csv`` itself as
the tasks complete. Every executor runs the same task, ``grade_one``.

A re-run skips a submission whose files, the assignment's files and the grader version
are all unchanged since its results.json was written, so an interrupted batch resumes.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import itertools
import json
import math
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from graders import __version__, kinds
from graders.grading import assignment as assignments, engine
from graders.sandbox import executors, gpus, isolation, host, submission
from graders.integrity import enforce, guard
from graders.outputs import render
from graders.grading.hidden import seed_secret
from graders.sandbox.submission import BatchError

SKIPPED_NAMES = {"__MACOSX", "__pycache__"}
CSV_EVERY_SECONDS = 1.0  # grades.csv is rewritten at most this often (and at the end)


@dataclass
class Graded:
    student: str
    row: dict
    reused: bool = False
    error: str | None = None
    seconds: float | None = None  # the submission's own grading time (None when reused)
    result: engine.SubmissionResult | None = None  # until the coordinator has written it


@dataclass(frozen=True)
class Context:
    """What every task of one batch shares. ``root`` is a path on the coordinator's
    machine; a worker elsewhere falls back to its own $NNGRADE_ROOT."""

    name: str
    root: str
    fingerprint: str
    devices: frozenset | None = None


@dataclass(frozen=True)
class Job:
    """One submission to grade: its folder here, or (for executors whose workers may be
    elsewhere) its files themselves."""

    student: str
    folder: str
    key: str  # the resume key written into results.json
    files: tuple[tuple[str, bytes], ...] | None = None
    identity: str | None = None  # who the student is for seeding (roster, metadata), if not the name


MAX_ZIP_ENTRIES = 200_000
MAX_ZIP_BYTES = 4 << 30


def open_batch(root: Path, expected: str) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """The folder whose sub-folders are the submissions: ``root`` itself, the inside of a
    zip of it, or of any wrapper folders around it (``wrap/subs/alice/...``). A zip is
    checked entry by entry (count, sizes) before a byte is extracted."""
    if not root.exists():
        raise BatchError(f"{root} does not exist")
    holder = None
    folder = root
    if root.is_file():
        if not zipfile.is_zipfile(root):
            raise BatchError(f"{root} is a file but not a zip archive: give a folder of submission folders, "
                             "or a zip of one")
        holder = tempfile.TemporaryDirectory(prefix="nngrade-zip-")
        try:
            _extract_checked(root, Path(holder.name))
        except BaseException:
            holder.cleanup()
            raise
        folder = Path(holder.name)
    while True:
        entries = _visible(folder)
        if (folder / expected).is_file():
            if holder:
                holder.cleanup()
            raise BatchError(f"{root} holds {expected} itself: it is one submission, not a folder of them; "
                             "grade it with `nngrade grade`, or give the folder that holds the submissions")
        if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink() and \
                not (entries[0] / expected).exists():
            folder = entries[0]  # a wrapper around the submissions (a zip's top folder, say)
            continue
        if not any(entry.is_dir() for entry in entries):
            if holder:
                holder.cleanup()
            raise BatchError(f"{root} holds no submission folders (each student's work goes in a folder of its own)")
        return folder, holder


def _extract_checked(archive_path: Path, target: Path) -> None:
    with zipfile.ZipFile(archive_path) as archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise BatchError(f"{archive_path} holds {len(entries)} entries, more than {MAX_ZIP_ENTRIES}")
        for entry in entries:
            if entry.file_size > submission.MAX_BYTES:
                raise BatchError(f"{archive_path}: {entry.filename!r} unpacks to {entry.file_size >> 20} MiB, more "
                                 f"than a submission may hold ({submission.MAX_BYTES >> 20} MiB)")
        total = sum(entry.file_size for entry in entries)
        if total > MAX_ZIP_BYTES:
            raise BatchError(f"{archive_path} unpacks to {total >> 20} MiB, more than {MAX_ZIP_BYTES >> 20} MiB")
        # zipfile reads no further than each entry's declared size, so the checks above hold.
        archive.extractall(target)


def find_submissions(root: Path, expected: str) -> dict[str, Path]:
    """Student name -> folder: every visible sub-folder of ``root`` (GitHub Classroom's clone
    layout, or a Gradescope export's ``submission_*`` folders). A sub-folder that is a
    symbolic link is listed too, so that grading refuses it by name rather than skip it."""
    if not root.is_dir():
        raise BatchError(f"{root} is not a folder of submissions")
    found = {}
    for path in _visible(root):
        if path.is_symlink():
            found[path.name] = path
        elif path.is_dir():
            found[path.name] = unwrap_submission(path, expected)
    if not found:
        raise BatchError(f"{root} holds no submission folders")
    return found


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name not in SKIPPED_NAMES and not p.name.startswith("."))


def unwrap_submission(folder: Path, expected: str) -> Path:
    """A submission folder holding nothing but one folder (a repository inside a Gradescope
    export's folder) stands for that folder, unless it holds the ``expected`` file (the
    module, or answers.toml) itself; never through a link."""
    entries = _visible(folder)
    if not (folder / expected).exists() and len(entries) == 1 and entries[0].is_dir() \
            and not entries[0].is_symlink():
        return unwrap_submission(entries[0], expected)
    return folder



def content_hash(folder: Path) -> str:
    """What the resume key knows of a submission: its selected files (a refused folder
    hashes to its reason, so fixing it regrades it)."""
    try:
        return submission.content_hash(submission.select(folder))
    except submission.SubmissionNotLoaded as refused:
        return hashlib.sha256(str(refused).encode()).hexdigest()


def _shipped(folder: Path) -> tuple[tuple[str, bytes], ...] | None:
    """The submission's files, to send to a worker that may not see this machine's disk;
    None (send the path, which grading then refuses with the reason) when refused here."""
    try:
        return submission.file_contents(submission.select(folder))
    except submission.SubmissionNotLoaded:
        return None


def assignment_fingerprint(assignment: assignments.Assignment) -> str:
    digest = hashlib.sha256(__version__.encode())
    for path in sorted([assignment.reference_path, *assignment.folder.rglob("*.py"), *assignment.folder.glob("*.toml")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def grading_fingerprint(assignment: assignments.Assignment, devices) -> str:
    """Everything besides the submission that decides its grade: the assignment, the
    grader's own code (not its version string, which a fix does not change), the devices
    asked for and present, the numpy/torch versions and the isolation level. A change to
    any of them regrades on resume."""
    import importlib.metadata

    digest = hashlib.sha256(assignment_fingerprint(assignment).encode())
    package = Path(__file__).resolve().parents[1]  # the whole graders package
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    present = sorted(engine.available_devices()) if "cuda" in assignment.devices else ["cpu"]
    versions = []
    for name in ("numpy", "torch"):
        try:
            versions.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    kind = kinds.of(assignment)
    level = isolation.level() if kind.runs_student_code else kind.name
    facts = [f"devices asked {sorted(devices) if devices else 'all'}", f"devices present {present}", *versions,
             f"isolation {level}", f"seed secret {hashlib.sha256(seed_secret().encode()).hexdigest()[:16]}"]
    digest.update("\n".join(facts).encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------- in a worker process

_state: dict = {}
_prepare_lock = threading.Lock()
# One submission at a time per process: its zygote runs one worker at a time (it kills
# whatever is left under it when a worker closes). Give Dask workers one thread each.
_grading_lock = threading.Lock()


def grade_one(context: Context, job: Job) -> Graded:
    """Grade one submission; runs in a worker process of any executor. Writes nothing:
    the coordinator writes the result it returns."""
    try:
        assignment = _prepare(context)
        with _grading_lock, _materialized(job) as folder:
            result = kinds.of(assignment).grade(assignment, folder, job.student, context.devices,
                                                identity=job.identity)
    except Exception as error:  # noqa: BLE001 - one broken grading must not stop the batch
        return Graded(job.student, _error_row(context.name, job.student), error=f"{type(error).__name__}: {error}")
    return Graded(job.student, render.csv_row(result), seconds=result.seconds, result=result)


def _prepare(context: Context) -> assignments.Assignment:
    """This process's copy of the assignment (loaded once) and its warm zygote, both
    ready before the submission's own clock starts."""
    with _prepare_lock:
        key = (context.name, context.root, context.fingerprint)
        if "gpu" not in _state:  # a Dask worker: no pool initializer chose a GPU for it
            _state["gpu"] = gpus.pin(os.getpid()) if len(gpus.listed()) > 1 else None
        if _state.get("key") != key:
            assignment = _matching_assignment(context)
            if kinds.of(assignment).runs_student_code:  # warming up beside _warm's imports
                host.shared_zygote(with_torch=assignment.framework == "torch", wait=False)
            _state["assignment"], _state["key"] = _warm(assignment), key
        if kinds.of(_state["assignment"]).runs_student_code:
            host.shared_zygote(with_torch=_state["assignment"].framework == "torch")
        _freeze_new_modules()
        return _state["assignment"]


def _freeze_new_modules() -> None:
    """What an earlier submission's grading imported on first use (torch's symbolic shapes
    and sympy, which autograd.grad with a given gradient loads) lives as long as this
    process, like what _warm loads: keep it out of the garbage collections of every
    submission after (the first that needed it paid for the import, the others would pay
    on every collection)."""
    if _state.get("modules") != len(sys.modules):
        if "modules" in _state:  # _warm has just frozen the heap
            gc.collect()
            gc.freeze()
        _state["modules"] = len(sys.modules)


def _warm(assignment: assignments.Assignment) -> assignments.Assignment:
    """Do once per process what the first submission would otherwise pay for: import the
    hidden tests, the reference and every catalogued mistake, import torch here (to list
    the devices), register the API guard's kernels at torch's dispatcher once (half a
    second; catalogued mistakes run under it here) and probe the isolation level."""
    if not kinds.of(assignment).runs_student_code:
        return assignment  # graded in this process, as data: nothing to warm
    assignment.tests, assignment.reference  # noqa: B018 - loaded on first access
    for entry in assignment.mistakes:
        assignment.implementation_with(entry)
    engine.available_devices(assignment)
    torch = sys.modules.get("torch")
    if torch is not None:
        # One intra-op thread: a batch runs a grading process per core already, and on the
        # hidden tests' small tensors waking a thread pool costs more than the arithmetic
        # (a 6x6 convolution: 15 ms with two threads on a busy 2-core machine, 0.05 ms with one).
        torch.set_num_threads(1)
        with enforce.watching([guard.AUTOGRAD]):
            torch.zeros(1) + 1
    isolation.level()
    # What is loaded now lives as long as this process: kept out of its garbage
    # collections (with torch, a full one takes a tenth of a second) and of its exit's.
    gc.freeze()
    return assignment


def _matching_assignment(context: Context) -> assignments.Assignment:
    """The assignment as the coordinator has it: at its root if this machine has that
    path, else at this machine's $NNGRADE_ROOT (or working directory, or checkout)."""
    tried = []
    roots = [Path(context.root)]
    with contextlib.suppress(assignments.ManifestError):
        roots.append(assignments.project_root())
    for root in roots:
        if str(root) in tried:
            continue
        tried.append(str(root))
        if (root / "assignments" / context.name / "manifest.toml").is_file():
            loaded = kinds.load(context.name, root)
            if assignment_fingerprint(loaded) == context.fingerprint:
                return loaded
    raise RuntimeError(f"worker {socket.gethostname()} has no copy of assignments/{context.name} identical to the "
                       f"coordinator's (nngrade {__version__}; looked in {', '.join(tried)}): give every worker the "
                       "same nngrade checkout and set NNGRADE_ROOT to it")


@contextlib.contextmanager
def _materialized(job: Job):
    """The submission's folder: the given one, or the shipped files written to a fresh one."""
    if job.files is None:
        yield Path(job.folder)
        return
    holder = Path(tempfile.mkdtemp(prefix="nngrade-shipped-"))
    try:
        folder = holder / "submission"
        folder.mkdir()
        for relative, data in job.files:
            target = (folder / relative).resolve()
            if not target.is_relative_to(folder.resolve()):
                continue  # never written by our coordinator; refuse rather than escape
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        yield folder
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _error_row(assignment: str, student: str) -> dict:
    return {"student": student, "assignment": assignment, "score": 0, "max_score": "", "status": "grader_error"}


def _previous_row(results: Path, key: str) -> dict | None:
    try:
        block = json.loads(results.read_text())["extra_data"]["nngrade"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or corrupt: grade again
    return block.get("csv_row") if block.get("resume_key") == key else None


# --------------------------------------------------------------------------- the batch

def grade_all(name: str, root: Path, out: Path, workers: int | None = None, devices=None,
              progress=None, executor: str = "local", scheduler: str | None = None,
              identities: dict[str, str] | None = None) -> list[Graded]:
    """Grade every submission under ``root`` (a folder, or a zip of one) into ``out``.

    ``executor``: "local" (a process pool of ``workers`` processes, default the usable
    cores), "dask" or "ray" (the cluster at ``scheduler``, else a local one of ``workers``
    processes). ``progress``: an object with ``begin(total, reused, how)``,
    ``update(graded, done, total)`` and ``end()`` (see ``ConsoleProgress``), or None.
    ``identities``: student -> identity for seeding (a roster's emails); otherwise a
    folder's Gradescope submission_metadata.json, else the student's name."""
    assignment = kinds.load(name)
    source, holder = open_batch(root, assignment.submission_file)
    try:
        submissions = find_submissions(source, assignment.submission_file)
        out.mkdir(parents=True, exist_ok=True)
        fingerprint = assignment_fingerprint(assignment)
        context = Context(name, str(assignments.project_root()), fingerprint,
                          frozenset(devices) if devices else None)
        done: list[Graded] = []
        jobs: list[Job] = []
        grading = grading_fingerprint(assignment, devices)
        for student, folder in submissions.items():
            identity = (identities or {}).get(student) or submission.metadata_identity(folder)
            key = f"{grading}:{identity or student}:{content_hash(folder)}"
            previous = _previous_row(render.student_folder(out, student) / "results.json", key)
            if previous is not None:
                done.append(Graded(student, previous, reused=True))
            else:
                jobs.append(Job(student, str(folder), key, identity=identity))
        workers = max(1, min(workers or executors.usable_cores(), len(jobs) or 1))
        if progress:
            progress.begin(len(submissions), len(done), f"{executor}" + (f" at {scheduler}" if scheduler else
                                                                         f", {workers} workers"))
            for index, outcome in enumerate(done, start=1):
                progress.update(outcome, index, len(submissions))
        try:
            if jobs:
                _run(jobs, context, assignment, out, executor, workers, scheduler, done, progress, len(submissions))
        finally:
            render.write_csv([o.row for o in done], out / "grades.csv")
        _similarity(out, assignment, submissions)
        return sorted(done, key=lambda o: o.student)
    finally:
        if holder is not None:
            holder.cleanup()


def _similarity(out: Path, assignment, submissions: dict[str, Path]) -> None:
    """similarity.csv and .json for the report (only where students wrote code); a failure
    here never costs a grade."""
    from graders.integrity import similarity

    if not kinds.of(assignment).runs_student_code:
        return
    try:
        similarity.write(out, assignment, submissions)
    except Exception as error:  # noqa: BLE001 - the grades are written; say what went wrong
        print(f"nngrade: similarity not computed: {type(error).__name__}: {error}", file=sys.stderr)


def _run(jobs, context, assignment, out, executor, workers, scheduler, done, progress, total) -> None:
    with _shared_zygotes(assignment, executor) as zygotes:
        _grade_jobs(jobs, context, assignment, out, executor, workers, scheduler, done, progress, total, zygotes)


@contextlib.contextmanager
def _shared_zygotes(assignment: assignments.Assignment, executor: str):
    """For a local pool: one warm interpreter that forks every pool process its zygote,
    so torch is imported once for the batch, not once per process. It starts now, to
    warm up while the pool processes start."""
    if executor != "local" or not kinds.of(assignment).runs_student_code:
        yield None
        return
    zygotes = host.SharedZygotes(with_torch=assignment.framework == "torch")
    try:
        yield zygotes
    finally:
        zygotes.close()


def _grade_jobs(jobs, context, assignment, out, executor, workers, scheduler, done, progress, total,
                zygotes) -> None:
    last_csv = time.monotonic()
    needs_gpu = "cuda" in assignment.devices and (context.devices is None or "cuda" in context.devices)
    with executors.start(executor, workers, scheduler, gpu=needs_gpu, zygotes=zygotes) as pool:
        if pool.ships_files:
            jobs = [dataclasses.replace(j, files=_shipped(Path(j.folder))) for j in jobs]
        futures = {pool.submit(grade_one, context, job): job for job in jobs}
        flight = InFlight([job.student for job in jobs], pool.workers or workers)
        _show_in_flight(progress, flight)
        for future in pool.as_completed(futures):
            job = futures.pop(future)  # nothing of a finished task is kept but its row
            flight.finish(job.student)
            _show_in_flight(progress, flight)
            try:
                outcome = future.result()
            except Exception as error:  # noqa: BLE001 - the executor lost the task (worker died, ...)
                outcome = Graded(job.student, _error_row(context.name, job.student),
                                 error=f"the {executor} executor lost this task: {type(error).__name__}: {error}")
            if outcome.result is not None:
                render.write_student(outcome.result, render.student_folder(out, job.student), assignment.title,
                                     extra={"resume_key": job.key, "csv_row": outcome.row})
                outcome.result = None  # written; the summary needs only the row
            done.append(outcome)
            if time.monotonic() - last_csv >= CSV_EVERY_SECONDS:
                render.write_csv([o.row for o in done], out / "grades.csv")
                last_csv = time.monotonic()
            if progress:
                progress.update(outcome, len(done), total)


class InFlight:
    """Which submissions are being graded now. Executors start tasks in the order they
    were submitted, so those are the first ``workers`` of the submissions not yet done."""

    def __init__(self, students: list[str], workers: int):
        self._order = students
        self._workers = max(1, workers)
        self._finished: set[str] = set()
        self._first = 0  # every submission before this one is finished

    def finish(self, student: str) -> None:
        self._finished.add(student)
        while self._first < len(self._order) and self._order[self._first] in self._finished:
            self._first += 1

    def students(self) -> list[str]:
        found = []
        for student in itertools.islice(self._order, self._first, None):
            if student not in self._finished:
                found.append(student)
                if len(found) == self._workers:
                    break
        return found


def _show_in_flight(progress, flight: InFlight) -> None:
    if progress is not None and hasattr(progress, "in_flight"):
        progress.in_flight(flight.students())


# --------------------------------------------------------------------------- what the user sees

class ConsoleProgress:
    """A live progress bar (rich) where ``stream`` is a terminal; elsewhere (CI logs) a
    plain line at every tenth of the batch, so a log holds no animation."""

    def __init__(self, stream=None, force_terminal: bool | None = None):
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr, force_terminal=force_terminal, highlight=False)
        self._bar = None
        self._task = None
        self._counts = Counter()
        self._started = time.monotonic()
        self._step = 1
        self._next_line = 0
        self._in_flight: list[str] = []
        self.how = ""

    def begin(self, total: int, reused: int, how: str) -> None:
        self._started, self.how = time.monotonic(), how
        to_grade = total - reused
        note = f" ({reused} unchanged since the last run)" if reused else ""
        if self.console.is_terminal:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self.console.print(f"Grading {total} submissions{note} on {how}")
            self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                                 TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                 console=self.console)
            self._task = self._bar.add_task("grading", total=total, status="")
            self._bar.start()
        else:
            self._line(f"grading {total} submissions{note}, {to_grade} to grade, on {how}")
            self._step = max(1, math.ceil(total / 10))
            self._next_line = reused + self._step if reused else self._step

    def update(self, outcome: Graded, done: int, total: int) -> None:
        self._counts["errors" if outcome.error else "reused" if outcome.reused else outcome.row["status"]] += 1
        if outcome.error:
            message = render.printable(f"grader error: {outcome.student}: {outcome.error}")
            if self._bar is not None:
                self._bar.console.print(message, style="red", markup=False)
            else:
                self._line(message)
        if self._bar is not None:
            self._bar.update(self._task, completed=done, status=self._status())
        elif done >= self._next_line or done == total:
            grading = f"; grading {self._names()}" if self._in_flight and done < total else ""
            self._line(f"[{done}/{total}] {100 * done // max(total, 1)}% done, {self._status()}, "
                       f"{time.monotonic() - self._started:.1f} s{grading}")
            while self._next_line <= done:
                self._next_line += self._step

    def in_flight(self, students: list[str]) -> None:
        """The submissions being graded now (a slow or stuck one shows by name)."""
        self._in_flight = list(students)
        if self._bar is not None:
            from rich.markup import escape  # a folder named "[bold]x" is a name, not markup

            self._bar.update(self._task, description=escape(f"grading {self._names()}") if students else "grading")

    def _names(self, shown: int = 3) -> str:
        names = [render.printable(student) for student in self._in_flight[:shown]]
        more = len(self._in_flight) - shown
        return ", ".join(names) + (f" and {more} more" if more > 0 else "")

    def end(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _status(self) -> str:
        parts = [f"{self._counts['graded']} graded"]
        for key, word in (("not_loaded", "not loaded"), ("errors", "grader errors"), ("reused", "unchanged")):
            if self._counts[key]:
                parts.append(f"{self._counts[key]} {word}")
        return ", ".join(parts)

    def _line(self, text: str) -> None:
        self.console.file.write(text + "\n")
        self.console.file.flush()


def print_summary(outcomes: list[Graded], stream=None, seconds: float | None = None, how: str = "") -> None:
    """One line per student, then a summary table (counts, scores, limits hit, time)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    stream = stream or sys.stdout
    names = {o.student: render.printable(o.student) for o in outcomes}
    width = max([len(name) for name in names.values()] + [7])
    stream.write(f"{'student':<{width}}  {'score':>12}  status\n")
    stream.write(f"{'-' * width}  {'-' * 12}  {'-' * 12}\n")
    for o in outcomes:
        score = f"{o.row['score']} / {o.row['max_score']}"
        note = " (unchanged, kept)" if o.reused else (f"  {render.printable(o.error)}" if o.error else "")
        stream.write(f"{names[o.student]:<{width}}  {score:>12}  {o.row['status']}{note}\n")
    stream.write("\n")
    stream.flush()

    table = Table(title="grade-all summary", title_justify="left", show_header=False, box=box.SIMPLE)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, value in summary_rows(outcomes, seconds, how):
        table.add_row(label, value)
    console = Console(file=stream, highlight=False)
    if console.is_terminal:
        console.print(table)
        return
    # A log: no colour, no padding to the right edge, wide enough not to wrap most values.
    console = Console(file=stream, highlight=False, width=120, no_color=True)
    with console.capture() as captured:
        console.print(table)
    stream.write("\n".join(line.rstrip() for line in captured.get().splitlines()).strip("\n") + "\n\n")
    stream.flush()


def summary_rows(outcomes: list[Graded], seconds: float | None = None, how: str = "") -> list[tuple[str, str]]:
    status = Counter(o.row["status"] for o in outcomes)
    rows = [("submissions", str(len(outcomes))),
            ("graded", str(status["graded"])),
            ("not loaded", str(status["not_loaded"])),
            ("grader errors", str(status["grader_error"])),
            ("unchanged since last run", str(sum(o.reused for o in outcomes)))]
    scored = [o for o in outcomes if o.row["status"] != "grader_error" and o.row.get("max_score") not in ("", None)]
    if scored:
        scores = [float(o.row["score"]) for o in scored]
        top = Counter(o.row["max_score"] for o in scored).most_common(1)[0][0]
        rows.append(("scores", f"min {min(scores):g}, median {statistics.median(scores):g}, "
                               f"mean {statistics.fmean(scores):.1f}, max {max(scores):g} (out of {top})"))
        rows.append(("distribution", _distribution(scored)))
    limits = Counter(limit for o in outcomes for limit in str(o.row.get("limits_hit") or "").split(";") if limit)
    rows.append(("limits hit", ", ".join(f"{name} x{count}" for name, count in limits.most_common()) or "none"))
    times = [o.seconds for o in outcomes if o.seconds is not None]
    if seconds is not None:
        rows.append(("time", f"{seconds:.1f} s wall" + (f", {seconds / len(times):.2f} s per submission graded "
                                                            f"in this run" if times else "")))
    if times:
        rows.append(("grading time", f"median {statistics.median(times):.2f} s, max {max(times):.2f} s "
                                     "per submission"))
    if how:
        rows.append(("executor", how))
    levels = Counter(str(o.row.get("isolation") or "") for o in outcomes if o.row.get("isolation"))
    if levels:
        shown = ", ".join(f"{level} x{count}" if len(levels) > 1 else level for level, count in levels.most_common())
        if isolation.NONE in levels:
            shown += " (NO SANDBOX: --isolation none; those submissions could read and write what this user can)"
        rows.append(("isolation", shown))
    return rows


def _distribution(scored: list[Graded]) -> str:
    """How many scored in each fifth of the marks, and how many got full marks."""
    buckets = Counter()
    for o in scored:
        score, top = float(o.row["score"]), float(o.row["max_score"])
        fraction = score / top if top else 0.0
        buckets["full" if fraction >= 1 else min(4, int(fraction * 5))] += 1
    parts = [f"{20 * b}-{20 * b + 20}%: {buckets[b]}" for b in range(5)]
    return ", ".join(parts) + f", full marks: {buckets['full']}"
