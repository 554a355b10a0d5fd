"""The trusted side under hostile names, sizes and timing, and instructor input checked up
front: everything a student controls besides code (folder and file names, sizes, zips,
printed text) reaches the grader's outputs inert, and an instructor's mistake is one line
and exit code 2 before any grading, never a traceback or a batch of zeros."""
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, alive, within
from graders.grading import bulk, engine, hidden
from graders.sandbox import isolation, submission
from graders.outputs import junit, render


@pytest.fixture
def nngrade(nngrade_main):
    """The command in this process: these tests read what it prints, writes and returns
    (test_cli.py runs the real command's refusals; killing one is tested below)."""
    return nngrade_main


def _result(student: str, message: str = "boom") -> engine.SubmissionResult:
    result = engine.SubmissionResult(student=student, assignment="a2_numpy_mlp", status="graded",
                                     isolation="namespace")
    result.tests.append(engine.TestResult("t", "task", "cpu", "a test", 1.0, message=message))
    return result


# --------------------------------------------------------------------------- outputs stay inert

@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
                                  "\tleading-tab"])
def test_csv_cells_a_spreadsheet_would_evaluate_are_neutralised(name, tmp_path):
    render.write_csv([render.csv_row(_result(name))], tmp_path / "grades.csv")
    row = next(csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text())))
    assert row["student"] == "'" + name and row["identifier"] == "'" + name
    assert row["score"] == "0"  # numbers stay numbers


def test_escape_sequences_in_names_never_reach_the_terminal():
    outcome = bulk.Graded("\x1b[2J\x1b[31mevil\x07", render.csv_row(_result("\x1b[2J\x1b[31mevil\x07")),
                          error="\x1b]0;owned\x07")
    stream = io.StringIO()
    bulk.print_summary([outcome], stream=stream)
    assert "\x1b" not in stream.getvalue() and "\x07" not in stream.getvalue()
    assert "\\x1b[31mevil" in stream.getvalue()


def test_control_characters_cannot_make_junit_xml_unparsable():
    document = render.results_json(_result("bad\x01name\x1b", message="raised \x00\x0b\x1f"))
    text = junit.junit_xml([document])
    root = ElementTree.fromstring(text)  # parses
    assert root.find("testsuite").get("name") == "a2_numpy_mlp.bad\\x01name\\x1b"


def test_student_folders_named_like_the_batchs_own_files_do_not_collide(a2, tmp_path, nngrade):
    subs = tmp_path / "subs"
    for name in ("grades.csv", "junit.xml", "report.html", "alice"):
        (subs / name).mkdir(parents=True)
        (subs / name / "mlp.py").write_text(a2.reference_source)
    out = tmp_path / "out"
    for _ in range(2):  # and again on a re-run
        run = nngrade("grade-all", "a2_numpy_mlp", subs, "--out", out, "--workers", "1")
        assert run.returncode == 0, run.stderr
    rows = {row["student"]: row for row in csv.DictReader(open(out / "grades.csv"))}
    assert set(rows) == {"grades.csv", "junit.xml", "report.html", "alice"}
    assert all(row["score"] == "100" for row in rows.values())
    assert (out / "grades.csv").is_file() and (out / "grades.csv (student)" / "results.json").is_file()
    ElementTree.parse(out / "junit.xml")
    assert nngrade("report", out).returncode == 0 and (out / "report.html").is_file()


# --------------------------------------------------------------------------- sizes before work

def test_a_zip_bomb_is_refused_before_extraction(tmp_path, nngrade):
    bomb = tmp_path / "subs.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("alice/mlp.py", "x = 1\n")
        archive.writestr("alice/zeros.bin", b"\0" * (300 << 20))
    assert bomb.stat().st_size < 2 << 20
    run = nngrade("grade-all", "a2_numpy_mlp", bomb, "--out", tmp_path / "out")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "zeros.bin" in run.stderr and "unpacks to 300 MiB" in run.stderr


def test_a_zip_of_submissions_is_graded_like_the_folder_it_holds(a2, a2_stub, tmp_path, monkeypatch):
    """A Classroom or LMS export arrives as a zip with a wrapper folder: it is unpacked (to a
    temporary folder, gone afterwards), unwrapped and graded, student by student."""
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("export-2026/alice/mlp.py", a2.reference_source)
        bundle.writestr("export-2026/erin/mlp.py", a2_stub)
        bundle.writestr("export-2026/erin/notes.txt", "stuck on dropout\n")
    unpacked, extract = [], bulk._extract_checked
    monkeypatch.setattr(bulk, "_extract_checked", lambda path, target: (unpacked.append(target), extract(path, target)))
    out = tmp_path / "out"
    graded = {g.student: g for g in bulk.grade_all("a2_numpy_mlp", archive, out, workers=1)}
    assert set(graded) == {"alice", "erin"} and not any(g.error for g in graded.values())
    rows = {row["student"]: row for row in csv.DictReader(open(out / "grades.csv"))}
    assert float(rows["alice"]["score"]) == float(rows["alice"]["max_score"]) > 0
    assert float(rows["erin"]["score"]) == 0 and rows["erin"]["status"] == "graded"
    assert json.loads((out / "alice" / "results.json").read_text())["score"] > 0
    assert len(unpacked) == 1 and not unpacked[0].exists()  # the unpacked copy is removed
    again = bulk.grade_all("a2_numpy_mlp", archive, out, workers=1)  # the same zip again: nothing regraded
    assert all(g.reused for g in again)


def test_a_huge_sparse_file_is_refused_by_its_size_not_read(tmp_path):
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "mlp.py").write_text("x = 1\n")
    with open(folder / "weights.bin", "wb") as handle:
        handle.truncate(3 << 30)  # 3 GiB, no blocks
    before = _peak_memory()
    started = time.monotonic()
    with pytest.raises(submission.SubmissionNotLoaded, match="larger than 50 MiB.*weights.bin"):
        submission.select(folder)
    bulk.content_hash(folder)  # the resume hash reads nothing either
    assert time.monotonic() - started < 5 and _peak_memory() - before < 64 << 20


def test_a_submission_of_many_small_files_is_refused_up_front(tmp_path):
    folder = tmp_path / "alice"
    (folder / "junk").mkdir(parents=True)
    (folder / "mlp.py").write_text("x = 1\n")
    for index in range(submission.MAX_FILES + 1):
        (folder / "junk" / f"{index}.txt").write_text("")
    with pytest.raises(submission.SubmissionNotLoaded, match=f"more than {submission.MAX_FILES} files"):
        submission.select(folder)


def _peak_memory() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


# --------------------------------------------------------------------------- resuming

def test_the_resume_key_changes_with_the_grader_code_devices_and_secret(a2, tmp_path, monkeypatch):
    base = bulk.grading_fingerprint(a2, None)
    assert bulk.grading_fingerprint(a2, None) == base
    assert bulk.grading_fingerprint(a2, {"cpu"}) != base
    monkeypatch.setenv(hidden.SEED_SECRET_VARIABLE, "course-secret")
    assert bulk.grading_fingerprint(a2, None) != base
    monkeypatch.delenv(hidden.SEED_SECRET_VARIABLE)
    copy = tmp_path / "graders"
    for path in (ROOT / "graders").rglob("*.py"):
        (copy / path.relative_to(ROOT / "graders")).parent.mkdir(parents=True, exist_ok=True)
        (copy / path.relative_to(ROOT / "graders")).write_bytes(path.read_bytes())
    (copy / "sandbox" / "protocol.py").write_text((copy / "sandbox" / "protocol.py").read_text() + "\n# a fix\n")
    monkeypatch.setattr(bulk, "__file__", str(copy / "grading" / "bulk.py"))
    assert bulk.grading_fingerprint(a2, None) != base  # a fix to the grader regrades, same version string


def test_a_rerun_asking_for_other_devices_regrades(a2, tmp_path, nngrade):
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (subs / "alice" / "mlp.py").write_text(a2.reference_source)
    out = tmp_path / "out"
    assert nngrade("grade-all", "a2_numpy_mlp", subs, "--out", out, "--workers", "1").returncode == 0
    again = nngrade("grade-all", "a2_numpy_mlp", subs, "--out", out, "--workers", "1", "--device", "cpu")
    assert again.returncode == 0 and "unchanged, kept" not in again.stdout


# --------------------------------------------------------------------------- nothing outlives grade-all

@pytest.mark.slow
def test_nothing_outlives_a_killed_grade_all(a2, tmp_path):
    subs = tmp_path / "subs"
    for index in range(8):
        (subs / f"s{index}").mkdir(parents=True)
        (subs / f"s{index}" / "mlp.py").write_text(a2.reference_source)
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "graders.cli", "grade-all", "a2_numpy_mlp", str(subs), "--out",
                            str(out), "--workers", "2"], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(out.glob("*/results.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    family = isolation.descendants(run.pid)
    assert len(family) >= 3  # pool processes, their zygotes, the resource tracker...
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert within(10, lambda: not [pid for pid in family if alive(pid)])






# --------------------------------------------------------------------------- one identity everywhere

def test_the_same_student_gets_the_same_hidden_inputs_on_every_path(a2, tmp_path, nngrade):
    from graders.outputs import export

    wrong = a2.source_with(next(m for m in a2.mistakes if m.target == "linear_backward"))
    subs = tmp_path / "subs"
    (subs / "alice-gh").mkdir(parents=True)
    (subs / "alice-gh" / "mlp.py").write_text(wrong)
    roster = tmp_path / "roster.csv"
    roster.write_text("identifier,github_username\nalice@uni.example,alice-gh\n")
    out = tmp_path / "out"
    assert nngrade("grade-all", "a2_numpy_mlp", subs, "--out", out, "--workers", "1", "--roster", roster).returncode == 0
    via_batch = json.loads((out / "alice-gh" / "results.json").read_text())

    gradescope = tmp_path / "autograder"
    (gradescope / "submission").mkdir(parents=True)
    (gradescope / "submission" / "mlp.py").write_text(wrong)
    (gradescope / "submission_metadata.json").write_text(json.dumps({"users": [{"email": "alice@uni.example"}]}))
    export.run_gradescope("a2_numpy_mlp", gradescope)
    via_gradescope = json.loads((gradescope / "results" / "results.json").read_text())
    # The failure messages quote the numbers the student's code got: the same inputs.
    assert [t["output"] for t in via_batch["tests"]] == [t["output"] for t in via_gradescope["tests"]]
    assert any(t["status"] == "failed" for t in via_batch["tests"])


def test_a_course_secret_changes_every_seed(monkeypatch):
    plain = hidden.derive_seed("alice", "a2", "t", "cpu")
    monkeypatch.setenv(hidden.SEED_SECRET_VARIABLE, "only the instructor knows")
    assert hidden.derive_seed("alice", "a2", "t", "cpu") != plain


def test_the_workers_hash_seed_is_fixed_so_set_order_is_the_same_on_regrade(make_submission):
    from graders.sandbox.host import Limits, RemoteImpl, Worker

    folder = make_submission("s", {"mod.py": "def order():\n    return str(list({'alpha', 'beta', 'gamma', 'delta'}))\n"})
    expected = subprocess.run([sys.executable, "-c", "print(list({'alpha', 'beta', 'gamma', 'delta'}))"],
                              env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True).stdout.strip()
    with Worker(folder, "mod", Limits()) as worker:
        assert RemoteImpl(worker).order() == expected


# --------------------------------------------------------------------------- instructor input

@pytest.fixture
def batch(a2, tmp_path):
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (subs / "alice" / "mlp.py").write_text(a2.reference_source)
    return subs


def _refused(run, *words):
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr and run.stderr.startswith("nngrade: ")
    for word in words:
        assert word in run.stderr, run.stderr


def test_out_naming_a_file_is_refused(batch, tmp_path, nngrade):
    target = tmp_path / "results.txt"
    target.write_text("precious")
    _refused(nngrade("grade-all", "a2_numpy_mlp", batch, "--out", target), "is a file")
    _refused(nngrade("grade", "a2_numpy_mlp", batch / "alice", "--out", target), "is a file")
    assert target.read_text() == "precious"


@pytest.mark.parametrize("url, words", [("not a url", ["not a database URL"]),
                                        ("sqlite:////nonexistent-folder/gradebook.db", ["does not exist"])])
def test_a_bad_gradebook_url_is_refused_before_grading(batch, tmp_path, url, words, nngrade):
    out = tmp_path / "out"
    _refused(nngrade("grade-all", "a2_numpy_mlp", batch, "--out", out, "--gradebook", url), "--gradebook", *words)
    assert not (out / "alice").exists()


def test_a_file_that_is_not_a_zip_is_named_as_such(tmp_path, nngrade):
    notes = tmp_path / "submissions.tar"
    notes.write_text("not a zip")
    _refused(nngrade("grade-all", "a2_numpy_mlp", notes, "--out", tmp_path / "out"), "not a zip archive")


def test_an_empty_root_or_one_students_folder_is_refused(batch, tmp_path, nngrade):
    empty = tmp_path / "empty"
    empty.mkdir()
    _refused(nngrade("grade-all", "a2_numpy_mlp", empty, "--out", tmp_path / "o1"), "holds no submission folders")
    _refused(nngrade("grade-all", "a2_numpy_mlp", batch / "alice", "--out", tmp_path / "o2"), "one submission",
             "nngrade grade")


def test_a_wrapper_folder_is_unwrapped_like_a_zip(batch, tmp_path, nngrade):
    wrapped = tmp_path / "wrap"
    (wrapped).mkdir()
    batch.rename(wrapped / "subs")
    run = nngrade("grade-all", "a2_numpy_mlp", wrapped, "--out", tmp_path / "out", "--workers", "1")
    assert run.returncode == 0, run.stderr
    assert [row["student"] for row in csv.DictReader(open(tmp_path / "out" / "grades.csv"))] == ["alice"]


@pytest.mark.skipif(engine.available_devices() != {"cpu"}, reason="this machine has a GPU")
def test_device_cuda_without_a_gpu_is_refused(batch, tmp_path, nngrade):
    _refused(nngrade("grade-all", "a3_torch_layers", batch, "--out", tmp_path / "out", "--device", "cuda"),
             "no usable GPU")
    _refused(nngrade("grade-all", "a2_numpy_mlp", batch, "--out", tmp_path / "out", "--device", "cuda"),
             "has no CUDA tests")


def test_a_missing_end_solution_marker_is_one_line(tmp_path, nngrade):
    import shutil

    root = tmp_path / "course"
    for folder in ("assignments", "reference"):
        shutil.copytree(ROOT / folder / "a2_numpy_mlp", root / folder / "a2_numpy_mlp")
    reference = root / "reference" / "a2_numpy_mlp" / "mlp.py"
    text = reference.read_text()
    reference.write_text(text.replace("### END SOLUTION", "", 1))
    run = nngrade("release", "a2_numpy_mlp", env={"NNGRADE_ROOT": str(root)})
    _refused(run, "mlp.py:", "SOLUTION")
