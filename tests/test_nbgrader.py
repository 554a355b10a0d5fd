"""nbgrader notebooks (`nngrade release --format nbgrader`): the cells follow nbgrader's
schema, the reference passes and catalogued mistakes fail, and a round trip through the
real `nbgrader generate_assignment` and `nbgrader autograde` scores a correct and a wrong
student notebook as expected in the gradebook."""
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from graders import cli
from graders.outputs import notebook

CODE_ASSIGNMENTS = ["a1_foundations", "a2_numpy_mlp"]


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(scope="module")
def a2_built(load):
    return notebook.build(load("a2_numpy_mlp"))


@pytest.mark.parametrize("name", CODE_ASSIGNMENTS)
def test_cells_follow_nbgrader_schema(name, load):
    from nbgrader.nbgraderformat import MetadataValidator

    assignment = load(name)
    built = notebook.build(assignment)
    nb = built.notebook
    nbformat.validate(nb)
    MetadataValidator().validate_nb(nb)  # nbgrader's own check: ids, points, schema version 3
    assert built.left_out == []
    grades = {_meta(c)["grade_id"]: c for c in nb.cells if _meta(c).get("grade")}
    solutions = {_meta(c)["grade_id"]: c for c in nb.cells if _meta(c).get("solution")}
    assert set(grades) == {f"test_{t}" for t in assignment.tasks}
    assert set(solutions) == {f"solution_{t}" for t in assignment.tasks}
    for task in assignment.tasks.values():
        test = grades[f"test_{task.id}"]
        assert _meta(test)["points"] == task.points["cpu"] and _meta(test)["locked"]
        assert "### BEGIN HIDDEN TESTS" in test.source and "### END HIDDEN TESTS" in test.source
        assert "_run_public(" in test.source.split("### BEGIN HIDDEN TESTS")[0]  # visible checks come first
        source = solutions[f"solution_{task.id}"].source
        assert all(re.search(rf"^def {f}\(", source, re.M) for f in task.functions)
        assert source.count("### BEGIN SOLUTION") == source.count("### END SOLUTION") >= 1
    assert sum(_meta(c)["points"] for c in grades.values()) == sum(t.points["cpu"] for t in assignment.tasks.values())
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not re.search(rf"^\s*(from|import) ({assignment.module}|graders)\b", code, re.M)  # no reference, no nngrade
    assert nb.metadata.kernelspec.name == "python3"


def test_reference_passes_and_mistakes_fail_their_task(a2_built, load):
    assignment = load("a2_numpy_mlp")
    assert notebook.run(a2_built.notebook) == {}
    cells = dict(notebook.code_cells(a2_built.notebook))
    for entry_id, task in (("db_averaged", "linear"), ("two_layer_net_without_dropout", "two_layer_net")):
        entry = next(e for e in assignment.mistakes if e.id == entry_id)
        wrong = cells[f"solution_{task}"] + f"\n\n\n{entry.source}\n{entry.target} = {entry.id}\n"
        failures = notebook.run(a2_built.notebook, {f"solution_{task}": wrong})
        assert f"test_{task}" in failures
    # A net ignoring dropout_p is self-consistent, so the public gradient check first makes
    # sure dropout changed the loss: the visible checks catch it, and so does the hidden block.
    visible_only = cells["test_two_layer_net"].split("### BEGIN HIDDEN TESTS")[0]
    entry = next(e for e in assignment.mistakes if e.id == "two_layer_net_without_dropout")
    wrong = cells["solution_two_layer_net"] + f"\n\n\n{entry.source}\n{entry.target} = {entry.id}\n"
    visible = notebook.run(a2_built.notebook, {"solution_two_layer_net": wrong, "test_two_layer_net": visible_only})
    assert "dropout_p > 0 changed nothing" in visible["test_two_layer_net"]
    hidden_only = cells["test_two_layer_net"].replace(visible_only, "_run_public = lambda *args: None\n", 1)
    hidden = notebook.run(a2_built.notebook, {"solution_two_layer_net": wrong, "test_two_layer_net": hidden_only})
    assert "with dropout_p = 0.4 the loss equals the loss without dropout" in hidden["test_two_layer_net"]


def test_embedded_literals_round_trip_exactly():
    import numpy as np
    import torch

    from graders.grading.hidden import Outcome

    values = {"a": np.array([[0.1, -2.5e-300], [np.inf, np.nan]], dtype=np.float32), "b": np.float64(1 / 3),
              "c": torch.tensor([1 / 3, -0.0], dtype=torch.float64), "d": (1, "x", None, True, [2.5]),
              "e": Outcome(error="ValueError", message="axis 1"), "f": np.zeros((0, 3), np.int64),
              "g": torch.Size([2, 3]), "h": np.bool_(True), "i": float("-inf")}
    namespace = {"np": np, "torch": torch, "Outcome": Outcome}
    rebuilt = eval(notebook.literal(values), namespace)  # noqa: S307 - our own generated literal
    np.testing.assert_array_equal(rebuilt["a"], values["a"])
    assert rebuilt["a"].dtype == np.float32 and rebuilt["b"] == values["b"] and type(rebuilt["b"]) is np.float64
    assert torch.equal(rebuilt["c"], values["c"]) and rebuilt["c"].dtype == torch.float64
    assert rebuilt["d"] == values["d"] and rebuilt["e"].error == "ValueError"
    assert rebuilt["f"].shape == (0, 3) and rebuilt["g"] == torch.Size([2, 3]) and rebuilt["h"] is np.True_
    assert rebuilt["i"] == float("-inf")
    with pytest.raises(TypeError, match="object"):
        notebook.literal({"x": object()})


def _tricky_cases(np, torch, Outcome, outcome):
    """(actual, expected) pairs where comparison rules could differ, built with the given
    namespace's Outcome and outcome."""
    def raises(kind):
        def call():
            raise kind("boom")
        return outcome(call)

    f64 = np.array([1.0, np.nan, -0.0, np.inf])
    return {
        "nan where nan": (f64.copy(), f64),
        "nan where a number": (np.array([np.nan, np.nan, 0.0, np.inf]), f64),
        "signed zero": (np.array([1.0, np.nan, 0.0, np.inf]), f64),
        "opposite infinity": (np.array([1.0, np.nan, -0.0, -np.inf]), f64),
        "within tolerance": (np.array([1 + 1e-9, 2.0]), np.array([1.0, 2.0])),
        "beyond tolerance": (np.array([1 + 1e-5, 2.0]), np.array([1.0, 2.0])),
        "int for float": (1, 1.0),
        "float for int": (1.5, 1),
        "ints differ": (np.array([1, 2, 4]), np.array([1, 2, 3])),
        "bool from int": (1, True),
        "bool from numpy": (np.False_, True),
        "bool from a float": (1.0, True),
        "bool from a string": ("yes", True),
        "zero-dim for scalar": (np.array(0.5), 0.5),
        "list for scalar": ([0.5], 0.5),
        "shape": (np.zeros((2, 3)), np.zeros((3, 2))),
        "dtype": (np.zeros(3, np.float32), np.zeros(3)),
        "list for array": ([0.0, 0.0], np.zeros(2)),
        "tensor for array": (torch.zeros(2, dtype=torch.float64), np.zeros(2)),
        "array for tensor": (np.zeros(2), torch.zeros(2, dtype=torch.float64)),
        "tensor dtype": (torch.zeros(2), torch.zeros(2, dtype=torch.float64)),
        "tensor nan": (torch.tensor([float("nan"), 1.0]), torch.tensor([float("nan"), 1.0 + 1e-3])),
        "zero-dim tensor for scalar": (torch.tensor(0.25, dtype=torch.float64), 0.25),
        "string": ("relu", "ReLU"),
        "none": (None, 0.0),
        "same exception": (raises(ValueError), raises(ValueError)),
        "subclass of the exception": (raises(IndexError), raises(LookupError)),
        "other exception": (raises(KeyError), raises(IndexError)),
        "value for exception": (outcome(lambda: 3), raises(ValueError)),
        "exception for value": (raises(ValueError), outcome(lambda: 3.0)),
        "value outcome": (outcome(lambda: np.ones(2)), outcome(lambda: np.array([1.0, 2.0]))),
        "outcome for a value": (Outcome(value=3.0), 3.0),
        "nested": ({"dW": [np.ones(2), (1, True)], "loss": 0.5}, {"dW": [np.ones(2), (1, False)], "loss": 0.25}),
        "missing key": ({"dW": 1.0}, {"dW": 1.0, "db": 2.0}),
        "length": ((1.0, 2.0), (1.0, 2.0, 3.0)),
        "tuple for list": ((1.0, 2.0), [1.0, 2.0]),
    }


def test_the_notebook_cell_judges_as_the_grader_does():
    """The test_helpers cell runs compare.py and hidden.py themselves: the same cases give
    the same differences, word for word, there as in the grader."""
    import numpy as np
    import torch

    from graders.grading import compare, hidden

    cell = {"__name__": "__main__"}
    exec(compile(notebook._runtime(), "<cell test_helpers>", "exec"), cell)
    tolerance = lambda dtype: {"float64": (1e-7, 1e-9), "float32": (1e-4, 1e-5)}.get(dtype, (0.0, 0.0))  # noqa: E731
    grader = _tricky_cases(np, torch, hidden.Outcome, hidden.outcome)
    in_cell = _tricky_cases(np, torch, cell["Outcome"], cell["outcome"])
    verdicts = {}
    for name, (actual, expected) in grader.items():
        verdicts[name] = compare.compare(actual, expected, tolerance)
        assert cell["_compare"].compare(*in_cell[name], tolerance) == verdicts[name], name
    agreed = {name for name, differences in verdicts.items() if not differences}
    assert agreed == {"nan where nan", "signed zero", "within tolerance", "int for float", "bool from int",
                      "zero-dim for scalar", "same exception", "subclass of the exception", "zero-dim tensor for scalar",
                      "tuple for list"}
    with pytest.raises(TypeError):
        compare.compare(object(), object(), tolerance)
    with pytest.raises(TypeError):
        cell["_compare"].compare(object(), object(), tolerance)


def test_the_notebook_cell_defines_no_copy_of_the_graders_helpers():
    """nbruntime.py keeps what only a notebook needs; what the grader has, it takes from there."""
    import ast

    runtime = ast.parse((Path(notebook.__file__).with_name("nbruntime.py")).read_text())
    own = {node.name for node in runtime.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    own |= {target.id for node in runtime.body if isinstance(node, ast.Assign) for target in node.targets
            if isinstance(target, ast.Name)}
    from graders.grading import compare, hidden, mutation

    shared = {name for module in (compare, hidden, mutation) for name in vars(module) if not name.startswith("__")}
    assert not own & shared, own & shared
    assert "graders" not in "".join(line for line in notebook._runtime().splitlines()
                                    if line.lstrip().startswith(("import ", "from ")))


def test_the_notebook_cell_refuses_an_in_place_change_in_the_graders_words():
    import numpy as np

    from graders.grading.hidden import mutation_failure

    cell = {"__name__": "__main__"}
    exec(notebook._runtime(), cell)

    def scale(x, factor):
        x *= factor
        return x

    impl = cell["_Impl"]({"scale": scale, "double": lambda x: 2 * x})
    assert impl.double(np.ones(2)).tolist() == [2.0, 2.0]
    with pytest.raises(AssertionError) as raised:
        impl.scale(np.ones(2), 3.0)
    assert str(raised.value) == str(mutation_failure("scale", ["x"]))


def test_a_quiz_has_no_notebook(load, tmp_path, capsys):
    with pytest.raises(notebook.NotebookError, match="quiz"):
        notebook.build(load("q1_concepts"))
    assert cli.main(["release", "--format", "nbgrader", "q1_concepts", "--out", str(tmp_path)]) == 0
    assert "no notebook" in capsys.readouterr().out and not (tmp_path / "source").exists()


# --------------------------------------------------------------------------- the real nbgrader

def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    # nbgrader calls the alembic script by name, and the kernel must be this venv's python.
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    environment["JUPYTER_CONFIG_DIR"] = str(course / ".jupyter-config")  # no user config leaks in
    environment["JUPYTER_RUNTIME_DIR"] = str(course / ".jupyter-runtime")
    environment["JUPYTER_DATA_DIR"] = str(course / ".jupyter-data")  # kernels: this venv's python3 only
    environment.pop("JUPYTER_PATH", None)
    run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=environment,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    return run


def _student_notebook(released: Path, solutions: dict[str, str], extra: dict[str, str]):
    nb = nbformat.read(released, as_version=4)
    for cell in nb.cells:
        grade_id = _meta(cell).get("grade_id")
        if _meta(cell).get("solution"):
            cell.source = solutions[grade_id] + extra.get(grade_id, "")
    return nb


@pytest.mark.slow
def test_nbgrader_generate_and_autograde_round_trip(load, tmp_path):
    from nbgrader.api import Gradebook

    name = "a2_numpy_mlp"
    assignment = load(name)
    course = tmp_path / "course"
    assert cli.main(["release", "--format", "nbgrader", name, "--out", str(course)]) == 0
    source = course / "source" / name / f"{name}.ipynb"
    database = course / "gradebook.db"
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(database)!r}\n"
        "c.Execute.timeout = 300\n")
    _nbgrader(course, "generate_assignment", name, "--force")
    released = course / "release" / name / f"{name}.ipynb"
    student_view = nbformat.read(released, as_version=4)
    for cell in student_view.cells:
        assert "### BEGIN SOLUTION" not in cell.source
        assert not _meta(cell).get("grade") or "_run_hidden(" not in cell.source  # hidden tests stripped
    assert any("raise NotImplementedError()" in c.source for c in student_view.cells if _meta(c).get("solution"))

    # The correct student writes the reference's code; the wrong one makes a mistake that
    # only the hidden tests see (the public tests pass), so autograde must have run them:
    # a network that computes in float64 whatever its inputs (every catalogued mistake is
    # caught by the public tests as well).
    reference = nbformat.read(source, as_version=4)
    solutions = {_meta(c)["grade_id"]: re.sub(r"(?m)^[ \t]*### (BEGIN|END) SOLUTION\n", "", c.source)
                 for c in reference.cells if _meta(c).get("solution")}
    always_float64 = ("\n\n\n_network = two_layer_net\n\n\n"
                      "def two_layer_net(x, y, params, dropout_p=0.0, rng=None):\n"
                      "    params = {k: v.astype(np.float64) for k, v in params.items()}\n"
                      "    return _network(x.astype(np.float64), y.astype(np.float64), params, dropout_p, rng)\n")
    students = {"correct": {}, "wrong": {"solution_two_layer_net": always_float64}}
    for student, extra in students.items():
        folder = course / "submitted" / student / name
        folder.mkdir(parents=True)
        nbformat.write(_student_notebook(released, solutions, extra), str(folder / f"{name}.ipynb"))
    _nbgrader(course, "autograde", name, "--force")

    total = sum(t.points["cpu"] for t in assignment.tasks.values())
    with Gradebook(f"sqlite:///{database}") as gradebook:
        scores = {}
        for student in students:
            submission = gradebook.find_submission_notebook(name, name, student)
            scores[student] = (submission.score, submission.max_score,
                               {grade.name: grade.score for grade in submission.grades})
    assert scores["correct"][:2] == (total, total)
    assert scores["wrong"][1] == total and scores["wrong"][0] < total
    assert scores["wrong"][2]["test_two_layer_net"] == 0
    assert scores["wrong"][0] == total - assignment.tasks["two_layer_net"].points["cpu"]
    graded = nbformat.read(course / "autograded" / "wrong" / name / f"{name}.ipynb", as_version=4)
    failing = next(c for c in graded.cells if _meta(c).get("grade_id") == "test_two_layer_net")
    assert "_run_hidden(" in failing.source  # autograde restored the hidden tests
    assert "hidden test two_layer_net_float32 failed" in str(failing.outputs)
