"""The worker: the only process that ever imports or runs a submission.

It is forked from the warm zygote (``graders.sandbox.zygote``) with numpy and torch already
imported, confines itself (new session, rlimits, scrubbed environment, private working
directory), imports the student's module and then answers call requests until the
trusted side hangs up. It holds no grader state: no reference, no hidden tests, no
expected values, nothing a submission could read or patch to its advantage.
"""
from __future__ import annotations

import contextlib
import difflib
import errno
import functools
import importlib.util
import os
import resource
import signal
import sys
import traceback
import warnings

import numpy as np

from graders.integrity import enforce, guard, tamper
from graders.grading import hidden, mutation, probes
from graders.sandbox import isolation, protocol

_TRACEBACK_LIMIT = 4000
_STUDENT_FRAMES = 8  # the innermost frames of the student's own files a traceback keeps
_WARNINGS_KEPT = 10  # distinct warnings reported per call


def run(control_fd: int, output_fd: int, request: dict) -> None:
    """Confine this fresh child, then serve requests on ``control_fd``. Never returns."""
    import socket

    try:
        _confine(control_fd, output_fd, request)
    except BaseException:  # noqa: BLE001 - never run a submission less confined than promised
        traceback.print_exc()
        os._exit(70)
    try:
        sock = socket.socket(fileno=control_fd)
        _serve(sock, request)
    finally:
        os._exit(0)


def _confine(control_fd: int, output_fd: int, request: dict) -> None:
    os.setsid()  # its own process group, so the trusted side kills everything it spawns
    for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_DFL)
    if request["isolation"]["level"] != isolation.NAMESPACE:
        # Inside namespaces the worker's first parent has already gone; it dies with the
        # namespaces' init instead, which dies with the zygote.
        isolation.die_with_parent()
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    # Nothing the zygote holds open may reach the sandbox: a folder handle would be a way
    # out of the namespace's filesystem.
    isolation.close_all_but([control_fd])
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    limits = request["limits"]
    data_base = _data_size()  # read now: the sandbox may hide /proc

    spec = request["isolation"]
    isolation.confine(spec)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    workdir = spec["workdir"]
    os.chdir(workdir)
    gpu_settings = {name: os.environ[name] for name in isolation.GPU_VARIABLES if name in os.environ}
    os.environ.clear()
    os.environ.update({"HOME": workdir, "TMPDIR": workdir, "PATH": "/usr/bin:/bin",
                       "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", **gpu_settings})

    _limit(resource.RLIMIT_CPU, limits["cpu_seconds"])
    _limit(resource.RLIMIT_FSIZE, limits["file_bytes"])
    _limit(resource.RLIMIT_CORE, 0)
    if limits.get("memory_bytes"):
        # Private writable memory (what arrays and tensors take), on top of what the warm
        # zygote already holds. Not the address space: CUDA reserves far more of that than
        # it ever uses.
        _limit(resource.RLIMIT_DATA, data_base + limits["memory_bytes"])
    sys.path.insert(0, workdir)


def _limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, hard))


def _data_size() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


# --------------------------------------------------------------------------- serving

class _Session:
    def __init__(self):
        self.module = None
        self.objects: dict[int, object] = {}
        # The guard and the evidence recorder live here, in _serve's frame, and nowhere a
        # submission could reach without walking frames (which is itself recorded).
        self.fence = None
        self.evidence: tamper.Recorder | None = None
        self.grader_modules: list = []  # kept alive here once out of sys.modules (tamper.hide_grader)

    def keep(self, obj) -> int:
        handle = len(self.objects) + 1
        self.objects[handle] = obj
        return handle

    def resolve(self, handle: int):
        try:
            return self.objects[handle]
        except KeyError:
            raise protocol.ProtocolError(f"unknown handle {handle}") from None


def _serve(sock, request: dict) -> None:
    session = _Session()
    problem = _start_cuda(request) if request["isolation"].get("gpu") else None
    if problem:
        _reply(sock, session, problem, drain=False)
        return
    with _recorded_warnings(request["workdir"]) as seen:
        reply = _load(session, request["module"], request["workdir"])
    _reply(sock, session, {**reply, "warnings": seen}, drain=False)
    while True:
        try:
            message = protocol.read_message(sock, resolve_handle=session.resolve, build_generators=True)
        except EOFError:
            return
        except protocol.ProtocolError as error:
            # The trusted side's request is well formed: if it cannot be rebuilt here (the
            # inputs cannot go to the GPU, say), say so rather than die without a word.
            _reply(sock, session, _grader_problem(f"the worker could not take the test's inputs: {error}"))
            continue
        if message.get("op") == "call":
            with _recorded_warnings(request["workdir"]) as seen, \
                    _substituted(session, message.get("substitute"), sock):
                reply = _call(session, message["function"], message["args"], message["kwargs"],
                              message.get("forbidden", ()), message.get("probe"), request["workdir"])
            _reply(sock, session, {**reply, "warnings": seen})
        else:
            return


@contextlib.contextmanager
def _recorded_warnings(workdir: str):
    """Collect the warnings the student's code raises (numpy's RuntimeWarnings, torch's
    UserWarnings) as data for the feedback, instead of letting them print as output."""
    found: list[dict] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield found
    root = workdir.rstrip(os.sep) + os.sep
    by_key: dict[tuple, dict] = {}
    for item in caught:
        filename = str(item.filename)
        where = f"{filename[len(root):]} line {item.lineno}" if filename.startswith(root) else ""
        key = (item.category.__name__, str(item.message)[:300], where)
        if key in by_key:
            by_key[key]["count"] += 1
        elif len(by_key) < _WARNINGS_KEPT:
            by_key[key] = {"category": key[0], "message": key[1], "where": where, "count": 1}
    found += by_key.values()


@contextlib.contextmanager
def _substituted(session: _Session, names, sock):
    """For a cascade re-run (graders.grading.engine): while the call runs, the student's functions
    ``names`` are replaced by ones that ask the trusted side for the reference's answer, so
    a composite is tried with correct components. The reference itself never comes here."""
    names = [n for n in names or () if isinstance(n, str) and n.isidentifier()]
    if not names or session.module is None:
        yield
        return
    saved = {name: vars(session.module).get(name, _ABSENT) for name in names}
    for name in names:
        setattr(session.module, name, _ask_trusted_side(name, session, sock))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _ABSENT:
                vars(session.module).pop(name, None)
            else:
                setattr(session.module, name, value)


_ABSENT = object()


def _ask_trusted_side(name: str, session: _Session, sock):
    def reference_answer(*args, **kwargs):
        protocol.write_message(sock, {"op": "callback", "function": name, "args": list(args), "kwargs": kwargs},
                               make_handle=session.keep)
        reply = protocol.read_message(sock, resolve_handle=session.resolve, build_generators=True)
        if not isinstance(reply, dict) or not reply.get("ok"):
            raise RuntimeError(f"the reference's {name}() could not run on these arguments: "
                               f"{reply.get('error') if isinstance(reply, dict) else reply}")
        return reply.get("value")

    reference_answer.__name__ = name
    return reference_answer


def _reply(sock, session: _Session, reply: dict, drain: bool = True) -> None:
    # Evidence from the import rides on the first call's reply: the trusted side reads it there.
    if drain and session.evidence is not None:
        evidence = session.evidence.drain()
        if evidence:
            reply["evidence"] = evidence
    try:
        protocol.write_message(sock, reply, make_handle=session.keep)
    except (TypeError, ValueError, RuntimeError) as error:  # RuntimeError: a CUDA error reading a result back
        protocol.write_message(sock, {"ok": False, "error": _describe_error(error, "sending the result")})


def _grader_problem(message: str) -> dict:
    return {"ok": False, "error": {"type": "GraderProblem", "message": message, "traceback": "", "grader": True}}


def _start_cuda(request: dict) -> dict | None:
    """Initialise CUDA before the student's module is imported, on its own time budget,
    and bound the GPU memory this worker may take. A failure is the grader's problem."""
    import time

    started = time.monotonic()
    try:
        import torch

        torch.cuda.init()
        torch.empty(1, device="cuda")
        total = torch.cuda.get_device_properties(0).total_memory
        wanted = request["limits"].get("gpu_memory_bytes")
        if wanted:
            torch.cuda.set_per_process_memory_fraction(min(1.0, wanted / total))
    except Exception as error:  # noqa: BLE001 - any failure: CUDA is unusable in this sandbox
        return _grader_problem(f"CUDA could not be started in the sandboxed worker after "
                               f"{time.monotonic() - started:.1f} s: {type(error).__name__}: {error}")
    return None


def _synchronize() -> None:
    """Make a kernel's asynchronous CUDA error surface inside the call that launched it."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _load(session: _Session, module_name: str, workdir: str) -> dict:
    path = os.path.join(workdir, module_name + ".py")
    if not os.path.isfile(path):
        return {"ok": False, "error": {"type": "FileNotFoundError",
                                       "message": f"{module_name}.py is missing from the submission"
                                                  + _near_matches(module_name + ".py", workdir),
                                       "traceback": ""}}
    if session.evidence is None:
        # Before any of the student's code runs: take the guard out of reach, start
        # recording evidence, and hide the grader's modules.
        session.fence = _take_guard()
        session.evidence = tamper.arm(workdir)
        session.fence.set_reporter(session.evidence.report_guard)
        session.grader_modules = tamper.hide_grader()
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except BaseException as error:  # noqa: BLE001 - SystemExit at import is a student error too
        return {"ok": False, "error": _describe_error(error, f"importing {module_name}.py")}
    finally:
        session.evidence.phase = "between"
    session.module = module
    return {"ok": True}


def _take_guard():
    if "torch" not in sys.modules:  # a NumPy assignment's zygote: nothing of torch's to guard
        return _Unguarded()
    try:
        return enforce.take()
    except ImportError:
        return _Unguarded()


class _Unguarded:
    def watching(self, groups, source_dirs=()):
        import contextlib

        return contextlib.nullcontext(guard.Watch())

    def set_reporter(self, report) -> None:
        pass


def _call(session: _Session, name: str, args: list, kwargs: dict, forbidden, probe, workdir: str) -> dict:
    function = getattr(session.module, name, None)
    if not callable(function):
        return {"ok": False, "error": {"type": "MissingFunction",
                                       "message": f"the submission defines no function {name}()",
                                       "traceback": ""}}
    if probe is not None:
        inner = probes.inner_rules(probe, forbidden)
        forbidden = probes.rules_for(probe, forbidden)
        run = probes.run if not inner else functools.partial(
            probes.run, inner=lambda: session.fence.watching(inner, [workdir]))
        function, args = run, [probe, function, *args]
    watch = mutation.watch(function, args, kwargs)
    error = None
    session.evidence.phase = "call"
    try:
        with session.fence.watching(forbidden, [workdir]) as seen:
            try:
                value = function(*args, **kwargs)
                _synchronize()
            except BaseException as raised:  # noqa: BLE001 - report sys.exit() and the like, then go on
                error = raised
    finally:
        session.evidence.phase = "between"
    # A refusal stands even where the submission caught it and went on.
    error = seen.violation or error
    if error is not None:
        return {"ok": False, "error": _describe_error(error, f"calling {name}")}
    try:
        mutated = watch.changed()
    except RuntimeError as raised:  # a CUDA error left behind, surfacing on the input check
        return {"ok": False, "error": _describe_error(raised, f"checking the inputs of {name}")}
    return {"ok": True, "value": value, "mutated": mutated}


def _near_matches(wanted: str, workdir: str, most: int = 3) -> str:
    """"; found MLP.py: ..." for files whose name is close to ``wanted``: another case, a
    subfolder, a notebook, a typo. Empty when nothing is close."""
    found = []
    for top, dirs, files in os.walk(workdir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.relpath(os.path.join(top, name), workdir) for name in sorted(files)]
    stem = wanted.removesuffix(".py").lower()

    def close(relative: str) -> bool:
        name = os.path.basename(relative).lower()
        return name in (wanted.lower(), stem + ".ipynb") or bool(
            name.endswith(".py") and difflib.get_close_matches(name, [wanted.lower()], cutoff=0.75))

    matches = [f for f in found if close(f)][:most]
    if not matches:
        return ""
    return (f"; found {', '.join(matches)}: the grader imports exactly {wanted} at the top of the "
            "submission (file names are case-sensitive, and a notebook is not a module)")


def _describe_error(error: BaseException, during: str) -> dict:
    if isinstance(error, guard.ForbiddenCall):
        return {"type": "ForbiddenCall", "message": str(error), "traceback": "", "group": error.group,
                "kinds": ["graders.integrity.guard.ForbiddenCall"]}
    limit = _limit_behind(error)
    if isinstance(error, SystemExit):
        message = f"the code called sys.exit({error.code!r}) while {during}"
    elif limit == "processes":
        message = f"could not start another process or thread while {during} (the worker's process limit)"
    elif limit == "memory_mb":
        message = f"ran out of memory while {during} (the worker's memory limit)"
    elif limit == "gpu_memory_mb":
        message = f"ran out of GPU memory while {during} (the worker's GPU memory limit)"
    elif limit == "file_mb":
        message = f"wrote a file past the worker's file-size limit while {during}"
    else:
        message = str(error)
    return {"type": type(error).__name__, "message": message[:2000],
            "traceback": _student_traceback(error)[-_TRACEBACK_LIMIT:], "limit": limit,
            "kinds": list(hidden.exception_kinds(type(error)))}


def _student_traceback(error: BaseException) -> str:
    """The traceback's frames in the student's own files, innermost last, with paths
    relative to the submission. The grader's frames (this file, the guard) and library
    internals are left out: the last line shown is where the student's code called them.
    Relative paths also keep regrades identical (the private folder changes every run)."""
    root = os.getcwd() + os.sep
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)[-200:]
              if frame.filename.startswith(root)][-_STUDENT_FRAMES:]
    lines = []
    for frame in frames:
        lines.append(f'  File "{frame.filename[len(root):]}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    if isinstance(error, SyntaxError) and str(error.filename or "").startswith(root):
        # Where the parser stopped, with its caret; the last line (the message) is sent apart.
        detail = traceback.format_exception_only(type(error), error)
        lines += "".join(detail).replace(root, "").rstrip("\n").splitlines()[:-1]
    return "\n".join(lines)


def _limit_behind(error: BaseException) -> str | None:
    """The sandbox limit an exception comes from, if any (a name of ``sandbox.Limits``)."""
    if isinstance(error, BlockingIOError) or (
            isinstance(error, RuntimeError) and "can't start new thread" in str(error)):
        return "processes"
    if type(error).__name__ == "OutOfMemoryError" and "CUDA" in str(error):
        return "gpu_memory_mb"
    if isinstance(error, MemoryError) or (
            isinstance(error, RuntimeError) and "can't allocate memory" in str(error)):
        return "memory_mb"
    # Python ignores SIGXFSZ, so RLIMIT_FSIZE never kills the worker (the host's SIGXFSZ
    # case): the write fails with EFBIG instead, in the student's own call.
    if isinstance(error, OSError) and error.errno == errno.EFBIG:
        return "file_mb"
    return None
