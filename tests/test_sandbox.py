"""The worker's limits: memory, process group, output, and nothing left behind."""
import os
import time

import pytest

from conftest import alive, within

from graders.sandbox.protocol import StudentError
from graders.sandbox.host import Limits, RemoteImpl, Worker, WorkerFailure

MODULE = """
import subprocess
import numpy as np

def allocate(gigabytes):
    return np.ones(int(gigabytes * 2**30) // 8).sum()

def spawn_sleeper():
    return subprocess.Popen(["sleep", "31337"]).pid

def where_am_i():
    import os
    return os.getcwd(), sorted(os.environ)

def burn():
    while True:
        pass

def trickle():
    import os, stat, struct, time
    control = next(fd for fd in range(3, 256) if _is_socket(fd))
    header = b" " * 98 + b"{}"
    os.write(control, struct.pack("<QII", 4 + 2 + len(header), len(header), 2) + b"[]")  # a well-formed frame...
    for byte in header:  # ...whose body comes a byte at a time
        os.write(control, bytes([byte]))
        time.sleep(0.25)

def _is_socket(fd):
    import os, stat
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False

def huge():
    return np.broadcast_to(np.zeros(1), (2**25,))  # 256 MiB once made contiguous for the wire

def nap(seconds):
    import time
    time.sleep(seconds)

def write(megabytes):
    with open("big.bin", "wb") as handle:
        for _ in range(megabytes):
            handle.write(b"\\0" * 2**20)
    return megabytes
"""


@pytest.fixture
def worker(make_submission):
    folder = make_submission("s", {"mod.py": MODULE})
    with Worker(folder, "mod", Limits(call_seconds=5, memory_mb=256)) as started:
        yield started


def test_memory_limit_turns_a_memory_bomb_into_an_error(worker):
    with pytest.raises(StudentError, match="memory"):
        RemoteImpl(worker).allocate(4)
    assert RemoteImpl(worker).allocate(0.01) > 0  # the worker survives and answers


def test_processes_the_submission_starts_die_with_its_worker(make_submission):
    # Pids inside the worker's own PID namespace mean nothing here: look for the command.
    with Worker(make_submission("s", {"mod.py": MODULE}), "mod", Limits()) as worker:
        RemoteImpl(worker).spawn_sleeper()
        # Popen returns once exec has closed its error pipe, a moment before the kernel
        # fills in the new program's arguments: give the command line time to show.
        assert within(5, _sleepers)
    assert within(5, lambda: not _sleepers())  # a namespace is emptied in the kernel's own time


def test_worker_runs_in_a_private_folder_with_a_scrubbed_environment(worker):
    cwd, names = RemoteImpl(worker).where_am_i()
    assert "nngrade-box-" in cwd
    assert set(names) <= {"HOME", "TMPDIR", "PATH", "LANG", "OMP_NUM_THREADS", "PYTHONHASHSEED"}


def test_a_busy_loop_is_stopped_at_the_call_limit(make_submission):
    with Worker(make_submission("s", {"mod.py": MODULE}), "mod", Limits(call_seconds=1)) as worker:
        started = time.monotonic()
        with pytest.raises(WorkerFailure, match="timed out after 1 s"):
            RemoteImpl(worker).burn()
        assert time.monotonic() - started < 5


def test_a_reply_trickled_a_byte_at_a_time_is_cut_at_the_call_limit(make_submission):
    with Worker(make_submission("s", {"mod.py": MODULE}), "mod", Limits(call_seconds=2)) as worker:
        started = time.monotonic()
        with pytest.raises(WorkerFailure, match="timed out after 2 s") as failure:
            RemoteImpl(worker).trickle()
        assert failure.value.limit == "call_seconds" and time.monotonic() - started < 4


def test_a_huge_reply_is_refused_unread_and_names_the_limit(make_submission):
    with Worker(make_submission("s", {"mod.py": MODULE}), "mod", Limits(reply_mb=8)) as worker:
        before = _peak_memory()
        with pytest.raises(WorkerFailure, match="more than 8 MiB") as failure:
            RemoteImpl(worker).huge()
        assert failure.value.limit == "reply_mb"
        assert _peak_memory() - before < 64 << 20  # the 256 MiB never reached the grader


def test_no_call_outlasts_the_submission_time(make_submission):
    deadline = time.monotonic() + 2
    with Worker(make_submission("s", {"mod.py": MODULE}), "mod", Limits(call_seconds=30), deadline=deadline) as worker:
        with pytest.raises(WorkerFailure, match="per-submission time limit") as failure:
            RemoteImpl(worker).nap(20)
        assert failure.value.limit == "submission_seconds" and time.monotonic() < deadline + 2


def test_cpu_time_past_the_submission_time_is_reported_as_that_limit(make_submission):
    """RLIMIT_CPU is the submission's time plus a second: a worker that burns CPU beyond it
    with no wall-clock deadline to stop it first is killed by SIGXCPU, and that reads as the
    submission's time limit, not as a crash."""
    limits = Limits(call_seconds=60, submission_seconds=1)
    with Worker(make_submission("s", {"mod.py": MODULE}), "mod", limits) as worker:
        started = time.monotonic()
        with pytest.raises(WorkerFailure, match=f"hit the CPU-time limit of {limits.cpu_seconds} s") as failure:
            RemoteImpl(worker).burn()
        assert failure.value.limit == "submission_seconds" and time.monotonic() - started < 30


def test_writing_past_the_file_size_limit_names_that_limit(make_submission):
    """Python ignores SIGXFSZ: the write fails in the student's call (it does not kill the
    worker), and that failure must still name the limit, as feedback and limits_hit do."""
    with Worker(make_submission("s", {"mod.py": MODULE}), "mod", Limits(file_mb=1)) as worker:
        assert RemoteImpl(worker).write(1) == 1  # up to the limit is allowed
        with pytest.raises(StudentError, match="past the worker's file-size limit") as failure:
            RemoteImpl(worker).write(3)
        assert failure.value.limit == "file_mb"
        assert RemoteImpl(worker).write(1) == 1  # and the worker goes on


def _peak_memory() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


def _sleepers() -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if cmdline.read() == b"sleep\x0031337\x00" and alive(int(entry)):
                    found.append(entry)
        except (OSError, ValueError):
            pass
    return found




WARM = """
import gc
import sys

import torch

def dynamo_loaded():
    return "torch._dynamo" in sys.modules

def optimizer_step():
    w = torch.ones(1, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1)
    (2 * w).sum().backward()
    optimizer.step()  # torch wraps it in _disable_dynamo, which imports torch._dynamo
    return w.item()

def frozen_objects():
    return gc.get_freeze_count()

def imported_by_common_calls():
    before = set(sys.modules)
    import numpy.random
    numpy.random.default_rng(0).normal(size=3)
    x = torch.ones(3, requires_grad=True)
    torch.autograd.grad((2 * x).sum(), x, torch.tensor(1.0))  # imports symbolic shapes and sympy
    return sorted(set(sys.modules) - before)
"""


def test_torch_dynamo_is_left_to_the_call_that_needs_it(make_submission):
    """The zygote does not import torch._dynamo (a second of every start); a call that
    reaches it imports it inside the sandbox, under the guard, and is not flagged for it."""
    with Worker(make_submission("s", {"warm.py": WARM}), "warm", Limits(call_seconds=60)) as worker:
        assert worker.call("dynamo_loaded", (), {}) is False
        assert worker.call("optimizer_step", (), {}, ["torch.sigmoid"]) == pytest.approx(0.8)
        assert worker.call("dynamo_loaded", (), {}) is True
        assert worker.evidence == ()


def test_a_worker_finds_what_common_calls_import_already_imported(make_submission):
    """numpy.random and what autograd.grad imports (half a second) come with the zygote,
    not in some student's call: the zygote imports the slow part while its first worker runs."""
    folder = make_submission("s", {"warm.py": WARM})
    with Worker(folder, "warm", Limits(call_seconds=60)):
        pass
    with Worker(folder, "warm", Limits(call_seconds=60)) as worker:
        assert worker.call("imported_by_common_calls", (), {}) == []


@pytest.mark.parametrize("with_torch", [True, False])
def test_a_worker_inherits_the_zygote_heap_frozen(make_submission, with_torch):
    """Its garbage collections skip what the zygote imported: a full collection of torch's
    objects (and the copy of every page it touches) would land in some student's call."""
    source = WARM if with_torch else "import gc\n\ndef frozen_objects():\n    return gc.get_freeze_count()\n"
    with Worker(make_submission("s", {"warm.py": source}), "warm", Limits(), with_torch=with_torch) as worker:
        assert worker.call("frozen_objects", (), {}) > 10_000


@pytest.mark.parametrize("with_torch", [True, False])
def test_the_graders_modules_are_out_of_the_submissions_sight(make_submission, with_torch):
    """Neither at import nor in a call, in the zygote's first worker (forked before its
    second warm-up) or in later ones: the names the zygote noted are still all of them."""
    source = ("import sys\n\nAT_IMPORT = sorted(n for n in sys.modules if n.split('.')[0] == 'graders')\n\n"
              "def seen():\n    return AT_IMPORT, sorted(n for n in sys.modules if n.split('.')[0] == 'graders')\n")
    folder = make_submission("s", {"look.py": source})
    for _ in range(3):
        with Worker(folder, "look", Limits(), with_torch=with_torch) as worker:
            assert worker.call("seen", (), {}) == ([], [])
        time.sleep(0.5)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs two usable CPUs")
def test_a_worker_runs_on_the_cpus_of_the_process_that_grades_it(make_submission):
    """A pool process keeps to one CPU (executors.LocalExecutor): its worker, forked by a
    zygote that was started before, follows it there, and back when it may run anywhere."""
    folder = make_submission("s", {"cpus.py": "import os\n\ndef cpus():\n    return sorted(os.sched_getaffinity(0))\n"})
    everywhere = sorted(os.sched_getaffinity(0))
    try:
        os.sched_setaffinity(0, everywhere[-1:])
        with Worker(folder, "cpus", Limits()) as worker:
            assert worker.call("cpus", (), {}) == everywhere[-1:]
    finally:
        os.sched_setaffinity(0, everywhere)
    with Worker(folder, "cpus", Limits()) as worker:
        assert worker.call("cpus", (), {}) == everywhere


def test_a_zygote_warms_up_while_its_starter_goes_on(monkeypatch):
    """Starting one returns at once (the grader imports torch meanwhile); the first
    request waits for it, and one that cannot start says so then."""
    from graders.sandbox.host import Zygote

    zygote = Zygote(with_torch=True)
    try:
        assert not zygote._ready  # importing torch takes the better part of a second
        zygote.wait_ready()
        assert zygote._ready and zygote.alive()
    finally:
        zygote.close()
    monkeypatch.setattr("sys.executable", "/bin/false")
    broken = Zygote(with_torch=False)
    with pytest.raises(RuntimeError, match="zygote failed to start"):
        broken.kill_leftovers()


def test_zygotes_forked_by_one_interpreter_keep_to_their_own_workers(make_submission, monkeypatch):
    """A batch's pool processes take their zygotes from one warm interpreter; each zygote
    still answers for its own workers alone: closing one worker's zygote session kills
    what that worker left, never another grading process's worker or what it started."""
    from conftest import ROOT  # noqa: F401 - the tests folder is on sys.path
    from graders.sandbox import host

    monkeypatch.setattr(host, "_zygotes", {})
    shared = host.SharedZygotes(with_torch=False)
    try:
        folder = make_submission("s", {"mod.py": MODULE})
        host.adopt(shared.connect(), with_torch=False)
        first = Worker(folder, "mod", Limits(), with_torch=False)
        host.adopt(shared.connect(), with_torch=False)
        second = Worker(folder, "mod", Limits(), with_torch=False)
        assert first._zygote.pid != second._zygote.pid
        assert {_parent(first._zygote.pid), _parent(second._zygote.pid)} == {shared._process.pid}
        RemoteImpl(first).spawn_sleeper()
        assert within(5, _sleepers)
        second.close()
        assert _sleepers() and RemoteImpl(first).allocate(0.001) > 0  # untouched by the other's cleanup
        first.close()
        assert within(5, lambda: not _sleepers())
        zygotes = (first._zygote, second._zygote)
    finally:
        shared.close()
    assert not any(zygote.alive() or alive(zygote.pid) for zygote in zygotes)


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])
