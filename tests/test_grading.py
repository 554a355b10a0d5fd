"""A broken submission costs only what it breaks, and always gets a clear message."""
from dataclasses import replace

import pytest

from graders.grading import engine
from graders.sandbox.host import Limits


def reference_with(assignment, extra: str) -> dict:
    return {"mlp.py": assignment.reference_source + "\n\n" + extra}


@pytest.mark.parametrize("source, expected", [
    ("def linear_forward(x, W, b)\n    return x\n", "SyntaxError"),
    ("import sys\nsys.exit(0)\n", "sys.exit(0)"),
    ("import os\nos._exit(0)\n", "exited with code 0"),
    ("raise ImportError('no such thing')\n", "ImportError: no such thing"),
])
def test_unimportable_submission_scores_zero_with_the_reason(a2, make_submission, source, expected):
    result = engine.grade(a2, make_submission("s", {"mlp.py": source}), "s")
    assert result.status == "not_loaded" and result.score == 0 and result.max_score > 0
    assert expected in result.message
    assert all(t.status == "failed" for t in result.tests)


def test_missing_module_file_is_named(a2, make_submission):
    result = engine.grade(a2, make_submission("s", {"solution.py": "x = 1\n"}), "s")
    assert result.status == "not_loaded" and "mlp.py is missing" in result.message


def test_infinite_loop_at_import_times_out(a2, make_submission):
    quick = replace(a2, limits=Limits(call_seconds=1.0), _modules={})
    result = engine.grade(quick, make_submission("s", {"mlp.py": "while True:\n    pass\n"}), "s")
    assert result.status == "not_loaded" and "timed out" in result.message and result.score == 0


def test_a_crash_or_hang_in_one_function_costs_only_its_tests(a2, make_submission):
    quick = replace(a2, limits=Limits(call_seconds=2.0), _modules={})
    sabotage = ("import os\n"
                "def relu_forward(x):\n    os._exit(1)\n"
                "def mse_loss(pred, target):\n    while True:\n        pass\n")
    result = engine.grade(quick, make_submission("s", reference_with(a2, sabotage)), "s")
    by_task = {}
    for test in result.tests:
        by_task.setdefault(test.task, []).append(test)
    assert all(t.status == "failed" for t in by_task["relu"])
    assert all(t.status == "failed" for t in by_task["mse"])
    assert any("timed out" in t.message and t.limit == "call_seconds" for t in by_task["mse"])
    assert any("exited with code 1" in t.message for t in by_task["relu"])
    assert all(t.status == "passed" for t in by_task["linear"] + by_task["optimizers"])


def test_reference_and_a_regrade_give_identical_results(a2, make_submission):
    folder = make_submission("s", {"mlp.py": a2.reference_source})
    first, second = engine.grade(a2, folder, "s"), engine.grade(a2, folder, "s")
    assert first.score == first.max_score
    assert [(t.name, t.points, t.message) for t in first.tests] == [(t.name, t.points, t.message) for t in second.tests]


def test_students_get_different_hidden_numbers(a2, make_submission):
    """Through the engine: the same wrong code quotes different numbers for another student
    (their inputs differ) and the same numbers on a regrade."""
    wrong = a2.source_with(next(m for m in a2.mistakes if m.target == "linear_backward"))
    folder = make_submission("s", {"mlp.py": wrong})
    failures = lambda result: [t.message for t in result.tests if t.status == "failed"]  # noqa: E731
    alice, again, bob = (engine.grade(a2, folder, name) for name in ("alice", "alice", "bob"))
    assert failures(alice) and failures(alice) == failures(again)
    assert failures(alice) != failures(bob)


def test_printing_is_captured_and_capped(a2, make_submission):
    chatty = reference_with(a2, "print('x' * 200_000)\n")
    result = engine.grade(a2, make_submission("s", chatty), "s")
    assert result.score == result.max_score
    assert "more bytes of output cut" in result.output and len(result.output) < 70_000


def test_the_submission_time_limit_stops_the_call_in_flight_and_every_test_after_it(a2, make_submission):
    """submission_seconds is wall-clock time for the whole submission: the call running when
    it ends is stopped, and the tests after it are not run, each saying why, at no cost to
    the tests already passed."""
    import time

    quick = replace(a2, limits=Limits(call_seconds=60, submission_seconds=6), _modules={})
    stalled = reference_with(a2, "def relu_forward(x):\n    import time\n    time.sleep(50)\n")
    started = time.monotonic()
    result = engine.grade(quick, make_submission("s", stalled), "s")
    assert time.monotonic() - started < 40  # the 50 s call did not run out
    names = [t.name for t in result.tests]
    first = next(i for i, t in enumerate(result.tests) if t.limit == "submission_seconds")
    assert first <= names.index("relu_forward_random")
    assert all(t.status == "passed" for t in result.tests[:first])
    after = result.tests[first:]
    assert all(t.limit == "submission_seconds" and t.status == "failed" for t in after), [t.message for t in after]
    assert all(t.message == "not graded: the submission used up its 6 s time limit" for t in after[1:])
    assert "per-submission time limit" in after[0].message or after[0].message == after[1].message
    assert "submission_seconds" in result.limits_hit and result.score == sum(t.points for t in result.tests[:first])
