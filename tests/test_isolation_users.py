"""The sandbox attacked as each kind of grader this machine can stand in for.

tests/test_attacks.py attacks every isolation level the user running the suite can get.
Run as root, these tests run it again through tests/run_as.py as a normal user (an
instructor's laptop account, a GitHub runner) and as root in a container that refuses
namespaces (Docker's default profile, Gradescope), and check the promises the README
makes at that boundary: a non-root grade-all gives a reference copier nothing and records
its level, and where no sandbox can be had, grading refuses to start unless told
``--isolation none``.
"""
import csv
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason=f"standing in for other graders needs root; this suite runs as "
                              f"{pwd.getpwuid(os.getuid()).pw_name}, and test_attacks.py ran at its own levels")

USER = "nobody"
RUN_AS = [sys.executable, str(ROOT / "tests" / "run_as.py")]


@pytest.fixture
def scratch():
    """A folder the unprivileged user owns, outside pytest's private tree."""
    folder = Path(tempfile.mkdtemp(prefix="nngrade-users-"))
    folder.chmod(0o755)
    account = pwd.getpwnam(USER)
    os.chown(folder, account.pw_uid, account.pw_gid)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _run(setting: list[str], command: list[str], home: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(home)}
    environment.pop("NNGRADE_ISOLATION", None)
    return subprocess.run([*RUN_AS, *setting, "--", *command], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("setting, levels", [
    (["--user", USER], {"namespace", "landlock"}),
    (["--no-namespaces"], {"landlock"}),
], ids=["normal-user", "root-in-a-container-without-namespaces"])
def test_the_attack_suite_holds_for(setting, levels, scratch):
    report = scratch / "junit.xml"
    run = _run(setting, [sys.executable, "-m", "pytest", "tests/test_attacks.py", "-q", "-rs", "-p", "no:cacheprovider",
                         f"--basetemp={scratch / 'tmp'}", f"--junitxml={report}",
                         "--deselect", "tests/test_attacks.py::test_grade_all_interrupted_then_rerun_gives_the_same_grades"],
               scratch)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    cases = ElementTree.parse(report).getroot().iter("testcase")
    passed = {}
    for case in cases:
        name = case.get("name")
        if case.find("skipped") is None and case.find("failure") is None and case.find("error") is None:
            for level in ("namespace", "landlock"):
                if name.endswith(f"[{level}]"):
                    passed[level] = passed.get(level, 0) + 1
    # Every level this grader should get was attacked for real, not skipped.
    assert set(passed) == levels and min(passed.values()) >= 10, (passed, run.stdout[-3000:])


COPIER = """
for _path in {candidates!r}:
    try:
        exec(compile(open(_path).read(), _path, "exec"), globals())
        print("copied", _path)
        break
    except OSError:
        pass
"""


def _batch(scratch: Path, a2) -> Path:
    from graders.outputs import release

    stub = release.strip_solutions(a2.reference_source)
    candidates = [str(a2.reference_path), str(ROOT / "examples" / "a2_numpy_mlp" / "alice" / "mlp.py")]
    subs = scratch / "subs"
    for name, source in (("copier", stub + COPIER.format(candidates=candidates)), ("honest", a2.reference_source)):
        (subs / name).mkdir(parents=True)
        (subs / name / "mlp.py").write_text(source)
    account = pwd.getpwnam(USER)
    for folder, dirs, files in os.walk(scratch):
        for name in [folder, *(os.path.join(folder, entry) for entry in dirs + files)]:
            os.chown(name, account.pw_uid, account.pw_gid)
    return subs


def _grade_all(setting, scratch, out, *options):
    return _run(setting, [sys.executable, "-m", "graders.cli", "grade-all", "a2_numpy_mlp", str(scratch / "subs"),
                          "--out", str(scratch / out), "--workers", "1", *options], scratch, timeout=600)


def _rows(folder: Path) -> dict[str, dict]:
    with open(folder / "grades.csv") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


@pytest.mark.slow
def test_a_normal_users_grade_all_gives_a_reference_copier_nothing(a2, scratch):
    _batch(scratch, a2)
    run = _grade_all(["--user", USER], scratch, "out")
    assert run.returncode == 0, run.stderr[-3000:]
    rows = _rows(scratch / "out")
    assert float(rows["copier"]["score"]) == 0 and float(rows["honest"]["score"]) == 100
    recorded = json.loads((scratch / "out" / "copier" / "results.json").read_text())["extra_data"]["nngrade"]
    assert recorded["isolation"] == rows["copier"]["isolation"] == "namespace"
    # Trying to open the reference is recorded even where the sandbox hides it.
    assert rows["copier"]["flagged"] == "yes" and rows["honest"]["flagged"] == "no"
    # The same batch with the sandbox switched off: the copier's attack is real; what stops it
    # then is only the tamper record (it opened the reference and ran it: flagged, zeroed).
    run = _grade_all(["--user", USER], scratch, "unprotected", "--isolation", "none")
    assert run.returncode == 0, run.stderr[-3000:]
    rows = _rows(scratch / "unprotected")
    assert rows["copier"]["flagged"] == "yes" and float(rows["copier"]["score"]) == 0
    assert rows["honest"]["flagged"] == "no" and rows["copier"]["isolation"] == "none"
    assert "NO SANDBOX" in run.stdout


@pytest.mark.slow
def test_where_no_sandbox_can_be_had_grading_refuses_to_start(a2, scratch):
    _batch(scratch, a2)
    nothing = ["--no-namespaces", "--no-landlock"]
    run = _grade_all(nothing, scratch, "out")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "no sandbox that hides the reference" in run.stderr and "--isolation none" in run.stderr
    assert not (scratch / "out" / "grades.csv").exists()
    one = _run(nothing, [sys.executable, "-m", "graders.cli", "grade", "a2_numpy_mlp", str(scratch / "subs" / "honest")],
               scratch)
    assert one.returncode == 2 and "no sandbox" in one.stderr
    run = _grade_all(nothing, scratch, "opted-out", "--isolation", "none")
    assert run.returncode == 0, run.stderr[-3000:]
    assert {row["isolation"] for row in _rows(scratch / "opted-out").values()} == {"none"}
