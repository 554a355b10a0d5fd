"""One source, two views: stubs come from the reference and the committed templates match."""
import ast

import pytest

from conftest import ASSIGNMENTS, ROOT
from graders import kinds
from graders.outputs import release


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
    assignment = load(name)
    problems = release.out_of_sync(name, kinds.of(assignment).template_files(assignment), ROOT / "student_template")
    assert not problems, f"run `nngrade release {name}`: {problems}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_stub_keeps_every_signature_and_docstring(name, load):
    assignment = load(name)
    if not kinds.of(assignment).runs_student_code:
        pytest.skip("a quiz ships questions and a blank answers.toml, no code stub (tests/test_quiz.py)")
    reference = ast.parse(assignment.reference_source)
    stub = ast.parse(release.strip_solutions(assignment.reference_source))
    def signatures(tree):
        return {n.name: (ast.dump(n.args), ast.get_docstring(n)) for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}
    assert signatures(stub).items() <= signatures(reference).items()
    public = [n for n in reference.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    assert all(ast.get_docstring(n) for n in public), "every student-facing function needs a docstring"


FORBIDDEN_LOCALLY = {
    "a3_torch_layers": ("layers.py", "\ndef tanh_forward(x):\n    out = torch.tanh(x)\n    return out, out\n",
                        "torch's tanh"),
    "a4_conv": ("conv.py", "\ndef conv2d_forward(x, w, b, stride=1, padding=0):\n"
                "    out = torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding)\n"
                "    return out, (x, w, b, stride, padding)\n", "torch's convolution operators"),
    "a5_autograd": ("functions.py", "\nclass TanhFunction(torch.autograd.Function):\n    @staticmethod\n"
                    "    def forward(ctx, x):\n        y = torch.tanh(x)\n        ctx.save_for_backward(y)\n"
                    "        return y\n\n    @staticmethod\n    def backward(ctx, g):\n        (y,) = ctx.saved_tensors\n"
                    "        return g * (1 - y * y)\n", "torch's tanh"),
}


@pytest.mark.parametrize("name", sorted(FORBIDDEN_LOCALLY))
def test_public_tests_refuse_a_forbidden_call_with_the_graders_words(name, load, tmp_path):
    """The template's conftest.py (the guard's rules, no nngrade needed) fails the public
    tests at a forbidden call, naming it and the student's line as the grader does."""
    import subprocess
    import sys

    from graders.grading import validate

    assignment = load(name)
    module, code, what = FORBIDDEN_LOCALLY[name]
    plugin = release.template_files(assignment)["conftest.py"]
    assert "import graders" not in plugin and "from graders" not in plugin
    validate.run_public_tests(assignment, assignment.reference_source + code, tmp_path)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1
    assert f"at {module} line" in run.stdout and f"which this task forbids ({what})" in run.stdout, run.stdout[-3000:]
