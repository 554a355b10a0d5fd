"""GitHub Classroom's autograding result: the JSON a classroom-resources grader action
puts (base64-encoded) in its ``result`` output and the grading reporter adds up.

    {"version": 1, "status": "pass" | "fail" | "error", "max_score": 100,
     "tests": [{"name", "status", "score", "message", "test_code", "filename",
                "line_no", "duration"}, ...]}

The reporter sums every test's ``score`` and the runner's ``max_score``, so one entry per
(test, device) carries that test's points, as a multiple of 1/64 apportioned so that the
reporter's floating-point sum is exactly the submission's score (to 1/64 of a point). Messages follow the reveal policy (they are
the visible ``output`` of results.json). Tests that were not run and do not count are
left out (the reporter would show them as failures); the top-level message names them.
"""
from __future__ import annotations

import base64
import json
import math

from graders.outputs import render

UNIT = 1 / 64  # binary-exact, so adding any number of them in JavaScript loses nothing


def classroom_result(document: dict) -> dict:
    """The result for one graded submission, from its results.json document."""
    block = document.get("extra_data", {}).get("nngrade", {})
    visible = {str(t.get("number")): str(t.get("output", "")) for t in document.get("tests", [])}
    numbers = [str(t.get("number")) for t in document.get("tests", [])
               if "details_of" not in (t.get("extra_data") or {})]
    tests, skipped, kept = [], [], []
    for number, record in zip(numbers, render.test_records(document)):
        if record.status == "not_run" and not record.counts:
            skipped.append(record)
        else:
            kept.append((number, record))
    scores = _apportion([r.max_points if r.status == "passed" else r.points for _, r in kept],
                        float(document.get("score", 0.0)))
    for (number, record), score in zip(kept, scores):
        passed = record.status == "passed"
        tests.append({
            "name": f"{record.title} [{record.device}]",
            "status": "pass" if passed else "fail",
            "score": _number(score),
            "message": "" if passed else visible.get(number, record.message),
            "test_code": f"nngrade hidden test {record.id} on {record.device}",
            "filename": "", "line_no": 0, "duration": 0,
        })
    result = {
        "version": 1,
        "status": "pass" if all(t["status"] == "pass" for t in tests) else "fail",
        "max_score": _number(round(float(block.get("max_score", sum(r.max_points for _, r in kept))), 6)),
        "tests": tests,
    }
    message = str(document.get("output", ""))
    if skipped:
        message += f" Not run, not counted: {', '.join(f'{r.id} [{r.device}]' for r in skipped)}."
    result["message"] = message.strip()
    return result


def encode(result: dict) -> str:
    """As a grader action's ``result`` output: base64 of the JSON text."""
    return base64.b64encode(json.dumps(result).encode()).decode()


def _apportion(values: list[float], total: float) -> list[float]:
    """``values`` as multiples of UNIT that add up to ``total`` rounded to UNIT (largest
    remainders get the spare units)."""
    raw = [max(v, 0.0) / UNIT for v in values]
    units = [math.floor(r + 1e-9) for r in raw]
    spare = round(total / UNIT) - sum(units)
    order = sorted(range(len(raw)), key=lambda i: raw[i] - units[i], reverse=spare < 0)
    if spare > 0:
        order.reverse()
    for i in order:
        if spare == 0:
            break
        if spare > 0 and raw[i] > units[i]:
            units[i], spare = units[i] + 1, spare - 1
        elif spare < 0 and units[i] > 0:
            units[i], spare = units[i] - 1, spare + 1
    return [u * UNIT for u in units]


def _number(value: float):
    return int(value) if float(value).is_integer() else value
