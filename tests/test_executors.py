"""grade-all on Dask and Ray grades exactly as the local process pool does.

Each distributed test starts a local cluster (Dask's LocalCluster with worker processes,
a local Ray instance), grades a few of the example submissions there and compares every
byte the coordinator wrote with the local executor's output.
"""
import json
import os
import shutil

import pytest

from conftest import ROOT
from graders.grading import bulk
from graders.sandbox import executors

STUDENTS = ("alice", "bob", "frank", "mallory")  # full marks, a known mistake, not loaded, a cheat


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("submissions")
    for student in STUDENTS:
        shutil.copytree(ROOT / "examples" / "a2_numpy_mlp" / student, root / student)
    return root


@pytest.fixture(scope="module")
def local_out(cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    outcomes = bulk.grade_all("a2_numpy_mlp", cohort, out, workers=2)
    assert [o.error for o in outcomes] == [None] * len(STUDENTS)
    return out


def _results_without_timing(path):
    document = json.loads(path.read_text())
    document.pop("execution_time")
    return document


@pytest.mark.parametrize("kind", ["dask", "ray"])
def test_a_local_cluster_grades_byte_for_byte_like_the_local_pool(kind, cohort, local_out, tmp_path):
    out = tmp_path / kind
    outcomes = bulk.grade_all("a2_numpy_mlp", cohort, out, workers=2, executor=kind)
    assert [(o.student, o.error, o.reused) for o in outcomes] == [(s, None, False) for s in sorted(STUDENTS)]
    assert (out / "grades.csv").read_bytes() == (local_out / "grades.csv").read_bytes()
    for student in STUDENTS:
        assert (out / student / "feedback.md").read_bytes() == (local_out / student / "feedback.md").read_bytes()
        assert _results_without_timing(out / student / "results.json") == \
            _results_without_timing(local_out / student / "results.json")
    # The resume logic is the coordinator's: a re-run on any executor starts no cluster at all.
    again = bulk.grade_all("a2_numpy_mlp", cohort, out, workers=2, executor=kind)
    assert all(o.reused for o in again)
    assert (out / "grades.csv").read_bytes() == (local_out / "grades.csv").read_bytes()


def test_a_worker_refuses_an_assignment_that_differs_from_the_coordinators(load):
    context = bulk.Context("a2_numpy_mlp", str(ROOT), fingerprint="0" * 64)
    outcome = bulk.grade_one(context, bulk.Job("alice", str(ROOT / "examples" / "a2_numpy_mlp" / "alice"), "k"))
    assert outcome.row["status"] == "grader_error" and outcome.result is None
    assert "identical to the coordinator's" in outcome.error and "NNGRADE_ROOT" in outcome.error


def test_a_worker_elsewhere_finds_the_assignment_under_its_own_nngrade_root(load, tmp_path, monkeypatch):
    fingerprint = bulk.assignment_fingerprint(load("a2_numpy_mlp"))
    context = bulk.Context("a2_numpy_mlp", "/no/such/checkout/on/this/worker", fingerprint)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NNGRADE_ROOT", str(ROOT))
    assert bulk._matching_assignment(context).folder == ROOT / "assignments" / "a2_numpy_mlp"


def test_shipped_files_arrive_as_the_sandbox_would_copy_them(tmp_path):
    folder = tmp_path / "alice"
    (folder / "pkg").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / "mlp.py").write_text("x = 1\n")
    (folder / "pkg" / "helper.py").write_bytes(b"\x00binary\xff")
    (folder / ".git" / "config").write_text("secret")
    os.symlink("/etc/passwd", folder / "link.txt")
    job = bulk.Job("alice", str(folder), "k", bulk._shipped(folder))
    assert [name for name, _ in job.files] == ["mlp.py", "pkg/helper.py"]
    with bulk._materialized(job) as copy:
        assert copy != folder and bulk.content_hash(copy) == bulk.content_hash(folder)
        assert (copy / "pkg" / "helper.py").read_bytes() == b"\x00binary\xff"
    assert not copy.exists()


def test_executors_default_to_the_usable_cores_and_refuse_unknown_kinds():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert executors.usable_cores() == expected
    with pytest.raises(ValueError, match="unknown executor"):
        executors.start("slurm")
    with pytest.raises(ValueError, match="--scheduler needs"):
        executors.start("local", 1, scheduler="tcp://127.0.0.1:8786")


def _zygote_of_this_process():
    """(pool process, its zygote, that zygote's parent), from inside a pool process."""
    import time

    from graders.sandbox import host

    zygote = host.shared_zygote(with_torch=False)
    time.sleep(0.2)  # so that both pool processes take some of the tasks
    with open(f"/proc/{zygote.pid}/stat") as stat:
        parent = int(stat.read().rsplit(")", 1)[1].split()[1])
    return os.getpid(), zygote.pid, parent


def test_the_local_pool_takes_its_zygotes_from_one_shared_interpreter():
    """numpy (or torch) is imported once for the batch, by the shared interpreter; each pool
    process still has a zygote of its own, forked from it."""
    from graders.sandbox import host

    shared = host.SharedZygotes(with_torch=False)
    try:
        with executors.start("local", 2, zygotes=shared) as pool:
            futures = [pool.submit(_zygote_of_this_process) for _ in range(6)]
            seen = {future.result() for future in futures}
    finally:
        shared.close()
    assert len({process for process, _, _ in seen}) == 2
    assert len({zygote for _, zygote, _ in seen}) == 2  # one each
    assert {parent for _, _, parent in seen} == {shared._process.pid}


def _cpus_of_this_process():
    import time

    time.sleep(0.2)  # so that every pool process takes some of the tasks
    return os.getpid(), tuple(sorted(os.sched_getaffinity(0)))


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs two usable CPUs")
def test_a_pool_as_large_as_the_machine_keeps_each_grading_process_to_a_cpu_of_its_own():
    cores = sorted(os.sched_getaffinity(0))
    with executors.start("local", len(cores)) as pool:
        seen = {future.result() for future in [pool.submit(_cpus_of_this_process) for _ in range(3 * len(cores))]}
    assert sorted(cpus for _, cpus in seen) == [(cpu,) for cpu in cores]
    with executors.start("local", len(cores) - 1) as pool:  # smaller: the scheduler places it
        seen = {future.result() for future in [pool.submit(_cpus_of_this_process) for _ in range(3 * len(cores))]}
    assert {cpus for _, cpus in seen} == {tuple(cores)}
