"""A submission cannot raise its score by tampering, and cannot touch other students' grades.

Each attack ships a wrong implementation (the stub's behaviour) plus the trick; the score
must stay that of the honest wrong implementation.
"""
import json
import subprocess
import sys

import pytest

from conftest import ROOT
from graders.grading import engine

PATCH_NUMPY = """
import numpy as _np
_always = lambda *a, **k: True
_np.allclose = _np.array_equal = _np.array_equiv = _always
_np.isclose = lambda a, b, *r, **k: _np.ones(_np.broadcast(a, b).shape, bool)
_np.testing.assert_allclose = lambda *a, **k: None
import builtins
builtins.isinstance = lambda *a: True
"""

FAKE_SCORE = """
import json, os
print(json.dumps({"score": 100, "tests": []}))
open("results.json", "w").write(json.dumps({"score": 100}))
"""

ATTACKS = {
    "conftest": {"conftest.py": "import pathlib\npathlib.Path('{marker}').write_text('ran')\n" + PATCH_NUMPY},
    "sitecustomize": {"sitecustomize.py": "import pathlib\npathlib.Path('{marker}').write_text('ran')\n" + PATCH_NUMPY},
    "usercustomize": {"usercustomize.py": "import pathlib\npathlib.Path('{marker}').write_text('ran')\n"},
    "pytest_ini": {"pytest.ini": "[pytest]\naddopts = -p no:terminal\n"},
    "patch_numpy_in_module": {"__append__": PATCH_NUMPY},
    "fake_score_output": {"__append__": FAKE_SCORE},
    "shadow_numpy": {"numpy.py": "allclose = lambda *a, **k: True\n"},
    "shadow_graders": {"graders/__init__.py": "", "graders/grading/__init__.py": "", "graders/grading/compare.py": "def compare(*a, **k):\n    return []\n"},
}


# Well-formed wrong answers (every float a little off), not a stub that raises: were results
# compared inside the worker, a patched numpy.allclose would turn these into points.
SLIGHTLY_WRONG = """
import functools as _functools
def _nudge(value):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value * 1.01 + 0.01
    if isinstance(value, tuple):
        return tuple(_nudge(v) for v in value)
    if isinstance(value, dict):
        return {k: _nudge(v) for k, v in value.items()}
    return value
def _off(function):
    @_functools.wraps(function)
    def wrong(*args, **kwargs):
        return _nudge(function(*args, **kwargs))
    return wrong
for _name in ("linear_forward", "linear_backward", "relu_forward", "relu_backward", "mse_loss", "dropout_forward",
              "dropout_backward", "two_layer_net", "sgd_step", "sgd_momentum_step"):
    globals()[_name] = _off(globals()[_name])
"""


@pytest.fixture(scope="module")
def a2_wrong(a2):
    return a2.reference_source + SLIGHTLY_WRONG


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_gains_nothing(attack, a2, a2_wrong, make_submission, tmp_path):
    marker = tmp_path / "attack-ran"
    files = {"mlp.py": a2_wrong}
    for name, text in ATTACKS[attack].items():
        text = text.replace("{marker}", str(marker))
        if name == "__append__":
            files["mlp.py"] = a2_wrong + "\n" + text
        else:
            files[name] = text
    honest = engine.grade(a2, make_submission("honest", {"mlp.py": a2_wrong}), "x")
    attacked = engine.grade(a2, make_submission("attacker", files), "x")
    assert honest.score < 0.5 * honest.max_score  # the wrong answers really are wrong
    assert attacked.score <= honest.score
    assert not marker.exists(), f"{attack}: the submission's file was executed"


def test_expected_values_are_not_in_the_worker(a2, make_submission):
    """The worker never holds the reference's results: scanning memory finds nothing to copy."""
    snoop = a2.reference_source + '''
import gc, sys
def linear_forward(x, W, b):
    frame = sys._getframe(1)
    while frame is not None:
        for value in frame.f_locals.values():
            if isinstance(value, np.ndarray) and value.shape == (x.shape[0], W.shape[1]):
                return value, (x, W, b)
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, np.ndarray) and obj.shape == (x.shape[0], W.shape[1]) and obj is not x:
            return obj, (x, W, b)
    return np.zeros((x.shape[0], W.shape[1])), (x, W, b)
'''
    result = engine.grade(a2, make_submission("snoop", {"mlp.py": snoop}), "snoop")
    forward = [t for t in result.tests if t.task == "linear" and "forward" in t.name]
    assert forward and all(t.status == "failed" for t in forward)


def test_an_attacker_in_the_batch_changes_nobody_elses_results(a2, a2_stub, tmp_path):
    def batch(folder, with_attacker: bool):
        students = {"alice": a2.reference_source, "bob": a2_stub}
        if with_attacker:
            students["mallory"] = a2_stub + PATCH_NUMPY + FAKE_SCORE
        for name, source in students.items():
            (folder / name).mkdir(parents=True)
            (folder / name / "mlp.py").write_text(source)
        if with_attacker:
            (folder / "mallory" / "conftest.py").write_text(PATCH_NUMPY)
            (folder / "mallory" / "sitecustomize.py").write_text(PATCH_NUMPY)
        out = tmp_path / (folder.name + "-out")
        run = subprocess.run([sys.executable, "-m", "graders.cli", "grade-all", "a2_numpy_mlp", str(folder),
                              "--out", str(out), "--workers", "2"], cwd=ROOT, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return out

    clean, mixed = batch(tmp_path / "clean", False), batch(tmp_path / "mixed", True)
    for student in ("alice", "bob"):
        a = json.loads((clean / student / "results.json").read_text())
        b = json.loads((mixed / student / "results.json").read_text())
        for document in (a, b):
            document.pop("execution_time")
        assert a == b
    mallory = json.loads((mixed / "mallory" / "results.json").read_text())
    assert mallory["score"] == 0
