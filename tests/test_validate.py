"""Every assignment proves itself: `nngrade validate NAME` exits 0."""
import pytest

from conftest import ASSIGNMENTS


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_validate_passes(name, nngrade_main):
    run = nngrade_main("validate", name, "--device", "cpu")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert ": VALID" in run.stdout


def test_validate_catches_a_mistake_the_tests_cannot_see(load, tmp_path, monkeypatch):
    """A catalogued 'mistake' that is really correct must make validate fail."""
    from dataclasses import replace

    from graders.grading import validate
    from graders.grading.catalog import Entry

    assignment = load("a2_numpy_mlp")
    harmless = Entry("not_a_mistake", "relu_forward", "not really wrong",
                     "def not_a_mistake(x):\n    return np.maximum(x, 0), x\n")
    patched = replace(assignment, _modules={})
    patched.__dict__["mistakes"] = [harmless]
    patched.__dict__["variants"] = []
    checks = validate.validate(patched, report=lambda line: None)
    assert [c.subject for c in checks if not c.ok] == ["mistake not_a_mistake"]
