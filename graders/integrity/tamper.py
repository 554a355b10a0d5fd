"""Evidence of tampering, recorded inside the worker while a submission runs.

Python's audit hooks cannot be removed once added: ``arm()`` adds one in the worker before
the student's module is imported, and it records, with the student's file and line:

- frames and the garbage collector walked (``sys._getframe``, a traceback's ``tb_frame``,
  ``gc.get_objects``/``get_referrers``), ``sys.settrace``/``setprofile``/audit hooks added;
- ``ctypes`` used; code built and run at run time (``exec``, ``eval``, ``compile``);
- threads started during a graded call, processes started at any time;
- files opened outside the submission (the Python runtime's own files excepted);
- the grader imported; torch's dispatcher, mode stack or dispatch-key state touched
  (``torch._C._dispatch_library``, ``_pop_torch_function_stack``, ...), and the guard's own
  switches (reported by ``graders.integrity.dispatcher``).

Only what the student's code did counts: an event is attributed to the student when their
frame made the call (or, for files, threads and processes, is anywhere on the stack), never
when torch or numpy did something on their own. The recorder lives in closures and in the
worker's stack frame, not in a module global a submission could reach and clear.

The trusted side gets the evidence with each reply; a test during which something was
recorded scores 0, and the submission is flagged (``graders.grading.engine``).
"""
from __future__ import annotations

import functools
import os
import sys
import sysconfig
from dataclasses import asdict, dataclass

# What a student reads (feedback) and an instructor reads (report), per kind of evidence.
KINDS = {
    "grader": "imported or read the grader's own code",
    "guard": "changed the grader's checks or a torch function they rely on",
    "torch_internals": "used torch's internal dispatcher or mode-stack functions (torch._C)",
    "ctypes": "used ctypes (direct access to native memory and functions)",
    "frames": "looked into the call stack (stack frames), where the grader's own state lives",
    "gc": "walked the garbage collector's object lists",
    "exec": "ran code built at run time (exec, eval or compile)",
    "code": "replaced or built a function's code object",
    "trace": "installed a trace, profile or audit hook",
    "thread": "started a thread while a graded function ran",
    "process": "started a process",
    "file": "opened a file outside the submission",
    "native": "shipped native code (a compiled extension or bytecode that bypasses the source)",
    "unreadable": "holds source the grader could not read",
}
MAX_RECORDS = 100
# Frame attributes that hand out frames, code or another frame's state.
_FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "gi_code", "cr_code", "ag_code",
                               "__code__", "f_back", "f_locals", "f_globals"})
_PROCESS_EVENTS = frozenset({"os.fork", "os.forkpty", "os.system", "os.exec", "os.spawn", "os.posix_spawn",
                             "subprocess.Popen", "pty.spawn", "nngrade.fork_exec"})
_TRACE_EVENTS = frozenset({"sys.settrace", "sys.setprofile", "sys.addaudithook", "setopencodehook",
                           "sys.monitoring.register_callback"})
# torch._C functions whose use from a student's own line is evidence (they change the
# dispatcher's registrations, torch's mode stacks, or thread-local dispatch keys).
TORCH_INTERNALS = ("_dispatch_library", "_push_on_torch_function_stack", "_pop_torch_function_stack",
                   "_push_on_torch_dispatch_stack", "_pop_torch_dispatch_stack", "_set_dispatch_mode",
                   "_unset_dispatch_mode", "_dispatch_tls_set_dispatch_key_excluded",
                   "_dispatch_tls_set_dispatch_key_included", "_dispatch_call_boxed")
_DEVICES = ("/dev/null", "/dev/urandom", "/dev/random", "/dev/zero")


@dataclass(frozen=True)
class Evidence:
    kind: str  # a key of KINDS
    detail: str  # what exactly, in a few words
    file: str  # relative to the submission ("" when no line of the student's could be named)
    line: int
    phase: str  # "source" (static scan), "import", "call" or "between" (between calls)

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(data) -> "Evidence":
        """From a worker's reply or a results.json: untrusted data, so every field is checked."""
        if not isinstance(data, dict):
            raise ValueError("evidence must be an object")
        kind, phase = str(data.get("kind", "")), str(data.get("phase", ""))
        line = data.get("line", 0)
        return Evidence(kind if kind in KINDS else "guard", str(data.get("detail", ""))[:300],
                        str(data.get("file", ""))[:300], line if isinstance(line, int) else 0, phase[:20])

    def describe(self) -> str:
        where = f"{self.file} line {self.line}: " if self.file else ""
        return f"{where}{KINDS.get(self.kind, self.kind)} ({self.detail})"


class Recorder:
    """Collects evidence in one worker; ``drain()`` hands over what is new since last time."""

    def __init__(self, workdir: str):
        self.workdir = os.path.realpath(workdir) + os.sep
        self.phase = "import"
        self._pending: list[dict] = []
        self._seen: set = set()
        self._files: dict[str, str | None] = {}
        self._grader = _grader_dirs()
        self.grader_package = self._grader[0]
        self._runtime = _runtime_dirs()
        import tempfile

        self._allowed = (self.workdir, os.path.realpath(tempfile.gettempdir()) + os.sep)
        self._checks: list[tuple[object, str, object]] = []  # (module, attribute, our wrapper)

    # ----------------------------------------------------------------- attribution

    def student_place(self, frame, skip=()) -> tuple[str, int] | None:
        """The student's (file, line) if ``frame`` (after frames in ``skip``) is theirs."""
        while frame is not None and skip and frame.f_code.co_filename.startswith(skip):
            frame = frame.f_back
        if frame is None:
            return None
        relative = self._relative(frame.f_code.co_filename)
        return (relative, frame.f_lineno) if relative is not None else None

    def _relative(self, filename: str) -> str | None:
        """The path within the submission of a frame's file, or None (remembered: a frame
        walk runs on every audited event, and resolving a path costs system calls)."""
        try:
            return self._files[filename]
        except KeyError:
            pass
        relative = None
        if not filename.startswith("<"):  # <frozen importlib...>, <string>: not a file of the student's
            full = os.path.realpath(filename)
            relative = full[len(self.workdir):] if full.startswith(self.workdir) else None
        if len(self._files) < 10_000:
            self._files[filename] = relative
        return relative

    def student_on_stack(self, frame) -> tuple[str, int] | None:
        while frame is not None:
            place = self.student_place(frame)
            if place is not None:
                return place
            frame = frame.f_back
        return None

    def student_not_importing(self, frame) -> tuple[str, int] | None:
        """The innermost student frame on the stack, unless what happens above it runs inside
        an import of a library it asked for (``import torch`` opens torch's own files, and
        may read /proc/self/maps or the source lines of frames below it): the student's
        import is not the student opening files."""
        importing = False
        while frame is not None:
            place = self.student_place(frame)
            if place is not None:
                return None if importing else place
            importing = importing or frame.f_code.co_filename.startswith("<frozen importlib")
            frame = frame.f_back
        return None

    def record(self, kind: str, detail: str, place: tuple[str, int] | None, always: bool = False) -> None:
        """Keep it if the student's code did it (``place``), or ``always``."""
        if place is None and not always:
            return
        file, line = place or ("", 0)
        key = (kind, file, line, detail)
        # Capped per reply, never for the worker's life: flooding evidence early must not
        # leave later tampering unrecorded.
        if key in self._seen or len(self._pending) >= MAX_RECORDS:
            return
        self._seen.add(key)
        self._pending.append(Evidence(kind, detail[:300], file, line, self.phase).to_dict())

    def drain(self) -> list[dict]:
        self.check()
        pending, self._pending = self._pending, []
        self._seen.clear()  # the same thing done in the next call must zero that test too
        return pending

    def check(self) -> None:
        """Our wrappers still in place (restoring the original is tampering too)."""
        for module, attribute, wrapper in self._checks:
            if getattr(module, attribute, None) is not wrapper:
                self.record("guard", f"restored {getattr(module, '__name__', '?')}.{attribute}, which the grader watches",
                            None, always=True)
                setattr(module, attribute, wrapper)

    def report_guard(self, what: str, frame) -> None:
        """For ``graders.integrity.dispatcher``: the guard's own switches were touched (only code run
        by the submission can do that, so it counts even where no line of theirs is found)."""
        self.record("guard", what, self.student_on_stack(frame) if frame is not None else None, always=True)

    # ----------------------------------------------------------------- files

    def outside(self, path) -> str | None:
        """The absolute path if opening it counts as outside the submission, else None."""
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return None  # a file descriptor: opened earlier, judged then
        full = os.path.realpath(path)
        if full.startswith(self._allowed) or full in _DEVICES or full.startswith("/dev/shm/"):
            return None
        # The most specific folder decides: a virtual environment inside the checkout is
        # the runtime (importing torch late is no tampering), the checkout around it is not.
        runtime = max((len(p) for p in self._runtime if full.startswith(p)), default=0)
        grader = max((len(p) for p in self._grader if full.startswith(p)), default=0)
        if runtime > grader:
            return None
        return full


def arm(workdir: str) -> Recorder:
    """Start recording in this worker (before the student's module is imported)."""
    recorder = Recorder(workdir)
    _wrap_threads_and_processes(recorder)
    _wrap_torch_internals(recorder)
    sys.addaudithook(_hook(recorder))
    return recorder


def _hook(recorder: Recorder):
    getframe, audited = sys._getframe, _handlers(recorder)
    import _thread

    ident, busy = _thread.get_ident, set()

    def hook(event, args):
        handler = audited.get(event)
        if handler is None:
            if not event.startswith("ctypes."):
                return
            handler = audited["ctypes"]
        me = ident()
        if me in busy:  # our own frame walk raises events too
            return
        busy.add(me)
        try:
            handler(event, args, getframe(1))
        except BaseException:  # noqa: BLE001 - an audit hook that raises breaks the operation
            pass
        finally:
            busy.discard(me)

    return hook


def _handlers(r: Recorder) -> dict:
    ctypes_dir = _module_dir("ctypes")
    inspect_file = _module_file("inspect")
    threading_file = _module_file("threading")
    torch_library = tuple(p for p in (_module_file("torch.library"), _module_dir("torch._library")) if p)

    def frames(event, args, frame):
        r.record("frames", event, r.student_place(frame, skip=(inspect_file,) if inspect_file else ()))

    def getattr_(event, args, frame):
        if len(args) > 1 and args[1] in _FRAME_ATTRIBUTES:
            r.record("frames", f"read .{args[1]}", r.student_place(frame))

    def setattr_(event, args, frame):
        if len(args) > 1:
            r.record("code", f"set .{args[1]}", r.student_place(frame))

    def direct(kind):
        def handler(event, args, frame):
            r.record(kind, event, r.student_place(frame))
        return handler

    def ctypes_(event, args, frame):
        r.record("ctypes", event, r.student_place(frame, skip=(ctypes_dir,) if ctypes_dir else ()))

    def trace(event, args, frame):
        r.record("trace", event, r.student_place(frame, skip=(threading_file,) if threading_file else ()))

    def imported(event, args, frame):
        module = str(args[0]) if args else ""
        if module == "graders" or module.startswith("graders."):
            r.record("grader", f"import {module}", r.student_on_stack(frame))

    def opened(event, args, frame):
        path = r.outside(args[0]) if args else None
        if path is not None:
            # The grader's own files (importlib.import_module raises no "import" event).
            if path.startswith(r.grader_package):
                # Loading a grader module is tampering however it is spelled; its source read
                # for a traceback or warning while a library imports is not.
                loading = frame is not None and frame.f_code.co_filename.startswith("<frozen importlib")
                r.record("grader", f"opened {path}", r.student_on_stack(frame) if loading
                         else r.student_not_importing(frame))
            else:
                r.record("file", f"opened {path}", r.student_not_importing(frame))

    def process(event, args, frame):
        frame = frame.f_back if event.startswith("nngrade.") else frame
        r.record("process", event, r.student_on_stack(frame), always=r.phase == "call")

    def thread(event, args, frame):
        r.record("thread", "a new thread", r.student_on_stack(frame.f_back), always=r.phase == "call")

    def torch_internals(event, args, frame):
        name = str(args[0]) if args else "?"
        skip = torch_library if name == "_dispatch_library" else ()
        r.record("torch_internals", f"torch._C.{name}", r.student_place(frame.f_back, skip=skip))

    handlers = {"sys._getframe": frames, "sys._current_frames": frames, "object.__getattr__": getattr_,
                "object.__setattr__": setattr_, "gc.get_objects": direct("gc"),
                "gc.get_referrers": direct("gc"), "gc.get_referents": direct("gc"), "ctypes": ctypes_,
                "exec": direct("exec"), "compile": direct("exec"), "marshal.loads": direct("exec"),
                "code.__new__": direct("code"), "function.__new__": direct("code"), "import": imported,
                "open": opened, "nngrade.start_thread": thread, "nngrade.torch_internals": torch_internals}
    handlers.update({event: trace for event in _TRACE_EVENTS})
    handlers.update({event: process for event in _PROCESS_EVENTS})
    return handlers


def _wrap_threads_and_processes(recorder: Recorder) -> None:
    """Python 3.11 raises no audit event for a new thread, nor for the fork_exec that
    multiprocessing uses: give them one."""
    import _posixsubprocess
    import _thread
    import threading

    audit = sys.audit
    start = _thread.start_new_thread

    def start_new_thread(function, args, kwargs=None):
        audit("nngrade.start_thread")
        return start(function, args, kwargs) if kwargs is not None else start(function, args)

    fork_exec = _posixsubprocess.fork_exec

    def audited_fork_exec(*args, **kwargs):
        audit("nngrade.fork_exec")
        return fork_exec(*args, **kwargs)

    for module, attribute, wrapper in ((_thread, "start_new_thread", start_new_thread),
                                       (_thread, "start_new", start_new_thread),
                                       (threading, "_start_new_thread", start_new_thread),
                                       (_posixsubprocess, "fork_exec", audited_fork_exec)):
        if hasattr(module, attribute):
            setattr(module, attribute, wrapper)
            recorder._checks.append((module, attribute, wrapper))


def _wrap_torch_internals(recorder: Recorder) -> None:
    torch = sys.modules.get("torch")
    if torch is None:
        return
    audit = sys.audit

    def audited(name, original):
        def wrapper(*args, **kwargs):
            audit("nngrade.torch_internals", name)
            return original(*args, **kwargs)
        return wrapper

    for name in TORCH_INTERNALS:
        original = getattr(torch._C, name, None)
        if original is not None:
            wrapper = audited(name, original)
            setattr(torch._C, name, wrapper)
            recorder._checks.append((torch._C, name, wrapper))


def hide_grader() -> list:
    """Drop the grader's modules from ``sys.modules``: a submission's ``import graders...``
    then loads a fresh, unused copy (and is recorded). Returns the modules dropped, for the
    worker to hold: freed here, the modules only sys.modules held would be torn down in the
    middle of the worker's start.

    The names come from the zygote (``warm_up``) while sys.modules is as it left it:
    walking all of sys.modules in a fresh worker writes to every module name's reference
    count, a copy-on-write fault per page (3-4 ms of each worker's start)."""
    names = _grader_modules[1] if len(sys.modules) == _grader_modules[0] else _grader_module_names()
    return [sys.modules.pop(name) for name in names if name in sys.modules]


def _grader_module_names() -> list[str]:
    return [n for n in sys.modules if n == "graders" or n.startswith("graders.")]


_grader_modules: tuple[int, list[str]] = (-1, [])  # (len(sys.modules), the grader's modules) when warmed


def warm_up() -> None:
    """In the zygote: what every worker's ``Recorder`` would otherwise work out again
    (sysconfig's paths alone take 4 ms of each worker's start)."""
    global _grader_modules
    _runtime_dirs()
    _grader_modules = (len(sys.modules), _grader_module_names())


@functools.lru_cache(maxsize=1)
def _grader_dirs() -> tuple[str, str]:
    """The graders package, and the folder that holds it."""
    grader = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    return grader + os.sep, os.path.dirname(grader) + os.sep


@functools.lru_cache(maxsize=1)  # the same in every worker: computed once, in the zygote (warm_up)
def _runtime_dirs() -> tuple[str, ...]:
    """Where the Python runtime and installed packages live: their files are the runtime's."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    installed = sysconfig.get_paths()
    paths.update(installed[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in installed)
    for module in ("numpy", "torch"):
        folder = _module_dir(module)
        if folder:
            paths.add(os.path.dirname(folder.rstrip(os.sep)))
    return tuple(sorted({os.path.realpath(p) + os.sep for p in paths if p} - set(_grader_dirs())))


def _module_dir(name: str) -> str:
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    return os.path.dirname(path) + os.sep if path else ""


def _module_file(name: str) -> str:
    module = sys.modules.get(name)
    return getattr(module, "__file__", None) or ""
