"""One torch pin, read everywhere it is needed; templates that bound a hang; a package
whose modules import on their own, with no cycle among them."""
import ast
import os
import subprocess
import sys
import tomllib

import pytest

from conftest import ROOT
from graders import kinds
from graders.outputs import release

SETTINGS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["nngrade"]
MODULES = sorted(".".join(path.relative_to(ROOT / "graders").with_suffix("").parts)
                 for path in (ROOT / "graders").rglob("*.py") if path.stem != "__init__")


def test_the_makefile_reads_the_one_torch_pin():
    run = subprocess.run(["make", "-s", "--eval", "print-pin:\n\t@echo $(TORCH_PIN) $(TORCH_INDEX)", "print-pin"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.stdout.split() == [SETTINGS["torch-pin"], SETTINGS["torch-index"]], run.stderr


def test_no_other_file_hard_codes_a_torch_version():
    places = [ROOT / "Makefile", ROOT / "ci" / "instructor.yml", *ROOT.glob("assignments/*/manifest.toml"),
              *(ROOT / "graders").rglob("*.py")]
    pinned = [str(p.relative_to(ROOT)) for p in places if SETTINGS["torch-pin"] in p.read_text()]
    assert pinned == ["graders/outputs/release.py"]  # its fallback default, checked equal below
    assert release.DEFAULT_TORCH_PIN == SETTINGS["torch-pin"] and release.TORCH_CPU_INDEX == SETTINGS["torch-index"]


@pytest.mark.parametrize("name", ["a1_foundations", "a3_torch_layers", "a4_conv", "a5_autograd"])
def test_torch_templates_pin_the_graders_cpu_build(load, name):
    requirements = release.template_files(load(name))["requirements.txt"].splitlines()
    assert SETTINGS["torch-pin"] in requirements and f"--extra-index-url {SETTINGS['torch-index']}" in requirements
    assert not [line for line in requirements if line.startswith("torch") and line != SETTINGS["torch-pin"]]


def test_a_numpy_template_installs_no_torch_and_every_workflow_caches_pip(load):
    files = release.template_files(load("a2_numpy_mlp"))
    assert "torch" not in files["requirements.txt"] and "pytest-timeout" in files["requirements.txt"]
    for name in ("a2_numpy_mlp", "a3_torch_layers", "q1_concepts"):
        assignment = load(name)
        assert "cache: pip" in kinds.of(assignment).template_files(assignment)[".github/workflows/classroom.yml"]


def test_an_infinite_loop_fails_one_public_test_with_its_name(tmp_path, load):
    a2 = load("a2_numpy_mlp")
    for relative, text in release.template_files(a2).items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    stub = tmp_path / "mlp.py"
    stub.write_text(stub.read_text().replace('raise NotImplementedError("relu_forward")', "while True:\n        pass"))
    assert "timeout = 60" in (tmp_path / "pytest.ini").read_text()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=3",
                          "-k", "relu"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "Timeout" in run.stdout and "relu" in run.stdout


def test_every_subpackage_is_installed():
    """setuptools lists packages by hand: a new layer missing there installs without it."""
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "graders").rglob("__init__.py")}
    assert sorted(listed) == sorted(found)


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports_on_its_own(module):
    run = subprocess.run([sys.executable, "-c", f"import graders.{module}"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr


def test_no_import_cycle_among_the_modules():
    """Counting imports inside functions too: a cycle broken by a function-level import
    still ties its modules together, and fails the first time the import order changes."""
    graph = {}
    for module in MODULES:
        tree = ast.parse((ROOT / "graders" / f"{module.replace('.', '/')}.py").read_text())
        needs = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("graders"):
                package = node.module.removeprefix("graders").lstrip(".")
                needs.add(package)  # the module itself, or a package whose modules are named
                needs |= {f"{package}.{alias.name}".lstrip(".") for alias in node.names}
            elif isinstance(node, ast.Import):
                needs |= {a.name.removeprefix("graders.") for a in node.names if a.name.startswith("graders.")}
        graph[module] = needs & set(MODULES) - {module}
    done, path = set(), []

    def visit(module):
        assert module not in path, f"import cycle: {' -> '.join(path[path.index(module):] + [module])}"
        if module in done:
            return
        path.append(module)
        for needed in sorted(graph[module]):
            visit(needed)
        path.pop()
        done.add(module)

    for module in MODULES:
        visit(module)


def test_a_numpy_assignment_never_imports_torch(a2, make_submission):
    """Not in the grading process, not in the zygote, not in the worker: a second saved on
    every cold start, and a NumPy-only grading image needs no torch at all."""
    probe = a2.reference_source + "\nimport sys as _sys\ndef torch_loaded():\n    return 'torch' in _sys.modules\n"
    run = subprocess.run([sys.executable, "-c", f"""
import sys
from pathlib import Path
from graders import kinds
from graders.grading import engine
from graders.sandbox.host import RemoteImpl, Worker
a2 = kinds.load("a2_numpy_mlp", Path({str(ROOT)!r}))
result = engine.grade(a2, Path({str(make_submission('alice', {'mlp.py': probe}))!r}), "alice")
assert result.score == result.max_score > 0, result.score
with Worker(Path({str(make_submission('bob', {'mlp.py': probe}))!r}), "mlp", a2.limits, with_torch=False) as worker:
    print("worker", RemoteImpl(worker).torch_loaded())
print("grader", "torch" in sys.modules)
"""], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["worker", "False", "grader", "False"]
