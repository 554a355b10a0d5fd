"""The worker's limits: memory, process group, output, and nothing left behind."""
import os
import time

import pytest

from conftest import alive

from graders.protocol import StudentError
from graders.sandbox import Limits, RemoteImpl, Worker, WorkerFailure

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
        assert _sleepers()
    deadline = time.monotonic() + 5
    while _sleepers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _sleepers()


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


