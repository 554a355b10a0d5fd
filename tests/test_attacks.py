"""Hostile and broken submissions, one test per attack, grouped by the threat they pose.

Tampering with the grader by patching or shadowing lives in test_tampering.py; limits of
a bare worker in test_sandbox.py. Here every attack goes through the real engine (or the
real CLI) the way a submission would, and the assertion is what it gained: nothing.

Attacks on what the sandbox promises run once per isolation level (``level``): each level
the user running the suite can get runs, the others are skipped with the reason. As root,
tests/test_isolation_users.py runs this whole file again as an unprivileged user and as
root in a container that refuses namespaces, so every level is attacked as every kind of
grader this machine can stand in for.
"""
import dataclasses
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ROOT, alive
from graders.grading import engine
from graders.sandbox import isolation
from graders.outputs import release


@pytest.fixture(params=[isolation.NAMESPACE, isolation.LANDLOCK])
def level(request, monkeypatch):
    """Grade at this isolation level, or skip where this user cannot have it."""
    reason = isolation.unavailable_because(request.param)
    if reason:
        pytest.skip(f"{request.param} isolation is not available to {pwd.getpwuid(os.getuid()).pw_name} "
                    f"here: {reason}")
    monkeypatch.setenv(isolation.ENVIRONMENT_VARIABLE, request.param)
    return request.param


def _grade(a2, make_submission, source, name="attacker", extra=None):
    files = {"mlp.py": source, **(extra or {})}
    return engine.grade(a2, make_submission(name, files), name)


def _quick(a2, **limits):
    """a2 with a 2 s call limit (so attacks that run into it do not take minutes) and
    any other limit given."""
    return dataclasses.replace(a2, limits=dataclasses.replace(a2.limits, **{"call_seconds": 2, **limits}))


def _world_readable_folder() -> Path:
    """A folder any user may read, outside the pytest tree (which is private to its user)."""
    folder = Path(tempfile.mkdtemp(prefix="nngrade-test-"))
    folder.chmod(0o755)
    return folder


# --------------------------------------------------------------------------- 1. tampering

def test_cannot_write_into_the_grader_or_other_students_results(level, a2, a2_stub, make_submission, tmp_path):
    out = tmp_path / "out"
    (out / "alice").mkdir(parents=True)
    alice = out / "alice" / "results.json"
    alice.write_text('{"score": 3}')
    target = ROOT / "graders" / "grading" / "compare.py"
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
    result = _grade(a2, make_submission, attack)
    assert "WROTE" not in result.output and result.output.count("refused") == 3
    assert target.read_bytes() == before and alice.read_text() == '{"score": 3}'
    assert result.score == 0 and result.isolation == level


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
            data = handle.read()
    except OSError as error:
        print("denied", label, type(error).__name__)
        return
    # An environ file is a leak only if it holds something: the sandbox's own init has none.
    print("LEAK" if data and (not path.endswith("environ") or b"=" in data) else "denied", label)
_try("reference", {reference!r})
_try("hidden tests", {hidden_test!r})
_try("other student", {other!r})
_try("grader environ", "/proc/{grader_pid}/environ")
_try("init environ", "/proc/1/environ")
print("LEAK env" if {secret!r} in repr(dict(os.environ)) else "denied env")
print("listing", sorted(glob.glob({reference_glob!r})))
"""


def test_cannot_read_reference_hidden_tests_other_students_or_secrets(level, a2, a2_stub, make_submission,
                                                                       monkeypatch):
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
    assert result.isolation == level


WALKER = """
import os
_ALLOWED = {allowed!r}
_opened, _listed, _runtime = [], [], 0
def _inside(path):
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in _ALLOWED)
for _top, _dirs, _files in os.walk("/"):
    if _top in ("/proc", "/sys"):
        _dirs[:] = []
        continue
    if _inside(_top):
        _runtime += 1  # listed, and the README names it as visible: no need to read it all
        _dirs[:] = []
        continue
    _listed.append(_top)
    for _name in _files:
        _path = os.path.join(_top, _name)
        if _inside(_path):
            _runtime += 1
            continue
        try:
            os.close(os.open(_path, os.O_RDONLY | os.O_NONBLOCK))  # opened is enough (a pipe would block a read)
            _opened.append(_path)
        except OSError:
            pass
print("RUNTIME", _runtime)
for _path in _opened:
    print("OPENED", _path)
for _path in _listed:
    print("LISTED", _path)
"""


def test_walking_the_filesystem_finds_only_the_runtime_and_its_own_files(level, a2, a2_stub, make_submission):
    # What the README's Security section says a worker sees; everything else must be out of reach.
    runtime = [*isolation.OS_RUNTIME, *isolation.runtime_paths(), *(f"/etc/{n}" for n in isolation.ETC_FILES)]
    walker = a2_stub + WALKER.format(allowed=runtime)
    result = _grade(_quick(a2, output_kb=1024), make_submission, walker, extra={"notes/readme.txt": "mine"})
    lines = result.output.splitlines()
    opened = [line.split(" ", 1)[1] for line in lines if line.startswith("OPENED ")]
    own = [path for path in opened if "/nngrade-box-" in path and "/submission/" in path]
    # Landlock: "/" itself cannot be listed, so the walk never reaches the worker's own folder.
    assert {os.path.basename(p) for p in own} >= ({"mlp.py", "readme.txt"} if level == isolation.NAMESPACE else set())
    devices_and_identity = {*(f"/dev/{n}" for n in isolation.DEVICES), "/dev/stdin", "/dev/stdout", "/dev/stderr",
                            "/etc/passwd", "/etc/group"}
    assert set(opened) - set(own) <= devices_and_identity, result.output[:3000]
    assert "RUNTIME" in result.output and result.isolation == level


COPIER = """
import subprocess
_found = None
for _path in {candidates!r}:
    try:
        with open(_path) as _handle:
            _found = _handle.read()
        print("FOUND", _path)
        break
    except OSError:
        pass
if _found is None:
    try:
        _found = subprocess.run(["git", "-C", {root!r}, "show", "HEAD:reference/a2_numpy_mlp/mlp.py"],
                                capture_output=True, text=True, timeout=10).stdout or None
        if _found:
            print("FOUND git history")
    except Exception:
        pass
if _found:
    exec(compile(_found, "copied", "exec"), globals())
"""


@pytest.fixture
def copier(a2_stub):
    """A stub that looks for a finished mlp.py wherever copies of the course lie: the
    checkout, its examples and history, and last year's folder, and re-exports it."""
    last_year = _world_readable_folder()
    copy = last_year / "dl-course-2025" / "reference" / "a2_numpy_mlp"
    copy.mkdir(parents=True)
    (copy / "mlp.py").write_text((ROOT / "reference" / "a2_numpy_mlp" / "mlp.py").read_text())
    for folder in copy.parents:
        if folder == last_year.parent:
            break
        folder.chmod(0o755)
    candidates = [str(ROOT / "reference" / "a2_numpy_mlp" / "mlp.py"),
                  str(ROOT / "examples" / "a2_numpy_mlp" / "alice" / "mlp.py"), str(copy / "mlp.py")]
    yield a2_stub + COPIER.format(candidates=candidates, root=str(ROOT))
    import shutil

    shutil.rmtree(last_year)


def test_copies_of_the_course_on_disk_and_in_git_are_out_of_reach(level, a2, copier, make_submission):
    result = _grade(a2, make_submission, copier)
    assert "FOUND" not in result.output, result.output
    assert result.score == 0 and result.isolation == level


def test_without_a_sandbox_the_copier_would_have_full_marks(a2, copier, make_submission, monkeypatch):
    """The attack above is real: at ``--isolation none`` it finds a solution, and the only
    thing left between it and full marks is the tamper record (graders.integrity.tamper): reading the
    grader's reference and running it through exec at import zeroes every test and flags it."""
    monkeypatch.setenv(isolation.ENVIRONMENT_VARIABLE, isolation.NONE)
    result = _grade(a2, make_submission, copier)
    assert "FOUND" in result.output and result.max_score > 0
    assert result.score == 0 and result.flagged and all(t.tampered for t in result.tests)
    assert {"file", "exec"} <= {e.kind for e in result.evidence if e.file == "mlp.py" and e.phase == "import"}
    assert result.isolation == isolation.NONE


PROC_SNOOP = """
import glob, os
for _path in glob.glob("/proc/*/cmdline") + glob.glob("/proc/*/environ"):
    try:
        if {marker!r} in open(_path, "rb").read().decode(errors="replace"):
            print("LEAK", _path)
    except OSError:
        pass
for _link in glob.glob("/proc/*/cwd"):
    try:
        if {marker!r} in os.readlink(_link):
            print("LEAK", _link)
    except OSError:
        pass
print("snooped")
"""


def test_proc_does_not_show_where_the_batch_lies(level, a2, a2_stub, make_submission):
    batch = _world_readable_folder() / "batch-root-7f3a"
    batch.mkdir()
    # A stand-in for grade-all's processes: its command line, environment and working folder name the batch.
    decoy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(batch)], cwd=batch,
                             env={**os.environ, "BATCH": str(batch)})
    try:
        result = _grade(a2, make_submission, a2_stub + PROC_SNOOP.format(marker="batch-root-7f3a"))
    finally:
        decoy.kill()
        decoy.wait()
        batch.rmdir()
        batch.parent.rmdir()
    assert "snooped" in result.output and "LEAK" not in result.output, result.output


def test_no_network(level, a2, a2_stub, make_submission):
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
try:
    _udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _udp.sendto(b"x", ("127.0.0.1", {port}))
    print("CONNECTED udp")
except OSError:
    print("offline udp")
"""
    try:
        result = _grade(a2, make_submission, attack)
    finally:
        server.close()
    assert "CONNECTED" not in result.output and result.output.count("offline") == 4


def test_cannot_signal_or_trace_the_grader(level, a2, a2_stub, make_submission):
    attack = a2_stub + f"""
import os
try:
    os.kill({os.getpid()}, 0)  # the permission check alone: would a SIGSTOP be delivered?
    print("CAN SIGNAL")
except OSError as error:
    print("cannot signal", type(error).__name__)
try:
    open("/proc/{os.getpid()}/mem", "rb").read(1)
    print("CAN READ MEMORY")
except OSError as error:
    print("cannot read memory", type(error).__name__)
"""
    result = _grade(a2, make_submission, attack)
    assert "cannot signal" in result.output and "cannot read memory" in result.output, result.output


# --------------------------------------------------------------------------- links and special files

def test_a_submission_folder_that_is_a_link_is_refused(a2, tmp_path):
    link = tmp_path / "subs" / "mallory"
    link.parent.mkdir()
    link.symlink_to(a2.reference_path.parent)
    result = engine.grade(a2, link, "mallory")
    assert result.status == "not_loaded" and result.score == 0
    assert "symbolic link" in result.message


def test_links_and_special_files_inside_a_submission_are_left_out_and_named(a2, a2_stub, make_submission):
    folder = make_submission("mallory", {"helpers.py": "x = 1\n"})
    (folder / "mlp.py").symlink_to(a2.reference_path)
    (folder / "data").symlink_to(a2.reference_path.parent)
    os.mkfifo(folder / "pipe")
    result = engine.grade(a2, folder, "mallory")
    assert result.status == "not_loaded" and result.score == 0  # mlp.py itself was the link
    assert "mlp.py (a symbolic link)" in " ".join(result.notes)
    (folder / "mlp.py").unlink()
    (folder / "mlp.py").write_text(a2_stub)
    result = engine.grade(a2, folder, "mallory")
    note = " ".join(result.notes)
    assert "data (a symbolic link)" in note and "pipe (a named pipe)" in note
    from graders.outputs import render

    assert "data (a symbolic link)" in render.feedback_markdown(result)


def test_a_linked_student_folder_in_a_batch_scores_zero(a2, tmp_path):
    from graders.grading import bulk

    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (subs / "alice" / "mlp.py").write_text(a2.reference_source)
    (subs / "mallory").symlink_to(subs / "alice")
    outcomes = {o.student: o.row for o in bulk.grade_all("a2_numpy_mlp", subs, tmp_path / "out", workers=1)}
    assert outcomes["mallory"]["status"] == "not_loaded" and float(outcomes["mallory"]["score"]) == 0
    assert float(outcomes["alice"]["score"]) == float(outcomes["alice"]["max_score"]) > 0


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


NAMED = """
import ctypes
def _name(title):  # what /proc/PID/comm shows on the grader's side
    ctypes.CDLL(None).prctl(15, title.encode(), 0, 0, 0)
"""


def test_a_fork_storm_is_stopped_by_the_process_limit(level, a2, make_submission):
    storm = a2.reference_source + NAMED + """
import os, time
def relu_forward(x):
    while True:
        if os.fork() == 0:
            _name("nngrade-storm")
            time.sleep(60)
            os._exit(0)
"""
    result = _grade(_quick(a2), make_submission, storm)
    relu = [t for t in result.tests if t.task == "relu"]
    assert any(t.limit == "processes" and "process limit" in t.message for t in relu), [t.message for t in relu]
    assert _named("nngrade-storm") == []


def test_daemons_do_not_outlive_the_grading(level, a2, make_submission):
    daemon = a2.reference_source + NAMED + """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        _name("nngrade-daemon")
        while True:
            time.sleep(1)
    os._exit(0)
time.sleep(0.5)
print("daemon started")
"""
    result = _grade(a2, make_submission, daemon)
    assert "daemon started" in result.output
    assert _named("nngrade-daemon") == []


CHAIN = NAMED + """
import glob, os, time
def _spoil():
    for path in glob.glob("/tmp/nngrade-box-*/submission/mlp.py") + glob.glob("/proc/*/cwd/mlp.py"):
        try:
            with open(path, "w") as handle:
                handle.write("raise SystemExit('spoiled by a survivor')\\n")
        except OSError:
            pass
def _chain(depth):
    if os.fork() == 0:
        os.setsid()
        _name("nngrade-chain")
        if depth:
            _chain(depth - 1)
        for _ in range(1200):
            _spoil()
            time.sleep(0.05)
        os._exit(0)
_chain(6)
time.sleep(0.3)
"""


def test_a_fork_chain_neither_outlives_its_worker_nor_reaches_the_next_student(level, a2, a2_stub, make_submission):
    attacker = _grade(a2, make_submission, a2_stub + CHAIN)
    assert _named("nngrade-chain") == []
    victim = _grade(a2, make_submission, a2.reference_source, name="victim")
    assert victim.status == "graded" and victim.score == victim.max_score > 0
    assert attacker.score == 0


LEAVE_FILES = """
import os
for _folder in ("/tmp", "/var/tmp", "/dev/shm"):
    try:
        with open(os.path.join(_folder, "nngrade-left-behind"), "w") as _handle:
            _handle.write("a message for the next student")
        print("LEFT", _folder)
    except OSError:
        print("refused", _folder)
"""

FIND_FILES = """
import os
for _folder in ("/tmp", "/var/tmp", "/dev/shm"):
    if os.path.exists(os.path.join(_folder, "nngrade-left-behind")):
        print("FOUND", _folder)
print("looked")
"""


def test_files_left_in_tmp_and_shm_are_gone_for_the_next_submission(level, a2, a2_stub, make_submission):
    first = _grade(a2, make_submission, a2_stub + LEAVE_FILES)
    second = _grade(a2, make_submission, a2_stub + FIND_FILES, name="next")
    assert "looked" in second.output and "FOUND" not in second.output, second.output
    assert first.output.count("LEFT") + first.output.count("refused") == 3
    assert not [folder for folder in ("/tmp", "/var/tmp", "/dev/shm")
                if os.path.exists(os.path.join(folder, "nngrade-left-behind"))]


def test_huge_output_is_capped_and_grading_goes_on(a2, make_submission):
    noisy = a2.reference_source + """
import sys
for _ in range(2000):
    sys.stdout.write("x" * 10000 + "\\n")
"""
    result = _grade(a2, make_submission, noisy)
    assert result.score == result.max_score
    assert len(result.output) < 70 * 1024 and "more bytes of output cut" in result.output
    assert result.limits_hit == ["output_kb"]  # named, though it costs nothing
    from graders.outputs import render

    assert "printed 2,000 line(s) (19.1 MiB)" in render.feedback_markdown(result)  # all of it, not what was kept
    assert render.csv_row(result)["limits_hit"] == "output_kb"


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


def test_a_full_disk_gives_a_clear_error_and_no_half_written_results(a2, tmp_path):
    submissions = _batch(tmp_path / "subs", a2, count=4)
    out = tmp_path / "tiny"
    out.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(out)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("a small filesystem for the full-disk case needs root with CAP_SYS_ADMIN to mount")
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



def _named(title: str, wait: float = 3.0) -> list[int]:
    """Live processes on this machine whose name (comm) is ``title``, once the kernel has
    had up to ``wait`` seconds to finish tearing a sandbox down."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/comm") as comm:
                        if comm.read().strip() == title and alive(int(entry)):
                            found.append(int(entry))
                except OSError:
                    pass
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
