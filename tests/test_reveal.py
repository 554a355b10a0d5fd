"""The reveal policy: how much of the hidden tests feedback.md and results.json show."""
import copy
import re

import pytest

from graders import kinds
from graders.grading import assignment, engine
from graders.outputs import render


def _grade_as(load, make_submission, reveal):
    a2 = copy.copy(load("a2_numpy_mlp"))
    a2.reveal = reveal
    mistake = next(m for m in a2.mistakes if m.target == "linear_backward")
    # One known mistake, plus a print of a hidden input (the way a student would copy it out).
    source = a2.source_with(mistake).replace(
        "def linear_forward(x, W, b):", "def linear_forward(x, W, b):\n    print('PRINTED', x.sum())", 1)
    assert "PRINTED" in source
    folder = make_submission(f"student-{reveal}", {"mlp.py": source})
    result = engine.grade(a2, folder, "same-student")
    return result, render.results_json(result), render.feedback_markdown(result), mistake


@pytest.mark.parametrize("reveal", ["names", "messages", "inputs"])
def test_reveal_levels(reveal, load, make_submission):
    result, document, feedback, mistake = _grade_as(load, make_submission, reveal)
    failed = [t for t in document["tests"] if t.get("status") == "failed"]
    assert failed and 0 < document["score"] < 100
    cause = mistake.explanation[:40]
    if reveal == "names":
        assert all(t["output"] in ("passed", "failed") for t in document["tests"] if "status" in t)
        assert cause not in feedback and "What went wrong" not in feedback
        details = [t for t in document["tests"] if "details" in t["tags"]]
        assert len(details) == len(failed) and all(t["visibility"] == "after_published" for t in details)
        assert all(t["max_score"] == t["score"] == 0 for t in details) and cause in details[0]["output"]
        assert sum(t["score"] for t in document["tests"]) == pytest.approx(document["score"], abs=1e-3)
    else:
        assert cause in feedback and all(cause in t["output"] or "Likely" not in t["output"] for t in failed)
        assert not [t for t in document["tests"] if "details" in t["tags"]]
        assert "What it sent" in feedback or "The hidden inputs it sent" in feedback
        shown = [line for t in result.tests for line in t.inputs]
        assert any("float64 array of shape" in line for line in shown)
        values_shown = any(re.search(r"shape \([\d, ]+\) = \[", line) for line in shown)
        assert values_shown == (reveal == "inputs")
    # What the code printed can carry a hidden input: shown only when inputs may be.
    assert ("PRINTED" in feedback) == (reveal == "inputs")
    assert document["extra_data"]["nngrade"]["reveal"] == reveal


def test_manifest_reveal_is_checked(tmp_path, load):
    a2 = load("a2_numpy_mlp")
    manifest = (a2.folder / "manifest.toml").read_text()
    for value, ok in (("names", True), ("answers", True), ("everything", False)):
        folder = tmp_path / value / "assignments" / "a2_numpy_mlp"
        folder.mkdir(parents=True)
        (folder / "manifest.toml").write_text(f'reveal = "{value}"\n' + manifest)
        (tmp_path / value / "reference" / "a2_numpy_mlp").mkdir(parents=True)
        (tmp_path / value / "reference" / "a2_numpy_mlp" / "mlp.py").write_text(a2.reference_source)
        if ok:
            assert kinds.load("a2_numpy_mlp", tmp_path / value).reveal == value
        else:
            with pytest.raises(assignment.ManifestError, match="reveal must be one of"):
                kinds.load("a2_numpy_mlp", tmp_path / value)
    assert a2.reveal == "messages"  # the default
    assert assignment.reveals("answers", "inputs") and not assignment.reveals("messages", "inputs")
