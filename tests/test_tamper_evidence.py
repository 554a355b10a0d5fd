"""Possible tampering is recorded with the student's file and line, zeroes the test it happened
in, flags the submission, and is never claimed of honest code."""
import csv
import json
import os
import sys

import pytest

from graders.grading import engine
from graders.outputs import render
from graders.integrity import scan

# Each trick runs inside relu_forward (task relu) and then returns the right answer: the
# relu tests must score 0 as tampered; the other tasks keep their points.
TRICKS = {
    "gc": ("gc", "    import gc\n    gc.get_objects()\n"),
    "frames": ("frames", "    import sys\n    sys._getframe(0).f_back\n"),
    "traceback frame": ("frames", "    try:\n        1 / 0\n    except ZeroDivisionError as e:\n"
                                  "        e.__traceback__.tb_frame\n"),
    "ctypes": ("ctypes", "    import ctypes\n    ctypes.pythonapi.Py_IsInitialized()\n"),
    "exec": ("exec", "    exec('y = ' + '1')\n"),
    "thread": ("thread", "    import threading\n    t = threading.Thread(target=print)\n    t.start()\n    t.join()\n"),
    "process": ("process", "    import subprocess\n    subprocess.run(['true'])\n"),
    "file outside": ("file", "    open('/etc/hostname').close()\n"),
    "grader import": ("grader", "    import importlib\n    importlib.import_module('graders.' + 'guard')\n"),
    "trace hook": ("trace", "    import sys\n    sys.settrace(None)\n"),
}


def _with_trick(source: str, trick: str) -> tuple[str, int]:
    """a2's reference with ``trick`` at the top of relu_forward; returns (source, trick's line)."""
    marker = "def relu_forward(x):"
    head, tail = source.split(marker, 1)
    docstring_end = tail.index('"""', tail.index('"""') + 3) + 3
    body = tail[:docstring_end] + "\n" + trick + tail[docstring_end:]
    line = (head + marker + tail[:docstring_end]).count("\n") + 2
    return head + marker + body, line


def test_touching_torchs_dispatcher_is_recorded_in_a_torch_assignment(load, make_submission):
    """In a torch assignment (torch is loaded and guarded before the student's import); in a
    NumPy one there is no torch guard to tamper with, and importing torch late is no tampering."""
    a1 = load("a1_foundations")
    marker = "def relu(x):"
    head, tail = a1.reference_source.split(marker, 1)
    docstring_end = tail.index('"""', tail.index('"""') + 3) + 3
    trick = "    import torch\n    torch.library.Library('aten', 'IMPL')\n"
    source = head + marker + tail[:docstring_end] + "\n" + trick + tail[docstring_end:]
    line = (head + marker + tail[:docstring_end]).count("\n") + 2
    result = engine.grade(a1, make_submission("tamperer", {"foundations.py": source}), "tamperer", devices={"cpu"})
    runtime = [e for e in result.evidence if e.kind == "torch_internals" and e.phase == "call"]
    assert runtime and runtime[0].file == "foundations.py" and line <= runtime[0].line < line + 5, result.evidence
    assert result.flagged and any(t.tampered and t.points == 0 for t in result.tests if t.task == "neuron")


def test_importing_a_library_late_is_not_tampering(a2, make_submission):
    """A NumPy assignment's worker has no torch loaded: a stray ``import torch`` opens torch's
    files (and /proc/self/maps, and source lines for its warnings) from the student's line,
    and none of that is the student opening files."""
    source = a2.reference_source.replace("def relu_forward(x):", "def relu_forward(x):\n    import torch  # noqa", 1)
    result = engine.grade(a2, make_submission("honest", {"mlp.py": "import torch\n" + source}), "honest")
    assert not result.flagged and result.evidence == [] and result.score == result.max_score > 0


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_tampering_is_recorded_with_file_and_line_and_zeroes_the_test(trick, a2, make_submission):
    kind, code = TRICKS[trick]
    source, line = _with_trick(a2.reference_source, code)
    result = engine.grade(a2, make_submission("tamperer", {"mlp.py": source}), "tamperer")
    assert result.flagged
    runtime = [e for e in result.evidence if e.kind == kind and e.phase == "call"]
    assert runtime and runtime[0].file == "mlp.py" and line <= runtime[0].line < line + 5, result.evidence
    relu = [t for t in result.tests if t.task == "relu" and "forward" in t.name]
    assert relu and all(t.points == 0 and t.tampered and "not scored" in t.message for t in relu)
    others = [t for t in result.tests if t.task in ("linear", "mse", "optimizers")]
    assert others and all(t.status == "passed" and not t.tampered for t in others)


def test_tampering_at_import_zeroes_every_test(a2, make_submission):
    source = a2.reference_source + "\nimport gc\n_everything = gc.get_objects()\n"
    result = engine.grade(a2, make_submission("importer", {"mlp.py": source}), "importer")
    assert result.flagged and result.score == 0
    assert any(e.phase == "import" and e.kind == "gc" and e.file == "mlp.py" for e in result.evidence)
    assert all(t.tampered for t in result.tests)


HONEST = '''
import collections
import dataclasses
import functools
import inspect
import logging
import traceback
import warnings


@dataclasses.dataclass
class _Shape:
    rows: int


_Pair = collections.namedtuple("_Pair", "a b")
_WEIGHTS = np.load(__file__.replace("mlp.py", "weights.npy"))


@functools.lru_cache(maxsize=None)
def _identity(n):
    return n


def relu_forward(x):
    """ReLU, written with a few harmless things honest code does."""
    logging.getLogger("mine").info("relu on %s", x.shape)
    warnings.warn("just a note")
    try:
        raise ValueError("caught")
    except ValueError:
        traceback.format_exc()
    inspect.signature(relu_forward)
    _Shape(x.shape[0]), _Pair(1, 2), _identity(3), _WEIGHTS.sum()
    print("computing relu")
    out = np.maximum(x, 0)
    return out, x
'''


def test_honest_code_is_not_flagged(a2, make_submission, tmp_path):
    import numpy as np

    folder = make_submission("honest", {"mlp.py": a2.reference_source + HONEST})
    np.save(folder / "weights.npy", np.ones(3))
    result = engine.grade(a2, folder, "honest")
    assert result.score == result.max_score and not result.flagged, [e.describe() for e in result.evidence]


def test_the_guard_and_the_record_are_out_of_reach_of_module_globals(a2, make_submission):
    """Without gc or frames (both recorded), a submission that searches every class's
    module globals for the guard's state finds nothing to switch off."""
    search = '''
def relu_forward(x):
    found = []
    todo, seen = list(object.__subclasses__()), set()
    while todo:
        cls = todo.pop()
        if id(cls) in seen:
            continue
        seen.add(id(cls))
        try:
            todo += cls.__subclasses__()
        except TypeError:
            pass
        for value in list(vars(cls).values()):
            namespace = getattr(getattr(value, "__func__", value), "__globals__", None) or {}
            for item in list(namespace.values()):
                if type(item).__name__ in ("Fence", "_State", "Recorder"):
                    found.append(item)
    return (np.maximum(x, 0) if found else np.zeros_like(x)), x
'''
    result = engine.grade(a2, make_submission("searcher", {"mlp.py": a2.reference_source + search}), "searcher")
    forward = [t for t in result.tests if t.task == "relu" and "forward" in t.name]
    assert forward and all(t.status == "failed" for t in forward), "the search found the guard's state"
    assert result.flagged  # and __subclasses__ / __globals__ are in the static findings


# --------------------------------------------------------------------------- static scan

class _Fake:
    module = "mlp"


def _scan(tmp_path, files: dict):
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    return scan.scan_submission(tmp_path, _Fake(), skip={})


def test_static_scan_names_each_finding_with_its_line(tmp_path):
    source = ("import torch\nimport torch.nn.functional as F\nfrom torch.overrides import TorchFunctionMode\n"
              "x = torch._C._nn.thnn_conv2d\nimport helper\n"
              "y = getattr(torch, 'con' + 'v2d')\nz = eval(compile(open('a').read(), 'a', 'exec'))\n"
              "f = (lambda: 0).__globals__\nok = eval('1 + 1')\nw = F.conv2d\n")
    helper = "import ctypes\n"
    found = {(e.kind, e.file, e.line) for e in _scan(tmp_path, {"mlp.py": source, "helper.py": helper})}
    assert {("torch_internals", "mlp.py", 3), ("torch_internals", "mlp.py", 4), ("torch_internals", "mlp.py", 6),
            ("exec", "mlp.py", 7), ("frames", "mlp.py", 8), ("ctypes", "helper.py", 1)} <= found
    assert not any(line in (9, 10) for _, _, line in found)  # a literal eval, a plain F.conv2d


@pytest.mark.parametrize("files, kind", [
    ({"mlp.py": "x = 1\n" * (scan.MAX_FILE_BYTES // 5)}, "unreadable"),
    ({"mlp.py": b"\xff\xfe\x00binary"}, "unreadable"),
    ({"mlp.py": "x = 1\x00\n"}, None),  # Python cannot import it either: the tests say so
    ({"mlp.py": "x = " + "(" * 100_000 + "1" + ")" * 100_000 + "\n"}, None),  # too deep: not run, not a crash
    ({"mlp.py": "x = " + "-" * 200_000 + "1\n"}, "unreadable"),  # nesting the parser gives up on
    ({"mlp.py": "def broken(:\n"}, None),
    ({"mlp.py": "x = 1\n", "fast.cpython-311-x86_64-linux-gnu.so": b"\x7fELF\x02\x01"}, "native"),
    ({"mlp.py": "x = 1\n", "__pycache__/mlp.cpython-311.pyc": b"\xa7\r\r\n\x01\x00\x00\x00" + b"\0" * 8}, "native"),
    ({"mlp.py": "x = 1\n", "__pycache__/mlp.cpython-311.pyc": b"\xa7\r\r\n\x00\x00\x00\x00" + b"\0" * 8}, None),
])
def test_static_scan_survives_hostile_files(tmp_path, files, kind):
    found = _scan(tmp_path, files)
    assert {e.kind for e in found} == ({kind} if kind else set()), found


# --------------------------------------------------------------------------- outputs

def test_flag_and_evidence_reach_results_feedback_and_grades_csv(a2, make_submission, tmp_path):
    source, _ = _with_trick(a2.reference_source, TRICKS["gc"][1])
    result = engine.grade(a2, make_submission("tamperer", {"mlp.py": source}), "tamperer")
    render.write_student(result, tmp_path / "tamperer")
    render.write_csv([render.csv_row(result)], tmp_path / "grades.csv")
    block = json.loads((tmp_path / "tamperer" / "results.json").read_text())["extra_data"]["nngrade"]
    assert block["flagged"] is True and any(e["kind"] == "gc" and e["file"] == "mlp.py" for e in block["evidence"])
    feedback = (tmp_path / "tamperer" / "feedback.md").read_text()
    assert "## Integrity check" in feedback and "not a verdict" in feedback and "mlp.py line" in feedback
    assert not any(word in feedback.lower() for word in ("cheat", "dishonest", "plagiar"))
    row = next(csv.DictReader(open(tmp_path / "grades.csv")))
    assert row["flagged"] == "yes"


def test_static_scan_never_reads_through_links(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "__init__.py").write_text("import ctypes\n")
    (outside / "mlp.py").write_text("import ctypes\n")
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "mlp.py").write_text("import helper\n")
    (folder / "helper").symlink_to(outside, target_is_directory=True)
    assert scan.scan_submission(folder, _Fake(), skip={}) == []
    linked = tmp_path / "linked"
    linked.symlink_to(outside, target_is_directory=True)
    assert scan.scan_submission(linked, _Fake(), skip={}) == []
