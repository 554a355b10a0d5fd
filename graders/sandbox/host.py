"""The trusted side of a worker: start it from the zygote, talk to it, bound it, kill it."""
from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from graders.sandbox import isolation, protocol, submission
from graders.grading.hidden import mutation_failure
from graders.sandbox.submission import SubmissionNotLoaded  # noqa: F401 - raised from here too


@dataclass(frozen=True)
class Limits:
    call_seconds: float = 10.0
    submission_seconds: float = 300.0
    memory_mb: int = 2048
    output_kb: int = 64
    file_mb: int = 64
    processes: int = 64  # processes and threads, at every sandboxed level
    reply_mb: int = 64  # the most a worker may send back during one test (bounds the grader's memory)
    gpu_memory_mb: int = 4096  # GPU memory one worker may take (CUDA workers only)
    cuda_start_seconds: float = 60.0  # CUDA's own start in a worker, before and apart from call_seconds

    @property
    def cpu_seconds(self) -> int:
        return int(self.submission_seconds) + 1


MAX_CALLBACKS = 5000  # reference answers one call may ask for in a cascade re-run


class GraderProblem(RuntimeError):
    """The grader, not the submission, could not run a test (CUDA unusable in the worker,
    say): reported as a grader error, never as the student's fault."""


class WorkerFailure(Exception):
    """The worker could not answer: it timed out, died or broke the protocol."""

    def __init__(self, message: str, limit: str | None = None):
        super().__init__(message)
        self.message = message
        self.limit = limit  # which limit was hit, if one was


# --------------------------------------------------------------------------- zygote

class Zygote:
    """A warm interpreter (numpy and torch imported) that forks workers on request.

    Starting it returns at once; the first request waits until it is warm, so the caller's
    own imports (torch, the hidden tests, the reference) overlap with the zygote's."""

    def __init__(self, start_timeout: float = 300.0, with_torch: bool = True,
                 control: socket.socket | None = None):
        """``control``: this process's socket to a zygote started elsewhere (forked for it
        by the batch's ``SharedZygotes``) instead of starting one."""
        if control is None:
            self._process, control = _start_zygote_process(with_torch)
        else:
            self._process = None
        self._control = control
        self._lock = threading.Lock()
        self._start_timeout = start_timeout
        self._ready = False
        self.pid: int | None = None  # known once it is warm

    def wait_ready(self) -> None:
        """Block until the zygote is warm (its first message); raise if it never will be."""
        with self._lock:
            self._await_ready()

    def _await_ready(self) -> None:
        if self._ready:
            return
        self._control.settimeout(self._start_timeout)
        try:
            ready = self._control.recv(1 << 16)
        except OSError:
            ready = b""
        if not ready:
            self.close()
            raise RuntimeError("the worker zygote failed to start (could numpy and torch be imported?)")
        self._control.settimeout(30)
        self.pid = json.loads(ready)["pid"]
        self._ready = True

    def spawn(self, request: dict, worker_fd: int, output_fd: int) -> int:
        with self._lock:
            self._await_ready()
            socket.send_fds(self._control, [json.dumps({"op": "spawn", **request}).encode()],
                            [worker_fd, output_fd])
            reply = json.loads(self._control.recv(1 << 16))
        if "error" in reply:
            raise isolation.IsolationUnavailable(f"the worker's sandbox could not be set up: {reply['error']}")
        return reply["pid"]

    def exit_status(self, pid: int, wait: float = 1.0) -> int | None:
        """The worker's wait status once the zygote has reaped it, or None if still unknown."""
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                self._await_ready()
                self._control.sendall(json.dumps({"op": "status", "pid": pid}).encode())
                status = json.loads(self._control.recv(1 << 16))["status"]
            if status is not None or time.monotonic() > deadline:
                return status
            time.sleep(0.01)

    def kill_leftovers(self) -> None:
        """SIGKILL every process left under the zygote: it adopts its workers' orphans,
        and it runs one worker at a time, so once that worker is closed all must go."""
        with self._lock:
            self._await_ready()
            self._control.sendall(json.dumps({"op": "kill_leftovers"}).encode())
            self._control.recv(1 << 16)

    def alive(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        # Not this process's child: alive while it holds its end of the socket open.
        if self._control.fileno() < 0:
            return False
        poller = select.poll()
        poller.register(self._control, select.POLLHUP | select.POLLERR)
        return not poller.poll(0)

    def close(self) -> None:
        if self._process is None:
            self._control.close()  # it ends when we hang up; its parent, SharedZygotes, reaps it
        else:
            _hang_up(self._control, self._process, 5)


class SharedZygotes:
    """One warm interpreter for a whole local batch, which forks a zygote for each grading
    process: torch is imported once per batch instead of once per pool process, and each
    forked zygote serves its process alone, exactly as one it had started itself.

    ``connect(environment)`` returns the grading process's end of a new zygote's socket
    (hand it to ``adopt``); it can be called at once, before the interpreter is warm."""

    def __init__(self, with_torch: bool = True):
        self.with_torch = with_torch
        self._process, self._control = _start_zygote_process(with_torch, shared=True)
        self._lock = threading.Lock()

    def connect(self, environment: dict | None = None) -> socket.socket:
        """``environment``: GPU variables (``isolation.GPU_VARIABLES``) for that zygote."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with self._lock:
                socket.send_fds(self._control, [json.dumps({"environment": environment or {}}).encode()],
                                [theirs.fileno()])
        finally:
            theirs.close()
        return ours

    def close(self) -> None:
        """Every zygote it forked ends with it, and whatever is left under them."""
        _hang_up(self._control, self._process, 10)


def _hang_up(control: socket.socket, process: subprocess.Popen, wait: float) -> None:
    """End a zygote process we started: it ends when its control socket closes (killing
    what is left under it); killed if it has not within ``wait`` seconds."""
    control.close()
    try:
        process.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _start_zygote_process(with_torch: bool, shared: bool = False) -> tuple[subprocess.Popen, socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    root = str(Path(__file__).resolve().parents[2])
    bootstrap = f"import sys; sys.path.insert(0, {root!r}); from graders.sandbox.zygote import main; main()"
    # Not -I: its -E would ignore PYTHONHASHSEED. The environment is ours alone anyway
    # (_clean_environment), and -s -P keep user site-packages and the cwd off sys.path.
    command = [sys.executable, "-s", "-P", "-c", bootstrap, str(theirs.fileno()), "torch" if with_torch else "numpy"]
    try:
        process = subprocess.Popen(command + (["shared"] if shared else []), pass_fds=[theirs.fileno()],
                                   env=_clean_environment(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   start_new_session=True)
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return process, ours


_zygotes: dict[bool, Zygote] = {}
_zygote_pid: int | None = None


def adopt(control: socket.socket, with_torch: bool = True) -> None:
    """Make the zygote at the other end of ``control`` (from ``SharedZygotes.connect``)
    this process's, for the kind of assignment it was warmed for."""
    global _zygote_pid
    if _zygote_pid != os.getpid():
        _zygotes.clear()
        _zygote_pid = os.getpid()
    _zygotes[with_torch] = zygote = Zygote(with_torch=with_torch, control=control)
    atexit.register(zygote.close)


def shared_zygote(with_torch: bool = True, wait: bool = True) -> Zygote:
    """This process's zygote (one with torch imported, one without for NumPy assignments),
    started on first use, and again if it died or this process was forked. ``wait=False``
    starts it and returns at once: call it early, so that it warms up alongside whatever
    this process does before its first worker."""
    global _zygote_pid
    if _zygote_pid != os.getpid():
        _zygotes.clear()
        _zygote_pid = os.getpid()
    zygote = _zygotes.get(with_torch)
    if zygote is None or not zygote.alive():
        zygote = _zygotes[with_torch] = Zygote(with_torch=with_torch)
        atexit.register(zygote.close)
    if wait:
        zygote.wait_ready()
    return zygote


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (its CPU affinity), or [] where the OS does not tell."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return []


def _clean_environment() -> dict:
    keep = ("PATH", "LANG", "LC_ALL", "LD_LIBRARY_PATH", *isolation.GPU_VARIABLES)
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["OMP_NUM_THREADS"] = "1"
    # Set before the zygote's interpreter starts, so it takes effect there and in every
    # worker forked from it: a set's order is the same on every regrade.
    env["PYTHONHASHSEED"] = "0"
    # malloc's heap in transparent huge pages: torch's hundred megabytes of it then take
    # a few hundred page-table entries instead of tens of thousands, which every worker's
    # fork copies and every worker's exit tears down (fork and reap of a torch zygote:
    # ~23 ms with 4 KiB pages, ~14 ms with this). Ignored where THP is off.
    env["GLIBC_TUNABLES"] = "glibc.malloc.hugetlb=1"
    return env


# --------------------------------------------------------------------------- worker

class Worker:
    """One submission imported in one sandboxed process."""

    evidence: tuple = ()  # possible tampering the worker reported, as plain dicts, in order

    def __init__(self, submission_dir: Path, module: str, limits: Limits, gpu: bool = False,
                 deadline: float | None = None, with_torch: bool = True):
        """``gpu``: whether the worker may use CUDA (its device nodes are then visible).
        ``deadline`` (``time.monotonic()``): when the submission's time is up; no call
        outlasts it, whatever the per-call limit."""
        self.limits = limits
        self.deadline = deadline
        self.module = module
        self.isolation = isolation.level()
        self.gpu = gpu
        self.output = _OutputCollector(limits.output_kb * 1024)
        self._zygote = shared_zygote(with_torch)
        self._box = isolation.Box.create()
        self._pid = None
        self._sock = None
        self.load_error: dict | None = None
        self.warnings: list[dict] = []  # what the student's code warned, reply by reply (worker._recorded_warnings)
        try:
            self.selection = submission.select(submission_dir)
            submission.copy(self.selection, self._box.workdir)
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        read_end, write_end = os.pipe()
        uid = isolation.identity() if self.isolation != isolation.NONE else None
        self._box.hand_to(uid)
        spec = self._box.spec(self.isolation, uid, self.limits.processes, self.limits.file_mb << 20, self.gpu)
        request = {"module": self.module, "workdir": spec["workdir"], "isolation": spec, "limits": {
            "cpu_seconds": self.limits.cpu_seconds, "file_bytes": self.limits.file_mb << 20,
            "memory_bytes": self.limits.memory_mb << 20, "gpu_memory_bytes": self.limits.gpu_memory_mb << 20},
            # The zygote, and the worker it forks, run where this process may (zygote._follow_cpus).
            "cpus": usable_cpus()}
        try:
            self._pid = self._zygote.spawn(request, theirs.fileno(), write_end)
        finally:
            theirs.close()
            os.close(write_end)
        self._sock = ours
        self.output.start(read_end)
        # CUDA starts before the import, on its own budget: a student's first call is not
        # charged for it.
        start = self.limits.call_seconds + (self.limits.cuda_start_seconds if self.gpu else 0)
        reply = self._receive(start, f"importing {self.module}.py")
        self._keep_warnings(reply)
        if not reply["ok"]:
            _raise_grader_problem(reply["error"])  # only the first reply, sent before any student code ran
            self.load_error = reply["error"]

    def call(self, function: str, args: tuple, kwargs: dict, forbidden=(), probe: str | None = None,
             budget: "ByteBudget | None" = None, callbacks: dict | None = None):
        """Run ``function`` in the worker under the ``forbidden`` API groups (or a trusted
        ``probe`` of it, see ``graders.grading.probes``); raise what the student's code raised.
        ``budget``: the bytes the worker may still send back in this test.

        ``callbacks`` ({name: trusted function}, for a cascade re-run) replace the student's
        functions of those names while the call runs: the worker asks, this side answers."""
        if self._sock is None:
            raise WorkerFailure("the worker has already stopped")
        try:
            protocol.write_message(self._sock, {"op": "call", "function": function, "args": list(args),
                                                "kwargs": dict(kwargs), "forbidden": list(forbidden),
                                                "probe": probe, "substitute": sorted(callbacks or ())})
        except OSError:
            raise self._failure(f"running {function}()") from None
        reply = self._receive(self.limits.call_seconds, f"running {function}()", budget)
        answered, deadline = 0, time.monotonic() + self.limits.call_seconds
        while reply.get("op") == "callback":
            if not callbacks or reply.get("function") not in callbacks or answered >= MAX_CALLBACKS \
                    or time.monotonic() > deadline:
                self.kill()
                raise WorkerFailure(f"the worker asked for a reference function it may not have while running "
                                    f"{function}()", limit="call_seconds" if time.monotonic() > deadline else None)
            self._answer(reply, callbacks[reply["function"]], function)
            answered += 1
            reply = self._receive(self.limits.call_seconds, f"running {function}()", budget)
        evidence = reply.get("evidence")
        if evidence:  # what the worker recorded as possible tampering (graders.integrity.tamper): untrusted data
            items = evidence[:tamper_cap()] if isinstance(evidence, list) else [{"detail": "evidence in a broken form"}]
            self.evidence = (*self.evidence, *items)
        self._keep_warnings(reply)
        if not reply.get("ok"):
            error = reply["error"]
            if isinstance(error, dict) and error.get("grader"):
                # Claimed after the submission's code ran, so not to be believed as the grader's
                # problem: the test fails, with what the worker said.
                raise WorkerFailure(f"the worker could not run {function}(): {error.get('message', '')}")
            raise protocol.StudentError(function, error["type"], error["message"], error.get("traceback", ""),
                                        error.get("group", ""), error.get("limit"), error.get("kinds"))
        if reply.get("mutated"):
            raise mutation_failure(function, reply["mutated"])
        return reply.get("value")

    def _answer(self, request: dict, trusted, function: str) -> None:
        """Run a trusted function on the worker's arguments (plain data only: handles stay
        handles) and send its result or its error back."""
        args, kwargs = request.get("args"), request.get("kwargs")
        try:
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise TypeError("malformed arguments")
            answer = {"ok": True, "value": trusted(*args, **kwargs)}
            protocol.encode(answer)  # an answer that cannot be sent is an error, not a broken frame
        except Exception as error:  # noqa: BLE001 - the reference refusing a student's data is an answer
            answer = {"ok": False, "error": f"{type(error).__name__}: {str(error)[:300]}"}
        try:
            protocol.write_message(self._sock, answer)
        except OSError:
            raise self._failure(f"running {function}()") from None

    def _keep_warnings(self, reply: dict) -> None:
        found = reply.get("warnings")
        if isinstance(found, list):
            self.warnings += [w for w in found[:20] if isinstance(w, dict)]

    def _receive(self, timeout: float, during: str, budget: "ByteBudget | None" = None) -> dict:
        deadline, limit = time.monotonic() + timeout, "call_seconds"
        if self.deadline is not None and self.deadline < deadline:
            deadline, limit = self.deadline, "submission_seconds"
        budget = budget or ByteBudget(self.limits.reply_mb << 20)
        try:
            reply = protocol.read_message(self._sock, deadline=deadline, max_bytes=budget.left, on_frame=budget.spend)
        except socket.timeout:
            self.kill()
            if limit == "submission_seconds":
                raise WorkerFailure(f"ran out of the submission's {self.limits.submission_seconds:g} s while "
                                    f"{during} (the per-submission time limit)", limit=limit) from None
            raise WorkerFailure(f"timed out after {timeout:g} s while {during} "
                                f"(the per-call time limit)", limit=limit) from None
        except protocol.MessageTooLarge:
            self.kill()
            raise WorkerFailure(f"sent back more than {self.limits.reply_mb} MiB in one test while {during} "
                                "(the reply size limit)", limit="reply_mb") from None
        except protocol.ProtocolError as error:
            raise self._failure(during, error) from None
        except (EOFError, OSError) as error:
            raise self._failure(during, error) from None
        if not isinstance(reply, dict) or ("ok" not in reply and reply.get("op") != "callback"):
            self.kill()
            raise WorkerFailure(f"the worker sent a malformed reply while {during}")
        return reply

    def _failure(self, during: str, cause=None) -> WorkerFailure:
        if isinstance(cause, protocol.ProtocolError):
            self.kill()
            return WorkerFailure(f"the worker broke the result protocol while {during}: {cause}")
        # The worker hung up: it is ending. Give the zygote a moment to reap it, so the
        # message can say how it ended, before killing what is left.
        status = self._zygote.exit_status(self._pid, wait=1.0) if self._pid else None
        self.kill()
        if status is None and self._pid:
            status = self._zygote.exit_status(self._pid)
        return _describe_exit(status, during, self.limits)

    def kill(self) -> None:
        if self._pid is not None:
            try:
                os.killpg(self._pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        self.kill()
        self._zygote.kill_leftovers()  # daemons and setsid() escapees, adopted by the zygote
        self.output.stop()
        self._box.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ByteBudget:
    """What a worker may still send back in one test."""

    def __init__(self, total: int):
        self.left = total

    def spend(self, count: int) -> None:
        self.left = max(0, self.left - count)


class RemoteImpl:
    """The ``impl`` fixture for a student, one per test: attribute access calls into the
    worker, and all its replies together stay within the ``reply_mb`` limit.

    ``forbidden_for(name)`` gives the API groups refused while ``name`` runs."""

    def __init__(self, worker: Worker, forbidden_for=lambda name: ()):
        self._worker = worker
        self._forbidden_for = forbidden_for
        self._budget = ByteBudget(worker.limits.reply_mb << 20)

    def probe(self, kind: str, target: str, *args):
        return self._worker.call(target, args, {}, self._forbidden_for(target), probe=kind, budget=self._budget)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            return self._worker.call(name, args, kwargs, self._forbidden_for(name), budget=self._budget)

        call.__name__ = name
        return call


def tamper_cap() -> int:
    from graders.integrity import tamper

    return tamper.MAX_RECORDS


def _raise_grader_problem(error: dict) -> None:
    if isinstance(error, dict) and error.get("grader"):
        raise GraderProblem(str(error.get("message", "the worker reported a problem of the grader's")))


def _describe_exit(status: int | None, during: str, limits: Limits) -> WorkerFailure:
    if status is None:
        return WorkerFailure(f"the worker stopped answering while {during}")
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        return WorkerFailure(f"the process exited with code {code} while {during} "
                             "(os._exit or a crash in native code)")
    signum = os.WTERMSIG(status)
    if signum == signal.SIGXCPU:
        return WorkerFailure(f"hit the CPU-time limit of {limits.cpu_seconds} s while {during}",
                             limit="submission_seconds")
    if signum == signal.SIGXFSZ:
        return WorkerFailure(f"wrote a file larger than {limits.file_mb} MiB while {during}",
                             limit="file_mb")
    name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else str(signum)
    return WorkerFailure(f"the process was killed by {name} while {during}")


class _OutputCollector:
    """Keeps the first ``cap`` bytes a worker prints and counts the rest."""

    def __init__(self, cap: int):
        self.cap = cap
        self.kept = bytearray()
        self.total = 0
        self.lines = 0
        self._fd = None
        self._thread = None

    def start(self, fd: int) -> None:
        self._fd = fd
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.total += len(chunk)
            self.lines += chunk.count(b"\n")
            room = self.cap - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def text(self) -> str:
        text = self.kept.decode("utf-8", "replace")
        if self.total > len(self.kept):
            text += f"\n[... {self.total - len(self.kept)} more bytes of output cut: the output limit is {self.cap // 1024} KiB]"
        return text
