"""Hostile and broken submissions, one test per attack, grouped by the threat they pose.

Tampering with the grader by patching or shadowing lives in test_tampering.py; limits of
a bare worker in test_sandbox.py. Here every attack goes through the real engine (or the
real CLI) the way a submission would, and the assertion is what it gained: nothing.

Reading what it should not is prevented only at the ``namespace`` isolation level (a
separate user and mount namespace); at the ``process`` level the worker runs as the
grader's user, so those tests are reported as skipped there, never as passed.
"""
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from graders import engine, isolation, release

NAMESPACE_ONLY = pytest.mark.skipif(
    isolation.level() != isolation.NAMESPACE,
    reason=f"isolation level here is {isolation.level()!r}: the worker runs as the grader's user")


def _grade(a2, make_submission, source, name="attacker", extra=None, hidden=()):
    files = {"mlp.py": source, **(extra or {})}
    return engine.grade(a2, make_submission(name, files), name, hidden=hidden)


def _quick(a2):
    """a2 with a 2 s call limit, so attacks that run into it do not take minutes."""
    return dataclasses.replace(a2, limits=dataclasses.replace(a2.limits, call_seconds=2))


# --------------------------------------------------------------------------- 1. tampering

@NAMESPACE_ONLY
def test_cannot_write_into_the_grader_or_other_students_results(a2, a2_stub, make_submission, tmp_path):
    out = tmp_path / "out"
    (out / "alice").mkdir(parents=True)
    alice = out / "alice" / "results.json"
    alice.write_text('{"score": 3}')
    target = ROOT / "graders" / "compare.py"
    before = target.read_bytes()
    attack = a2_stub + f"""
for path in [{str(target)!r}, {str(alice)!r}, {str(ROOT / 'assignments' / 'a2_numpy_mlp' / 'manifest.toml')!r}]:
    try:
        with open(path, "a") as handle:
            handle.write("\\n# pwned")
        print("WROTE", path)
    except OSError as error:
        print("refused", type(error).__name__)
"""
    result = _grade(a2, make_submission, attack, hidden=(out,))
    assert "WROTE" not in result.output and result.output.count("refused") == 3
    assert target.read_bytes() == before and alice.read_text() == '{"score": 3}'
    assert result.score == 0


def test_patching_torch_gains_nothing(load, make_submission):
    a1 = load("a1_foundations")
    stub = release.strip_solutions(a1.reference_source)
    patched = stub + """
import torch
torch.allclose = torch.equal = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
torch.testing.assert_close = lambda *a, **k: None
"""
    honest = engine.grade(a1, make_submission("honest", {"foundations.py": stub}), "x", devices={"cpu"})
    attacked = engine.grade(a1, make_submission("patcher", {"foundations.py": patched, "torch.py": "x = 1\n"}),
                            "x", devices={"cpu"})
    assert attacked.score == honest.score == 0


# --------------------------------------------------------------------------- 2. reading

SNOOP = """
import os, glob
def _try(label, path):
    try:
        with open(path, "rb") as handle:
            handle.read(64)
        print("LEAK", label)
    except OSError as error:
        print("denied", label, type(error).__name__)
_try("reference", {reference!r})
_try("hidden tests", {hidden_test!r})
_try("other student", {other!r})
_try("grader environ", "/proc/{grader_pid}/environ")
_try("init environ", "/proc/1/environ")
print("LEAK env" if {secret!r} in repr(dict(os.environ)) else "denied env")
print("listing", sorted(glob.glob({reference_glob!r})))
"""


@NAMESPACE_ONLY
def test_cannot_read_reference_hidden_tests_other_students_or_secrets(a2, a2_stub, make_submission, monkeypatch):
    monkeypatch.setenv("NNGRADE_TEST_SECRET", "hunter2-secret-token")
    other = make_submission("bob", {"mlp.py": "# bob's private work\n"})
    snoop = a2_stub + SNOOP.format(
        reference=str(a2.reference_path), hidden_test=str(next((a2.folder / "hidden").glob("test_*.py"))),
        other=str(other / "mlp.py"), grader_pid=os.getpid(), secret="hunter2-secret-token",
        reference_glob=str(a2.reference_path.parent / "*"))
    result = _grade(a2, make_submission, snoop)
    assert "LEAK" not in result.output, result.output
    assert result.output.count("denied") == 6
    assert "listing []" in result.output
    assert result.isolation == isolation.NAMESPACE


@NAMESPACE_ONLY
def test_no_network(a2, a2_stub, make_submission):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    attack = a2_stub + f"""
import socket
for host in [("127.0.0.1", {port}), ("1.1.1.1", 53), ("pypi.org", 443)]:
    try:
        socket.create_connection(host, timeout=2).close()
        print("CONNECTED", host)
    except OSError as error:
        print("offline", type(error).__name__)
"""
    try:
        result = _grade(a2, make_submission, attack)
    finally:
        server.close()
    assert "CONNECTED" not in result.output and result.output.count("offline") == 3


# --------------------------------------------------------------------------- 3. lying

def test_objects_pretending_to_be_arrays_are_refused(a2, make_submission, tmp_path):
    marker = tmp_path / "unpickled"
    liar = a2.reference_source + f"""
import pickle, os
class _Evil:
    def __reduce__(self):
        return (os.system, ("touch {marker}",))
class FakeArray:
    shape, dtype, ndim = (2, 3), np.dtype("float64"), 2
    def __array__(self, *a, **k):
        return np.zeros(self.shape)
_honest_forward = linear_forward
def linear_forward(x, W, b):
    out, cache = _honest_forward(x, W, b)
    return FakeArray(), cache
def relu_forward(x):
    return pickle.dumps(_Evil()), None
def mse_loss(pred, target):
    return np.array([_Evil()], dtype=object), pred
"""
    result = _grade(a2, make_submission, liar)
    tests = [t for t in result.tests if t.task in ("linear", "relu", "mse")]
    forward = [t for t in tests if "forward" in t.name or "mse" in t.name]
    assert forward and all(t.status == "failed" for t in forward)
    assert not marker.exists(), "a pickle from the worker was unpickled"
    assert any("protocol" in t.message or "bytes" in t.message or "differs" in t.message for t in forward)


# --------------------------------------------------------------------------- 4. resource abuse

def test_a_loop_that_ignores_sigterm_is_killed_at_the_call_limit(a2, make_submission):
    hog = a2.reference_source + """
import signal
def relu_forward(x):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass
"""
    started = time.monotonic()
    result = _grade(_quick(a2), make_submission, hog)
    hit = [t for t in result.tests if t.limit == "call_seconds"]
    assert hit and all("per-call time limit" in t.message for t in hit)
    assert all(t.status == "passed" for t in result.tests if t.task not in ("relu", "two_layer_net"))
    assert time.monotonic() - started < 60


def test_a_memory_bomb_names_the_memory_limit(a2, make_submission):
    bomb = a2.reference_source + """
def relu_forward(x):
    hoard = []
    while True:
        hoard.append(np.ones(2**27))
"""
    result = _grade(a2, make_submission, bomb)
    relu = [t for t in result.tests if t.task == "relu"]
    assert relu and all(t.status == "failed" for t in relu)
    assert any(t.limit == "memory_mb" and "memory limit" in t.message for t in relu)
    assert "memory_mb" in result.limits_hit


@NAMESPACE_ONLY
def test_a_fork_storm_is_stopped_by_the_process_limit(a2, make_submission):
    storm = a2.reference_source + """
import os, time
def relu_forward(x):
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
"""
    result = _grade(_quick(a2), make_submission, storm)
    relu = [t for t in result.tests if t.task == "relu"]
    assert any(t.limit == "processes" and "process limit" in t.message for t in relu)
    assert _processes_of(isolation.worker_uid()) == 0


def test_daemons_do_not_outlive_the_grading(a2, make_submission, tmp_path):
    pids = tmp_path / "pids"
    daemon = a2.reference_source + f"""
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open({str(pids)!r}, "a") as handle:
            handle.write(str(os.getpid()) + "\\n")
        while True:
            time.sleep(1)
    os._exit(0)
time.sleep(0.5)
"""
    _grade(a2, make_submission, daemon)
    time.sleep(0.5)
    started = [int(line) for line in pids.read_text().split()] if pids.exists() else []
    if isolation.level() == isolation.NAMESPACE:
        assert _processes_of(isolation.worker_uid()) == 0
    else:
        assert started, "the daemon never started"
    assert not [pid for pid in started if _alive(pid)]


def test_huge_output_is_capped_and_grading_goes_on(a2, make_submission):
    noisy = a2.reference_source + """
import sys
for _ in range(2000):
    sys.stdout.write("x" * 10000 + "\\n")
"""
    result = _grade(a2, make_submission, noisy)
    assert result.score == result.max_score
    assert len(result.output) < 70 * 1024 and "more bytes of output cut" in result.output


# --------------------------------------------------------------------------- 5. faults

def test_a_worker_killed_mid_test_costs_only_that_test(a2, make_submission):
    suicidal = a2.reference_source + """
import os, signal
def mse_loss(pred, target):
    os.kill(os.getpid(), signal.SIGKILL)
"""
    result = _grade(a2, make_submission, suicidal)
    for test in result.tests:
        if test.task == "mse":
            assert test.status == "failed" and test.crashed and "SIGKILL" in test.message
        elif test.task != "two_layer_net":  # two_layer_net calls mse_loss
            assert test.status == "passed", test.name


def _batch(root: Path, a2, count: int = 10) -> Path:
    """Ten students: the reference, the stub and catalogued mistakes."""
    sources = [a2.reference_source, release.strip_solutions(a2.reference_source)]
    sources += [a2.source_with(entry) for entry in a2.mistakes]
    for index in range(count):
        folder = root / f"student{index:02d}"
        folder.mkdir(parents=True)
        (folder / "mlp.py").write_text(sources[index % len(sources)])
    return root


def _grade_all(submissions: Path, out: Path, **popen):
    command = [sys.executable, "-m", "graders.cli", "grade-all", "a2_numpy_mlp", str(submissions),
               "--out", str(out), "--workers", "1"]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


@pytest.mark.slow
@pytest.mark.parametrize("interrupt", [signal.SIGKILL, signal.SIGINT])
def test_grade_all_interrupted_then_rerun_gives_the_same_grades(a2, tmp_path, interrupt):
    submissions = _batch(tmp_path / "subs", a2)
    reference_run = _grade_all(submissions, tmp_path / "straight")
    assert reference_run.wait(timeout=600) == 0, reference_run.stderr.read()

    out = tmp_path / "interrupted"
    run = _grade_all(submissions, out)
    deadline = time.monotonic() + 300
    while len(list(out.glob("*/results.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(interrupt)
    run.wait(timeout=60)
    finished = len(list(out.glob("*/results.json")))
    assert 3 <= finished < 10 or interrupt == signal.SIGINT, finished

    rerun = _grade_all(submissions, out)
    assert rerun.wait(timeout=600) == 0, rerun.stderr.read()
    assert (out / "grades.csv").read_bytes() == (tmp_path / "straight" / "grades.csv").read_bytes()


@pytest.mark.skipif(os.geteuid() != 0, reason="a small filesystem for the full-disk case needs root to mount")
def test_a_full_disk_gives_a_clear_error_and_no_half_written_results(a2, tmp_path):
    submissions = _batch(tmp_path / "subs", a2, count=4)
    out = tmp_path / "tiny"
    out.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(out)], check=True)
    try:
        run = _grade_all(submissions, out)
        assert run.wait(timeout=600) == 2
        error = run.stderr.read()
        assert "No space left on device" in error and "nngrade:" in error and "Traceback" not in error
        for results in out.glob("*/results.json"):
            json.loads(results.read_text())  # every file there is whole
    finally:
        subprocess.run(["umount", str(out)], check=True)


def test_a_corrupt_results_folder_is_repaired_on_rerun(a2, tmp_path):
    submissions = _batch(tmp_path / "subs", a2, count=3)
    out = tmp_path / "out"
    clean = _grade_all(submissions, tmp_path / "clean")
    assert clean.wait(timeout=600) == 0
    (out / "student00").mkdir(parents=True)
    (out / "student00" / "results.json").write_text('{"score": 100, "extra_data": {"nngrade"')
    (out / "student01").mkdir()
    (out / "student01" / "results.json").write_bytes(b"\x00\xff garbage")
    (out / "student01" / ".results.json.abc123").write_text("half a write")
    (out / "grades.csv").write_text("student,score\nstudent00,100\n")
    run = _grade_all(submissions, out)
    assert run.wait(timeout=600) == 0, run.stderr.read()
    assert (out / "grades.csv").read_bytes() == (tmp_path / "clean" / "grades.csv").read_bytes()
    assert not list(out.glob("*/.results.json.*"))


# --------------------------------------------------------------------------- helpers

def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid and _alive(int(entry)):
                    count += 1
            except OSError:
                pass
    return count
