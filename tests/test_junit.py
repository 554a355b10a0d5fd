"""JUnit XML: one testcase per (test, device); failures carry the message, crashes are
errors, tests that were not run are skipped with the reason."""
import xml.etree.ElementTree as ET

from conftest import ROOT
from graders.outputs import junit, render
from graders.grading.engine import Diagnosis, SubmissionResult
from graders.grading.engine import TestResult as Outcome


def _result(student="bob", reveal="messages"):
    tests = [
        Outcome("forward", "linear", "cpu", "forward", 5.0, points=5.0, status="passed"),
        Outcome("backward", "linear", "cpu", "backward", 10.0, status="failed",
                   message="dW: shape (3, 4), expected (4, 3)\nsecond line",
                   diagnoses=[Diagnosis("dw_transposed", "dW came out transposed.")]),
        Outcome("forward", "linear", "cuda", "forward", 2.0, status="not_run",
                   message="not run (no CUDA on the grading machine)"),
        Outcome("loop", "relu", "cpu", "loop", 3.0, status="failed", crashed=True, limit="submission_seconds",
                   message="hit the CPU-time limit of 20 s while calling relu_forward"),
    ]
    return SubmissionResult(student, "a2_numpy_mlp", "graded", tests=tests, reveal=reveal)


def test_testcases_failures_errors_and_skips():
    root = ET.fromstring(junit.junit_xml([render.results_json(_result())]))
    suite = root.find("testsuite")
    assert suite.get("name") == "a2_numpy_mlp.bob"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("4", "1", "1", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases) == ["forward[cpu]", "backward[cpu]", "forward[cuda]", "loop[cpu]"]
    assert cases["backward[cpu]"].get("classname") == "a2_numpy_mlp.linear"
    failure = cases["backward[cpu]"].find("failure")
    assert failure.get("message") == "dW: shape (3, 4), expected (4, 3)"
    assert "second line" in failure.text and "dW came out transposed" in failure.text
    assert cases["forward[cuda]"].find("skipped").get("message") == "not run (no CUDA on the grading machine)"
    assert cases["loop[cpu]"].find("error").get("type") == "submission_seconds"
    assert cases["forward[cpu]"].find("failure") is None and cases["forward[cpu]"].find("skipped") is None
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties["score"] == "5.0" and properties["student"] == "bob"


def test_instructors_junit_keeps_the_details_under_names():
    root = ET.fromstring(junit.junit_xml([render.results_json(_result(reveal="names"))]))
    failure = next(root.iter("failure"))
    assert failure.get("message").startswith("dW: shape")  # from the after_published details entry
    assert len(list(root.iter("testcase"))) == 4  # details entries are not testcases


def test_several_students_one_suite_each():
    root = ET.fromstring(junit.junit_xml([render.results_json(_result("a")), render.results_json(_result("b"))]))
    assert [s.get("name") for s in root.iter("testsuite")] == ["a2_numpy_mlp.a", "a2_numpy_mlp.b"]
    assert root.get("tests") == "8" and root.get("failures") == "2"


def test_grade_format_junit_prints_xml(nngrade_main):
    run = nngrade_main("grade", "a2_numpy_mlp", ROOT / "examples" / "a2_numpy_mlp" / "erin", "--format", "junit")
    assert run.returncode == 0, run.stderr
    suite = ET.fromstring(run.stdout).find("testsuite")
    assert suite.get("name") == "a2_numpy_mlp.erin" and suite.get("failures") == suite.get("tests") != "0"
    assert "is not implemented yet" in next(suite.iter("failure")).get("message")
