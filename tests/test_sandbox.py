"""The worker's limits: memory, process group, output, and nothing left behind."""
import os
import time

import pytest

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


def _sleepers() -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if cmdline.read() == b"sleep\x0031337\x00" and _alive(int(entry)):
                    found.append(entry)
        except (OSError, ValueError):
            pass
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
