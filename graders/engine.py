"""Grade one submission: run every hidden test against the student's worker and the
reference, compare, diagnose known mistakes, and score. Rendering is not done here."""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from graders import __version__, gpus, guard, isolation, probes, scan, tamper
from graders.assignment import Assignment, reveals
from graders.catalog import Entry
from graders.compare import compare, exact_float32
from graders.hidden import Fail, Inputs, TestSpec, derive_seed, mutation_failure
from graders.inputs import Recorder
from graders.mutation import watch
from graders.protocol import StudentError
from graders.sandbox import GraderProblem, RemoteImpl, SubmissionNotLoaded, Worker, WorkerFailure, shared_zygote


@dataclass
class Diagnosis:
    id: str
    explanation: str


@dataclass
class TestResult:
    name: str
    task: str
    device: str
    description: str
    max_points: float
    points: float = 0.0
    status: str = "failed"  # passed | failed | not_run
    message: str = ""
    diagnoses: list[Diagnosis] = field(default_factory=list)
    limit: str | None = None  # the limit hit, if any
    crashed: bool = False  # the worker died or timed out during this test
    required: bool = False  # counts toward max_score even when not run (require_gpu)
    inputs: list[str] = field(default_factory=list)  # what the test sent (graders.inputs)
    tampered: bool = False  # possible tampering was recorded while it ran: it scores 0

    @property
    def counts(self) -> bool:
        return self.status != "not_run" or self.required


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    status: str  # graded | not_loaded
    message: str = ""
    tests: list[TestResult] = field(default_factory=list)
    output: str = ""
    printed: tuple[int, int] = (0, 0)  # what the code printed in all: (lines, bytes), kept or not
    output_capped: bool = False  # it printed more than the output_kb limit keeps
    isolation: str = field(default_factory=isolation.level)
    grader_version: str = __version__
    seconds: float = 0.0
    reveal: str = "messages"  # the assignment's reveal policy: how much feedback shows
    notes: list[str] = field(default_factory=list)  # about the submission itself (files left out)
    evidence: list[tamper.Evidence] = field(default_factory=list)  # possible tampering, static and run time

    @property
    def flagged(self) -> bool:
        """For a person to look at: something in or done by the submission may be tampering."""
        return bool(self.evidence)

    @property
    def score(self) -> float:
        return round(sum(t.points for t in self.tests), 6)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_points for t in self.tests if t.counts), 6)

    @property
    def limits_hit(self) -> list[str]:
        return sorted({t.limit for t in self.tests if t.limit} | ({"output_kb"} if self.output_capped else set()))


class LocalImpl:
    """The ``impl`` fixture for trusted code (the reference, a catalog entry): direct calls,
    with the same in-place-modification check and forbidden-API guard the worker applies."""

    def __init__(self, module, forbidden_for=lambda name: ()):
        self._module = module
        self._forbidden_for = forbidden_for

    def probe(self, kind: str, target: str, *args):
        groups = self._forbidden_for(target)
        rules, inner = probes.rules_for(kind, groups), probes.inner_rules(kind, groups)
        folder = [str(Path(self._module.__file__).parent)]
        kwargs = {"inner": lambda: guard.watching(inner, folder)} if inner else {}
        return self._run(target, probes.run, (kind, getattr(self._module, target), *args), kwargs, rules)

    def __getattr__(self, name: str):
        function = getattr(self._module, name)

        def call(*args, **kwargs):
            return self._run(name, function, args, kwargs, self._forbidden_for(name))

        return call

    def _run(self, name, function, args, kwargs, rules):
        watcher = watch(function, args, kwargs)
        try:
            with guard.watching(rules, [str(Path(self._module.__file__).parent)]) as seen:
                value = function(*args, **kwargs)
        except guard.ForbiddenCall:
            pass
        if seen.violation is not None:
            raise StudentError(name, "ForbiddenCall", str(seen.violation), "", seen.violation.group)
        changed = watcher.changed()
        if changed:
            raise mutation_failure(name, changed)
        return value


@dataclass
class _Run:
    """What one body produced for one implementation: a value, or the check that failed."""

    value: object = None
    failure: Fail | None = None
    error: Exception | None = None


def available_devices(assignment=None) -> set[str]:
    """The devices tests can run on here; for an assignment without CUDA tests, or on a
    machine with no GPU driver at all, just the CPU, found without importing torch."""
    devices = {"cpu"}
    if assignment is not None and "cuda" not in assignment.devices:
        return devices
    if not gpus.driver_present():
        return devices
    try:
        import torch

        if torch.cuda.is_available():
            devices.add("cuda")
    except ImportError:
        pass
    return devices


def plan(assignment: Assignment, devices: set[str] | None = None) -> list[tuple[TestSpec, str]]:
    """Every (test, device) pair to report; device-free tests run once, as "cpu"."""
    wanted = devices or set(assignment.devices)
    pairs = []
    for spec in assignment.tests:
        for device in (assignment.devices if "device" in spec.params else ("cpu",)):
            if device in wanted:
                pairs.append((spec, device))
    return pairs


def grade(assignment: Assignment, submission: Path, student: str,
          devices: set[str] | None = None, identity: str | None = None) -> SubmissionResult:
    """``identity``: who the student is for seeding their hidden inputs (an email from the
    roster or Gradescope's metadata), the same on every path; default ``student``."""
    if assignment.kind == "quiz":  # an answers.toml, read as data: no worker, no student code
        from graders import quiz

        return quiz.grade(assignment, Path(submission), student)
    started = time.monotonic()
    # Warming up beside this process's own first imports (torch, to list the devices).
    shared_zygote(assignment.framework == "torch", wait=False)
    result = SubmissionResult(student=student, assignment=assignment.name, status="graded",
                              reveal=assignment.reveal)
    present = available_devices(assignment)
    exact_float32()
    pairs = plan(assignment, devices)
    session = _WorkerSession(assignment, Path(submission), gpu=any(d == "cuda" and d in present for _, d in pairs),
                             deadline=started + assignment.limits.submission_seconds)
    try:
        for spec, device in pairs:
            test = TestResult(spec.name, spec.task, device, _first_line(spec.body.__doc__),
                              assignment.test_points(spec, device))
            result.tests.append(test)
            if device not in present:
                test.status, test.message = "not_run", f"not run (no {device.upper()} on the grading machine)"
                if assignment.require_gpu and device == "cuda":
                    test.required = True
                    test.message += "; this assignment requires a GPU, so these points count as lost"
                continue
            _run_test(assignment, spec, device, identity or student, session, test, started)
        if session.load_error:
            result.status, result.message = "not_loaded", session.load_error
        result.notes += session.notes
    finally:
        result.output = session.close()
        result.printed, result.output_capped = (session.printed_lines, session.printed_bytes), session.capped
    result.evidence = scan.scan_submission(Path(submission), assignment) + session.evidence
    result.seconds = round(time.monotonic() - started, 3)
    return result


class _WorkerSession:
    """The student's worker, restarted after a crash so one crash costs only its own test."""

    def __init__(self, assignment: Assignment, submission: Path, gpu: bool = False, deadline: float | None = None):
        self.assignment = assignment
        self.submission = submission
        self.gpu = gpu
        self.deadline = deadline
        self.worker: Worker | None = None
        self.load_error: str | None = None
        self.notes: list[str] = []
        self._output: list[str] = []
        self.printed_lines = self.printed_bytes = 0
        self.capped = False
        self.evidence: list[tamper.Evidence] = []  # what the workers reported, in order
        self.tampered_at_import = False  # then every test is affected
        self._evidence_read = 0  # how much of the current worker's evidence is in self.evidence

    def impl(self) -> RemoteImpl:
        if self.load_error:
            raise SubmissionNotLoaded(self.load_error)
        if self.worker is None:
            try:
                self._evidence_read = 0
                self.worker = Worker(self.submission, self.assignment.module, self.assignment.limits, self.gpu,
                                     self.deadline, with_torch=self.assignment.framework == "torch")
            except WorkerFailure as failure:
                self.load_error = f"the submission could not be imported: {failure.message}"
                raise SubmissionNotLoaded(self.load_error) from None
            except SubmissionNotLoaded as failure:
                self.load_error = str(failure)
                raise
            note = self.worker.selection.note()
            if note and note not in self.notes:
                self.notes.append(note)
            if self.worker.load_error:
                error = self.worker.load_error
                self.load_error = f"{self.assignment.module}.py could not be imported: {error['type']}: {error['message']}"
                self._retire()
                raise SubmissionNotLoaded(self.load_error)
        return RemoteImpl(self.worker, self.assignment.forbidden_for)

    def crashed(self) -> None:
        self._retire()

    def take_evidence(self) -> list[tamper.Evidence]:
        """What the worker reported since the last look (untrusted data, checked on the way in)."""
        if self.worker is None:
            return []
        fresh = []
        for item in self.worker.evidence[self._evidence_read:]:
            try:
                fresh.append(tamper.Evidence.from_dict(item))
            except ValueError:
                fresh.append(tamper.Evidence("guard", "evidence the worker sent in a broken form", "", 0, "call"))
        self._evidence_read = len(self.worker.evidence)
        self.tampered_at_import = self.tampered_at_import or any(e.phase == "import" for e in fresh)
        kept = set(self.evidence)
        for item in fresh:  # what the submission is flagged with: each thing once, within a cap
            if item not in kept and len(self.evidence) < tamper.MAX_RECORDS:
                self.evidence.append(item)
                kept.add(item)
        return fresh

    def _retire(self) -> None:
        if self.worker is not None:
            self.worker.close()
            collected = self.worker.output
            self._output.append(collected.text())
            self.printed_lines += collected.lines
            self.printed_bytes += collected.total
            self.capped |= collected.total > len(collected.kept)
            self.worker = None

    def close(self) -> str:
        self._retire()
        return "\n".join(text for text in self._output if text)


def _run_test(assignment: Assignment, spec: TestSpec, device: str, student: str,
              session: _WorkerSession, test: TestResult, started: float) -> None:
    if time.monotonic() - started > assignment.limits.submission_seconds:
        test.message = f"not graded: the submission used up its {assignment.limits.submission_seconds:g} s time limit"
        test.limit = "submission_seconds"
        return
    try:
        impl = session.impl()
    except SubmissionNotLoaded as error:
        test.message = str(error)
        return
    seed = derive_seed(student, assignment.name, spec.name, device)
    # Unguarded: validate proves the reference keeps the forbidden-API rules, and the
    # guard would slow every torch call the reference makes.
    expected = _execute(spec, LocalImpl(assignment.reference), seed, device)
    if expected.failure or expected.error:
        problem = expected.failure or expected.error
        raise RuntimeError(f"the reference fails hidden test {spec.name} on {device}: {problem!r}")
    recorder = Recorder(impl)
    actual = _execute(spec, recorder, seed, device)
    fresh = session.take_evidence()
    if fresh or session.tampered_at_import:
        also = ""  # what else went wrong (a limit hit, a crash) is still said
        if isinstance(actual.error, WorkerFailure):
            session.crashed()
            also, test.limit, test.crashed = actual.error.message, actual.error.limit, True
        elif actual.error is not None:
            also, test.limit = _explain_error(actual.error), getattr(actual.error, "limit", None)
        _tampered(test, fresh, also)
        return
    unimplemented = isinstance(actual.error, StudentError) and actual.error.type_name in (
        "NotImplementedError", "MissingFunction")
    if reveals(assignment.reveal, "messages") and not unimplemented:
        test.inputs = recorder.summary(full=reveals(assignment.reveal, "inputs"))
    if isinstance(actual.error, WorkerFailure):
        session.crashed()
        test.message, test.limit, test.crashed = actual.error.message, actual.error.limit, True
        return
    tolerance = lambda dtype: assignment.tolerance_for(dtype, spec)  # noqa: E731
    if actual.error is not None:
        test.message = _explain_error(actual.error)
        test.limit = getattr(actual.error, "limit", None)
        if not _forbidden_group(actual.error):
            return
    elif actual.failure is not None:
        test.message = actual.failure.message
    else:
        differences = compare(actual.value, expected.value, tolerance)
        if not differences:
            test.status, test.points = "passed", test.max_points
            return
        test.message = "\n".join(differences)
    test.diagnoses = _diagnose(assignment, spec, seed, device, actual, expected, tolerance,
                               assignment.reachable_from(recorder.functions))


def _tampered(test: TestResult, fresh: list[tamper.Evidence], also: str = "") -> None:
    """The test scores 0 and says why, in words that accuse nobody."""
    what = sorted({tamper.KINDS[e.kind] for e in fresh if e.phase != "import"})
    when = "while this test ran, your code " + "; ".join(what) if what else \
        "when your module was imported, it did something the grader treats as possible tampering"
    test.status, test.points, test.tampered = "failed", 0.0, True
    test.message = (f"not scored: {when}. The grader cannot vouch for a result produced that way, so this "
                    "test scores 0 and the submission is marked for a person to look at (see \"Integrity "
                    "check\" in the feedback)." + (f"\nAlso: {also}" if also else ""))


def _execute(spec: TestSpec, impl, seed: int, device: str) -> _Run:
    fixtures = {"impl": impl, "rand": Inputs(seed, device), "device": device}
    try:
        with warnings.catch_warnings():
            # A mistake variant dividing by zero is expected; warnings never cost points.
            warnings.simplefilter("ignore")
            value = spec.body(**{name: fixtures[name] for name in spec.params})
    except Fail as failure:
        return _Run(failure=failure)
    except GraderProblem:
        raise  # not the student's doing: the whole submission is a grader error
    except (StudentError, WorkerFailure) as error:
        return _Run(error=error)
    except Exception as error:  # noqa: BLE001 - a mistake variant may crash; that is a result too
        return _Run(error=error)
    return _Run(value=value)


def _diagnose(assignment: Assignment, spec: TestSpec, seed: int, device: str,
              actual: _Run, expected: _Run, tolerance, reachable: set[str]) -> list[Diagnosis]:
    """The catalogued mistakes whose behaviour on these same inputs matches the student's.

    Only mistakes in functions the test reached (``reachable``) can show, so only those run."""
    by_id = {entry.id: entry for entry in assignment.mistakes}
    if actual.failure is not None and actual.failure.mistake in by_id:
        entry = by_id[actual.failure.mistake]
        return [Diagnosis(entry.id, entry.explanation)]
    found = []
    # Mistakes run guarded only to match a student's forbidden call; otherwise a mistake
    # that calls a forbidden API computes the right answer and matches nothing.
    rules = assignment.forbidden_for if _forbidden_group(actual.error) else (lambda name: ())
    for entry in assignment.mistakes:
        if reachable and entry.target not in reachable:
            continue
        wrong = _execute(spec, LocalImpl(assignment.implementation_with(entry), rules), seed, device)
        if _same_behaviour(actual, wrong, expected, tolerance):
            found.append(Diagnosis(entry.id, entry.explanation))
    return found


def _same_behaviour(actual: _Run, wrong: _Run, expected: _Run, tolerance) -> bool:
    if _forbidden_group(actual.error):
        return _forbidden_group(actual.error) == _forbidden_group(wrong.error)
    if actual.failure is not None:
        return wrong.failure is not None and wrong.failure.message == actual.failure.message
    if actual.value is None or wrong.failure is not None or wrong.error is not None:
        return False
    if not compare(wrong.value, expected.value, tolerance):
        return False  # this mistake does not show on these inputs
    return not compare(actual.value, wrong.value, tolerance)


def _forbidden_group(error) -> str:
    return error.group if isinstance(error, StudentError) and error.type_name == "ForbiddenCall" else ""


def _explain_error(error: Exception) -> str:
    if _forbidden_group(error):
        return f"{error.function}() {error.message}; this test scores 0"
    if isinstance(error, StudentError):
        if error.type_name == "NotImplementedError":
            return f"{error.function}() is not implemented yet (it raises NotImplementedError)"
        if error.type_name == "MissingFunction":
            return error.message
        tail = error.traceback.strip().splitlines()[-6:]
        return f"{error.function}() raised {error.type_name}: {error.message}" + (
            "\n" + "\n".join(tail) if tail else "")
    return f"{type(error).__name__}: {error}"


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""
