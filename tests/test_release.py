"""One source, two views: stubs come from the reference and the committed templates match."""
import ast

import pytest

from conftest import ASSIGNMENTS, ROOT
from graders import release


def test_solution_regions_become_not_implemented():
    source = 'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n'
    stub = release.strip_solutions(source)
    assert '"""Doc."""' in stub and "return x" not in stub
    assert 'raise NotImplementedError("f")' in stub


@pytest.mark.parametrize("source", [
    "### BEGIN SOLUTION\nx = 1\n",
    "x = 1\n### END SOLUTION\n",
    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n",
])
def test_unbalanced_markers_are_an_error(source):
    with pytest.raises(release.MarkerError):
        release.strip_solutions(source)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_committed_template_matches_a_fresh_release(name, load):
    problems = release.out_of_sync(load(name), ROOT / "student_template")
    assert not problems, f"run `nngrade release {name}`: {problems}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_stub_keeps_every_signature_and_docstring(name, load):
    assignment = load(name)
    if assignment.kind == "quiz":
        pytest.skip("a quiz ships questions and a blank answers.toml, no code stub (tests/test_quiz.py)")
    reference = ast.parse(assignment.reference_source)
    stub = ast.parse(release.strip_solutions(assignment.reference_source))
    def signatures(tree):
        return {n.name: (ast.dump(n.args), ast.get_docstring(n)) for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}
    assert signatures(stub).items() <= signatures(reference).items()
    public = [n for n in reference.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    assert all(ast.get_docstring(n) for n in public), "every student-facing function needs a docstring"
