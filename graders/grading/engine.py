"""Grade one submission: run every hidden test against the student's worker and the
reference, compare, diagnose known mistakes, and score. Rendering is not done here."""
from __future__ import annotations

import importlib
import re
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from graders import __version__
from graders.sandbox import gpus, isolation
from graders.integrity import enforce, guard, scan, tamper
from graders.grading import probes
from graders.grading.assignment import Assignment, reveals
from graders.grading.compare import compare, exact_float32
from graders.grading.hidden import Fail, Inputs, TestSpec, derive_seed, mutation_failure, run_body
from graders.grading.inputs import NOT_IMPLEMENTED, Recorder
from graders.grading.mutation import watch
from graders.sandbox.protocol import StudentError
from graders.sandbox.host import ByteBudget, GraderProblem, RemoteImpl, SubmissionNotLoaded, Worker, WorkerFailure, shared_zygote


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
    inputs: list[str] = field(default_factory=list)  # what the test sent (graders.grading.inputs)
    warnings: list[str] = field(default_factory=list)  # what the code warned while the test ran
    # Functions (of other tasks) that, taken from the reference, make this failed test pass:
    # the student should fix those first.
    fix_first: list[str] = field(default_factory=list)
    # The reference's functions this test can reach (for cascades; not reported).
    reached: frozenset = field(default=frozenset(), repr=False, compare=False)
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
        self._folder = [str(Path(module.__file__).parent)]  # once: a Path per call cost more than most calls

    def probe(self, kind: str, target: str, *args):
        groups = self._forbidden_for(target)
        rules, inner = probes.rules_for(kind, groups), probes.inner_rules(kind, groups)
        kwargs = {"inner": lambda: enforce.watching(inner, self._folder)} if inner else {}
        return self._run(target, probes.run, (kind, getattr(self._module, target), *args), kwargs, rules)

    def __getattr__(self, name: str):
        function = getattr(self._module, name)

        def call(*args, **kwargs):
            return self._run(name, function, args, kwargs, self._forbidden_for(name))

        return call

    def _run(self, name, function, args, kwargs, rules):
        watcher = watch(function, args, kwargs)
        try:
            with enforce.watching(rules, self._folder) as seen:
                value = function(*args, **kwargs)
        except guard.ForbiddenCall:
            pass
        if seen.violation is not None:
            raise StudentError(name, "ForbiddenCall", str(seen.violation), "", seen.violation.group)
        changed = watcher.changed()
        if changed:
            raise mutation_failure(name, changed)
        return value


class ReferenceImpl(LocalImpl):
    """The ``impl`` fixture for the reference while grading: its functions, called directly.
    ``nngrade validate`` grades the reference as a submission, in a worker, so it has
    already shown that it keeps the forbidden-API rules and leaves its inputs alone;
    checking both again on every call of every submission's run cost more than the calls."""

    def __getattr__(self, name: str):
        return getattr(self._module, name)


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


def _import_in_background(module: str) -> None:
    """Import ``module`` on a thread of its own, while this process waits for its zygote.

    Used for torch's symbolic shapes (and sympy, 0.4 s): the probes of a custom autograd
    Function run it through autograd with a given gradient, which imports them in the
    middle of a cold grade. Only where the reference defines such a Function: elsewhere
    nothing needs them, and they would cost every garbage collection of the process."""
    if module not in sys.modules:
        threading.Thread(target=importlib.import_module, args=(module,), daemon=True).start()


def grade(assignment: Assignment, submission: Path, student: str,
          devices: set[str] | None = None, identity: str | None = None) -> SubmissionResult:
    """``identity``: who the student is for seeding their hidden inputs (an email from the
    roster or Gradescope's metadata), the same on every path; default ``student``."""
    started = time.monotonic()
    # Warming up beside this process's own first imports (torch, to list the devices).
    shared_zygote(assignment.framework == "torch", wait=False)
    if "autograd.Function" in assignment.reference_source:
        _import_in_background("torch.fx.experimental.symbolic_shapes")
    result = SubmissionResult(student=student, assignment=assignment.name, status="graded",
                              reveal=assignment.reveal)
    present = available_devices(assignment)
    exact_float32()
    pairs = plan(assignment, devices)
    session = _WorkerSession(assignment, Path(submission), gpu=any(d == "cuda" and d in present for _, d in pairs),
                             deadline=started + assignment.limits.submission_seconds)
    try:
        ran, undiagnosed = [], []
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
            diagnose = _run_test(assignment, spec, device, identity or student, session, test, started)
            ran.append((spec, test))
            if diagnose is not None:
                undiagnosed.append((test, diagnose))
        if session.load_error:
            result.status, result.message = "not_loaded", session.load_error
        else:
            # Once every test has run: a mistake in a function whose own tests all passed
            # cannot be the cause, and is not even tried (a sixth of the diagnosis of an A4
            # conv2d_backward mistake: the conv2d_forward mistakes).
            supported = _supported_diagnoses(assignment, [test for _, test in ran])
            for test, diagnose in undiagnosed:
                test.diagnoses = diagnose(lambda entry, test=test: supported(test, entry.id))
            for _, test in ran:
                test.diagnoses = [d for d in test.diagnoses if supported(test, d.id)]
            _explain_cascades(assignment, ran, identity or student, session, started)
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
                where = str(error.get("traceback") or "")[:4000]
                self.load_error = (f"{self.assignment.module}.py could not be imported: {error['type']}: "
                                   f"{error['message']}" + (f"\n{where}" if where else ""))
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
              session: _WorkerSession, test: TestResult, started: float):
    """Run ``spec`` against the reference and the student's worker and judge it in ``test``.
    Returns what diagnoses a failure (given which catalogued mistakes are worth trying,
    it returns those that match), or None where there is nothing to diagnose."""
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
    expected = _execute(spec, ReferenceImpl(assignment.reference), seed, device)
    if expected.failure or expected.error:
        problem = expected.failure or expected.error
        raise RuntimeError(f"the reference fails hidden test {spec.name} on {device}: {problem!r}")
    recorder = Recorder(impl)
    worker, warned = session.worker, len(session.worker.warnings)
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
    test.reached = frozenset(assignment.reachable_from(recorder.functions))
    test.warnings = _warning_lines(worker.warnings[warned:], assignment.reveal)
    tolerance = lambda dtype: assignment.tolerance_for(dtype, spec)  # noqa: E731
    culprits: list = []
    if _judge(actual, expected, tolerance, test, session, culprits):
        test.status, test.points = "passed", test.max_points
        return
    if recorder.unimplemented:
        # A stub raising NotImplementedError, even where the test caught it as an outcome:
        # plain words, not the comparison of an error with the expected values.
        test.message = _unimplemented_message(recorder)
        return
    if reveals(assignment.reveal, "messages"):
        test.inputs = recorder.summary(full=reveals(assignment.reveal, "inputs"),
                                       first=_failing_calls(recorder, actual, culprits))
    if test.crashed or (actual.error is not None and not _forbidden_group(actual.error)):
        return
    reached = test.reached
    return lambda worth: _diagnose(assignment, spec, seed, device, actual, expected, tolerance, reached, worth)


def _judge(actual: _Run, expected: _Run, tolerance, test: TestResult, session: _WorkerSession,
           culprits: list) -> bool:
    """Whether the student's run matches the reference's; if not, say why in ``test``."""
    if isinstance(actual.error, WorkerFailure):
        session.crashed()
        test.message, test.limit, test.crashed = actual.error.message, actual.error.limit, True
        return False
    if actual.error is not None:
        test.message = _explain_error(actual.error)
        test.limit = getattr(actual.error, "limit", None)
        return False
    if actual.failure is not None:
        test.message = actual.failure.message
        return False
    differences = compare(actual.value, expected.value, tolerance, culprits=culprits)
    test.message = "\n".join(differences)
    return not differences


def _failing_calls(recorder: Recorder, actual: _Run, culprits: list) -> list[int]:
    """The calls to list first under "What it sent": those whose results differed, the one
    that raised, or (a property check failed) the last call made."""
    if actual.error is not None:
        return recorder.failing_calls(raised=True) or recorder.failing_calls(culprits)
    if actual.failure is not None:
        return recorder.failing_calls(raised=True) or ([len(recorder.calls) - 1] if recorder.calls else [])
    return recorder.failing_calls(culprits)


def _unimplemented_message(recorder: Recorder) -> str:
    name = recorder.unimplemented[0]
    missing = next((r for r in recorder.results if getattr(r, "type_name", None) == NOT_IMPLEMENTED[1]
                    and getattr(r, "function", None) == name), None)
    if missing is not None:
        return missing.message
    return f"{name}() is not implemented yet (it raises NotImplementedError)"


# numpy's floating-point warnings say nothing about the inputs; any other warning's text
# could carry a hidden input (a student's own warnings.warn(str(x))), so it shows only
# where the assignment reveals inputs.
_PLAIN_WARNINGS = re.compile(r"(overflow|underflow|divide by zero|invalid value) encountered in \w+$"
                             r"|Mean of empty slice\.?$|Degrees of freedom <= 0 for slice\.?$")


def _warning_lines(found: list, reveal: str) -> list[str]:
    """One line per distinct warning the student's code raised: its kind, where, and (when
    it cannot leak an input) its text."""
    counts: dict[str, int] = {}
    for item in found:
        category, text = str(item.get("category", "Warning"))[:80], str(item.get("message", ""))[:300]
        where, count = str(item.get("where", ""))[:200], item.get("count", 1)
        if not (_PLAIN_WARNINGS.match(text) or reveals(reveal, "inputs")):
            text = "(its text is not shown: it could contain the hidden inputs)"
        line = f"{category}{f' at {where}' if where else ''}: {text}"
        counts[line] = counts.get(line, 0) + (count if isinstance(count, int) and count > 0 else 1)
    return [line + (f" ({times} times)" if times > 1 else "") for line, times in counts.items()]


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
            value = run_body(spec.body, {name: fixtures[name] for name in spec.params})
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
              actual: _Run, expected: _Run, tolerance, reachable: set[str],
              worth=lambda entry: True) -> list[Diagnosis]:
    """The catalogued mistakes whose behaviour on these same inputs matches the student's.

    Only mistakes in functions the test reached (``reachable``) can show, and of those only
    the ones ``worth(entry)`` trying, so only those run."""
    by_id = {entry.id: entry for entry in assignment.mistakes}
    named = [by_id[m] for m in (actual.failure.mistakes if actual.failure is not None else ()) if m in by_id]
    if named:  # the failed property checks said which mistakes they reveal
        return [Diagnosis(entry.id, entry.explanation) for entry in named]
    found = []
    # Mistakes run guarded only to match a student's forbidden call; otherwise a mistake
    # that calls a forbidden API computes the right answer and matches nothing.
    rules = assignment.forbidden_for if _forbidden_group(actual.error) else (lambda name: ())
    for entry in assignment.mistakes:
        if (reachable and entry.target not in reachable) or not worth(entry):
            continue
        wrong = _execute(spec, LocalImpl(assignment.implementation_with(entry), rules), seed, device)
        if _same_behaviour(actual, wrong, expected, tolerance):
            found.append(Diagnosis(entry.id, entry.explanation))
    return found


def _supported_diagnoses(assignment: Assignment, tests: list[TestResult]):
    """``supported(test, mistake_id)``: False for a mistake that lies in a function of
    another task which passed all its tests on that device: the student's version of it is
    right, so it is not the cause (a composite's "gradients do not match" reads the same
    whichever layer is wrong)."""
    target = {entry.id: entry.target for entry in assignment.mistakes}
    failed = {(test.task, test.device) for test in tests if test.status == "failed"}

    def supported(test: TestResult, mistake_id: str) -> bool:
        tasks = {task.id for task in assignment.tasks.values() if target.get(mistake_id) in task.functions}
        return not tasks or test.task in tasks or any((task, test.device) in failed for task in tasks)

    return supported


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
        # The worker keeps only the student's own frames (worker._student_traceback).
        where = error.traceback.rstrip()
        return f"{error.function}() raised {error.type_name}: {error.message}" + (f"\n{where}" if where else "")
    return f"{type(error).__name__}: {error}"


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


# --------------------------------------------------------------------------- cascades

CALLBACK_ELEMENTS = 1 << 22  # array elements one reference answer may be asked to process


def _explain_cascades(assignment: Assignment, ran: list[tuple[TestSpec, TestResult]], student: str,
                      session: _WorkerSession, started: float) -> None:
    """One mistake in a component (``linear_backward``) also fails every test of the
    composites built on it (``two_layer_net``). For each failed test that reaches functions
    of other tasks which failed too, run it again with the reference's functions of those
    tasks in place of the student's: if it then passes, feedback says to fix those first,
    and where the manifest says ``cascade = "credit"`` the test keeps its points."""
    failed = {(test.task, test.device) for _, test in ran if test.status == "failed"}
    for spec, test in ran:
        if time.monotonic() - started > assignment.limits.submission_seconds:
            return
        if test.status != "failed" or test.crashed or test.limit or test.tampered:
            continue
        tasks = [task.id for task in assignment.tasks.values()
                 if task.id != spec.task and (task.id, test.device) in failed and set(task.functions) & test.reached]
        if tasks and _passes_with_reference(assignment, spec, test.device, student, session, tasks):
            test.fix_first = [name for task in tasks for name in assignment.tasks[task].functions]
            if assignment.cascade == "credit":
                test.status, test.points = "passed", test.max_points


def _passes_with_reference(assignment: Assignment, spec: TestSpec, device: str, student: str,
                           session: _WorkerSession, tasks: list[str]) -> bool:
    names = [name for task in tasks for name in assignment.tasks[task].functions]
    try:
        session.impl()
    except SubmissionNotLoaded:
        return False
    seed = derive_seed(student, assignment.name, spec.name, device)
    expected = _execute(spec, ReferenceImpl(assignment.reference), seed, device)
    actual = _execute(spec, _WithReference(session.worker, assignment, names), seed, device)
    tampered = bool(session.take_evidence())  # kept in the session's record, and never credited
    if isinstance(actual.error, WorkerFailure):
        session.crashed()
        return False
    if tampered:
        return False
    tolerance = lambda dtype: assignment.tolerance_for(dtype, spec)  # noqa: E731
    return actual.error is None and actual.failure is None and not compare(actual.value, expected.value, tolerance)


class _WithReference:
    """The ``impl`` of a cascade re-run: the student's worker, except that the functions
    ``names`` are the reference's, both where the test calls them (here, in the trusted
    process) and where the student's own code does (the worker calls back for them). The
    reference's code stays here; only its answers, as data, reach the worker."""

    def __init__(self, worker: Worker, assignment: Assignment, names: list[str]):
        self._worker = worker
        self._forbidden_for = assignment.forbidden_for
        self._reference = ReferenceImpl(assignment.reference)
        self._names = set(names)
        self._callbacks = {name: _bounded(getattr(assignment.reference, name)) for name in names}
        self._budget = ByteBudget(worker.limits.reply_mb << 20)

    def probe(self, kind: str, target: str, *args):
        if target in self._names:
            return self._reference.probe(kind, target, *args)
        return self._worker.call(target, args, {}, self._forbidden_for(target), probe=kind, budget=self._budget,
                                 callbacks=self._callbacks)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._names:
            return getattr(self._reference, name)

        def call(*args, **kwargs):
            return self._worker.call(name, args, kwargs, self._forbidden_for(name), budget=self._budget,
                                     callbacks=self._callbacks)

        return call


def _bounded(function):
    """``function`` for the worker to call back: refuses arguments larger than a hidden test
    would ever send, so a submission cannot make the trusted process compute for long."""
    def answer(*args, **kwargs):
        if _elements((args, kwargs)) > CALLBACK_ELEMENTS:
            raise ValueError("arguments too large for the reference")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function(*args, **kwargs)

    return answer


def _elements(value, depth: int = 0) -> int:
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        size = 1
        for n in value.shape:
            size *= int(n)
        return size
    if depth < 8 and isinstance(value, (tuple, list)):
        return sum(_elements(v, depth + 1) for v in value)
    if depth < 8 and isinstance(value, dict):
        return sum(_elements(v, depth + 1) for v in value.values())
    return 0
