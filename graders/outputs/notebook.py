"""nbgrader source notebooks for the code assignments: ``nngrade release --format nbgrader``.

One notebook per assignment, written to ``COURSE/source/<name>/<name>.ipynb`` (nbgrader's
course layout; COURSE defaults to ``build/nbgrader``). It is generated, never committed:
it holds the reference solutions and hidden tests, and its embedded expected numbers
come from this machine's NumPy/torch. Its cells, in order:

- the handout's introduction (markdown);
- ``setup``: the reference module's imports and constants (locked);
- ``test_helpers``: the small test harness the test cells call (locked; graders/outputs/nbruntime.py
  running the grader's own hidden.py, compare.py and mutation.py);
- for every task of the manifest: its handout section (markdown), a solution cell with the
  task's functions, their ``### BEGIN SOLUTION`` regions intact (nbgrader replaces them
  with ``raise NotImplementedError()``), and an autograded test cell worth the task's CPU
  points: the public tests that use the task's functions (visible), then, between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, the task's hidden tests run on
  fixed seeded inputs and compared with the reference's results, embedded as numbers.

The notebook never imports the reference or nngrade. ``write`` executes it once with the
reference solutions before saving it: a harness bug fails the release, not a student.
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import math
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from graders import kinds
from graders.grading import hidden
from graders.grading.assignment import DEFAULT_TOLERANCE, Assignment, ManifestError

SCHEMA_VERSION = 3  # nbgrader's cell metadata schema
STREAM_SEED = 12345  # the notebook checks that NumPy draws the numbers it was generated with
LITERAL_LIMIT = 1_000_000  # characters of embedded expected values per hidden test
RUNTIME_NAMES = {"check", "expect", "hidden_test", "outcome", "Outcome", "Fail"}  # what test_helpers offers hidden tests
_BEGIN, _END = "### BEGIN SOLUTION", "### END SOLUTION"
_SKIPPED_SECTIONS = re.compile(r"^running the tests", re.IGNORECASE)  # the notebook runs its own tests


class NotebookError(ManifestError):
    """The assignment cannot be turned into a notebook; the message says why."""


@dataclass
class Built:
    notebook: object  # nbformat.NotebookNode
    left_out: list[str] = field(default_factory=list)  # tests not in the notebook, each with why


# --------------------------------------------------------------------------- cells

def _markdown(source: str):
    import nbformat

    return nbformat.v4.new_markdown_cell(source.strip())


def _code(source: str, grade_id: str, *, solution=False, grade=False, locked=False, points=None):
    import nbformat

    cell = nbformat.v4.new_code_cell(source.rstrip() + "\n")
    meta = {"schema_version": SCHEMA_VERSION, "grade": grade, "solution": solution, "locked": locked,
            "grade_id": grade_id}
    if grade:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    return cell


def build(assignment: Assignment) -> Built:
    """The nbgrader source notebook of a code assignment."""
    import nbformat

    if not kinds.of(assignment).runs_student_code:
        raise NotebookError(f"{assignment.name} is a {assignment.kind}, not a code assignment: it has no notebook")
    built = Built(nbformat.v4.new_notebook())
    intro, sections, outro = _handout_sections(assignment)
    setup, by_task = _split_reference(assignment)
    public = _public_tests(assignment, built.left_out)
    hidden_parts = _hidden_tests(assignment, built.left_out)
    cells = [_markdown(intro + "\n\n" + _HOW_TO), _code(setup, "setup", solution=_BEGIN in setup, locked=_BEGIN not in setup),
             _code(_runtime(), "test_helpers", locked=True)]
    for task in assignment.tasks.values():
        points = task.points.get("cpu", 0.0)
        cells.append(_markdown(sections.get(task.id) or f"## {task.title}"))
        cells.append(_code("\n\n\n".join(by_task[task.id]) or "# (nothing to write for this task)",
                           f"solution_{task.id}", solution=True))
        header = (f"# Tests of task {task.id!r} ({points:g} points): this cell must run without an error.\n"
                  "# The public tests run here; more tests run when the notebook is graded.")
        body = [header, *public.get(task.id, [])]
        if hidden_parts.get(task.id):
            body += ["### BEGIN HIDDEN TESTS\n" + "\n\n".join(hidden_parts[task.id]) + "\n### END HIDDEN TESTS"]
        cells.append(_code("\n\n".join(body), f"test_{task.id}", grade=True, locked=True, points=points))
    if outro.strip():
        cells.append(_markdown(outro))
    built.notebook.cells = cells
    built.notebook.metadata.update({
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
        "nngrade": {"assignment": assignment.name, "generated_by": "nngrade release --format nbgrader",
                    "left_out": built.left_out},
    })
    return built


_HOW_TO = """### How this notebook works

Write your code where a cell says `# YOUR CODE HERE`, replacing the `raise NotImplementedError()`
line, and run the cells from the top. After each task, its test cell runs the public tests
(they need `pytest` installed); when the notebook is graded, the same cell also runs hidden
tests on inputs you do not see. A task earns its points only if its whole test cell runs
without an error. Do not edit the locked cells: they are restored before grading."""


# --------------------------------------------------------------------------- the handout

def _handout_sections(assignment: Assignment) -> tuple[str, dict[str, str], str]:
    """(introduction, {task id: its section}, closing sections) of handout.md.

    A ``## `` section belongs to the task whose function names appear in backticks in its
    heading (the handouts' ``## 2. ReLU (`relu_forward`, `relu_backward`)``) or whose
    title it names; sections before the first task's go in the introduction, the others
    join the task before them, and ones after the last task close the notebook."""
    text = (assignment.folder / "handout.md").read_text()
    parts = re.split(r"(?m)^(?=## )", text)
    intro, rest = (parts[0], parts[1:]) if not parts[0].startswith("## ") else ("", parts)
    sections: dict[str, str] = {}
    outro, current = [], None
    for part in rest:
        heading = part.splitlines()[0][3:].strip()
        if _SKIPPED_SECTIONS.match(heading):
            continue
        named = set(re.findall(r"`(\w+)`", heading))
        owner = next((t.id for t in assignment.tasks.values()
                      if named & set(t.functions) or t.title.lower() in heading.lower()), None)
        if owner:
            current = owner
            sections[owner] = sections.get(owner, "") + part
        elif current is None:
            intro += part
        else:
            outro.append(part)
    return intro.strip(), sections, "".join(outro).strip()


# --------------------------------------------------------------------------- the reference

def _split_reference(assignment: Assignment) -> tuple[str, dict[str, list[str]]]:
    """(setup code, {task id: the source of its definitions}) of the reference module.

    Statements before the first definition are the setup; every later top-level
    definition or statement goes with the next definition a task lists (helpers join the
    task that first needs them), or with the last task."""
    source = assignment.reference_source
    lines = source.splitlines(keepends=True)
    tree = ast.parse(source)
    owner = {name: task.id for task in assignment.tasks.values() for name in task.functions}
    body = tree.body
    first = next((i for i, node in enumerate(body) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                         ast.ClassDef))), len(body))
    end_of_setup = body[first - 1].end_lineno if first else 0
    setup = "".join(lines[:end_of_setup]).strip()
    by_task: dict[str, list[str]] = {task: [] for task in assignment.tasks}
    pending: list[str] = []
    previous_end = end_of_setup
    for index, node in enumerate(body[first:], start=first):
        # A block's trailing comments (its ### END SOLUTION) lie past the node's last
        # statement: the node ends at the last indented line before the next node.
        limit = _first_line(body[index + 1]) - 1 if index + 1 < len(body) else len(lines)
        end = max([node.end_lineno, *(j + 1 for j in range(node.end_lineno, limit)
                                      if lines[j].strip() and lines[j][0] in " \t")])
        chunk = "".join(lines[previous_end:end]).strip("\n")
        previous_end = end
        pending.append(chunk)
        name = getattr(node, "name", None)
        if name in owner:
            by_task[owner[name]].append("\n\n\n".join(pending))
            pending = []
    if pending:
        last = list(assignment.tasks)[-1]
        by_task[last].append("\n\n\n".join(pending))
    missing = [f for f in owner if not any(re.search(rf"^(?:async\s+)?(?:def|class)\s+{re.escape(f)}\b", c, re.M)
                                           for chunks in by_task.values() for c in chunks)]
    if missing:
        raise NotebookError(f"{assignment.reference_path}: the manifest's functions {missing} are not "
                            "top-level definitions of the reference")
    return setup, by_task


# --------------------------------------------------------------------------- public tests

def _public_tests(assignment: Assignment, left_out: list[str]) -> dict[str, list[str]]:
    """{task id: code blocks} running each public test file's tests in the cell of the last
    task whose functions they use, with the helpers and imports they need."""
    order = list(assignment.tasks)
    owner = {name: task.id for task in assignment.tasks.values() for name in task.functions}
    blocks: dict[str, list[str]] = {}
    for path in sorted((assignment.folder / "public").glob("test_*.py")):
        relative = f"tests/{path.name}"
        source = path.read_text()
        tree = ast.parse(source, str(path))
        lines = source.splitlines(keepends=True)
        segment = lambda node: "".join(lines[_first_line(node) - 1:node.end_lineno]).rstrip()  # noqa: E731
        imports, helpers, tests = [], [], []
        for node in tree.body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                continue  # the docstring
            if isinstance(node, ast.ImportFrom) and node.module == assignment.module and not node.level:
                aliased = [a.name for a in node.names if a.asname and a.asname != a.name]
                if aliased or any(a.name == "*" for a in node.names):
                    raise NotebookError(f"{path}: import {assignment.module}'s functions by their own names "
                                        "(no 'as', no '*') so the notebook can run the test")
                continue
            if isinstance(node, ast.Import) and any(a.name == assignment.module for a in node.names):
                raise NotebookError(f"{path}: use 'from {assignment.module} import ...' so the notebook can run the test")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append(segment(node))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                tests.append(node)
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                left_out.append(f"{relative}::{node.name}: test classes do not run in the notebook")
            else:
                helpers.append((node, _defines(node), _uses(node)))
        runnable = _runnable_tests(assignment, path, [t.name for t in tests], left_out)
        by_task: dict[str, list[ast.AST]] = {}
        for test in tests:
            if test.name not in runnable:
                continue
            used = _closure(_uses(test), helpers)
            tasks = [owner[name] for name in used if name in owner]
            task = max(tasks, key=order.index) if tasks else order[0]
            by_task.setdefault(task, []).append(test)
        for task, chosen in by_task.items():
            needed = set().union(*(_uses(t) for t in chosen))
            needed = _closure(needed, helpers)
            kept = [segment(node) for node, defines, _ in helpers if not defines or defines & needed]
            code = [f"# The public tests of {relative} that use this task's functions\n" + "\n".join(imports),
                    *kept, *[segment(t) for t in chosen], f"_run_public(globals(), {[t.name for t in chosen]!r})"]
            blocks.setdefault(task, []).append("\n\n".join(code))
    return blocks


def _first_line(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _defines(node: ast.AST) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _uses(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _closure(names: set[str], helpers) -> set[str]:
    """``names`` plus every name the helpers defining them use, transitively."""
    names = set(names)
    while True:
        more = set().union(*(uses for _, defines, uses in helpers if defines & names)) - names
        if not more:
            return names
        names |= more


def _runnable_tests(assignment: Assignment, path: Path, names: list[str], left_out: list[str]) -> set[str]:
    """The tests whose parameters pytest.mark.parametrize provides (the notebook has no fixtures)."""
    module = _import_public(assignment, path)
    runnable = set()
    for name in names:
        function = getattr(module, name)
        provided = set()
        for mark in getattr(function, "pytestmark", []):
            if mark.name == "parametrize":
                argnames = mark.args[0]
                provided |= {n.strip() for n in argnames.split(",")} if isinstance(argnames, str) else set(argnames)
        missing = [p for p in inspect.signature(function).parameters if p not in provided]
        if missing:
            left_out.append(f"tests/{path.name}::{name}: needs the pytest fixture(s) {missing}")
        else:
            runnable.add(name)
    return runnable


def _import_public(assignment: Assignment, path: Path) -> types.ModuleType:
    """Import a public test file with the reference standing in for the student's module."""
    saved = sys.modules.get(assignment.module)
    sys.modules[assignment.module] = assignment.reference
    try:
        spec = importlib.util.spec_from_file_location(f"nngrade_public_{assignment.name}_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    except Exception as error:
        raise NotebookError(f"{path} cannot be imported against the reference: {type(error).__name__}: {error}") from None
    finally:
        if saved is None:
            sys.modules.pop(assignment.module, None)
        else:
            sys.modules[assignment.module] = saved


# --------------------------------------------------------------------------- hidden tests

class _Probe(Exception):
    pass


class _Recording:
    """The reference as ``impl``, refusing probes (a notebook cannot run them)."""

    def __init__(self, impl):
        self._impl = impl

    def probe(self, *args):
        raise _Probe()

    def __getattr__(self, name):
        return getattr(self._impl, name)


def _hidden_tests(assignment: Assignment, left_out: list[str]) -> dict[str, list[str]]:
    """{task id: hidden-block code}: each hidden file's code, then one ``_run_hidden`` per test
    with the reference's results on this test's fixed seed embedded as literals."""
    from graders.grading.engine import LocalImpl

    impl = _Recording(LocalImpl(assignment.reference, assignment.forbidden_for))
    blocks: dict[str, list[str]] = {}
    files_in: dict[str, set[Path]] = {}
    for spec in assignment.tests:
        name = f"hidden test {spec.name}"
        unknown = set(spec.params) - {"impl", "rand", "device"}
        if unknown:
            left_out.append(f"{name}: needs {sorted(unknown)}")
            continue
        seed = hidden.derive_seed("nbgrader", assignment.name, spec.name, "cpu")
        fixtures = {"impl": impl, "rand": hidden.Inputs(seed, "cpu"), "device": "cpu"}
        try:
            value = spec.body(**{p: fixtures[p] for p in spec.params})
        except _Probe:
            left_out.append(f"{name}: uses impl.probe, which needs the grader")
            continue
        try:
            expected = literal(value)
        except TypeError as error:
            left_out.append(f"{name}: {error}")
            continue
        if len(expected) > LITERAL_LIMIT:
            left_out.append(f"{name}: its expected values are too large to embed ({len(expected)} characters)")
            continue
        path = Path(inspect.getsourcefile(spec.body))
        handle = f"_hidden_{path.stem}"
        if path not in files_in.setdefault(spec.task, set()):
            files_in[spec.task].add(path)
            blocks.setdefault(spec.task, []).append(f"{handle} = _module({_string(_hidden_source(path))}, "
                                                    f"{path.name!r})")
        tolerance = {dtype: assignment.tolerance_for(dtype, spec)
                     for dtype in sorted({*DEFAULT_TOLERANCE, *assignment.tolerance})}
        blocks[spec.task].append(
            f"_run_hidden(globals(), {spec.name!r}, {handle}[{spec.body.__name__!r}], seed={seed},\n"
            f"            params={tuple(spec.params)!r}, tolerance={tolerance!r},\n"
            f"            expected={expected})")
    return blocks


def _hidden_source(path: Path) -> str:
    """A hidden test file without its ``graders`` imports (the runtime provides those names)."""
    source = path.read_text()
    tree = ast.parse(source, str(path))
    lines = source.splitlines(keepends=True)
    for node in reversed(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(m == "graders" or m.startswith("graders.") for m in modules):
                names = {a.asname or a.name for a in node.names} if isinstance(node, ast.ImportFrom) else set()
                if isinstance(node, ast.Import) or names - RUNTIME_NAMES:
                    raise NotebookError(f"{path}: imports {sorted(names - RUNTIME_NAMES) or modules} from graders; "
                                        f"a notebook offers only {sorted(RUNTIME_NAMES)}")
                del lines[node.lineno - 1:node.end_lineno]
    return "".join(lines)


def _string(text: str) -> str:
    """A Python literal for ``text``, readable where it can be."""
    if "'''" not in text and not text.endswith("\\") and "\\" not in text:
        return "'''" + text + "'''"
    return repr(text)


def literal(value) -> str:
    """Python source that rebuilds ``value`` exactly (arrays, tensors, numbers, containers)."""
    import numpy as np

    torch = sys.modules.get("torch")
    if isinstance(value, np.generic):  # before float: np.float64 is a float
        return f"np.dtype({value.dtype.name!r}).type({literal(value.item())})"
    if value is None or isinstance(value, (bool, str, int)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, complex):
        return f"complex({literal(value.real)}, {literal(value.imag)})"
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            raise TypeError(f"a returned array of dtype {value.dtype} cannot be embedded")
        if value.size == 0:
            return f"np.zeros({value.shape!r}, dtype={value.dtype.name!r})"
        return f"np.array({literal(value.tolist())}, dtype={value.dtype.name!r})"
    if torch is not None and isinstance(value, torch.Tensor):
        plain = value.detach().cpu()
        dtype = str(plain.dtype)
        if plain.numel() == 0:
            return f"torch.zeros({tuple(plain.shape)!r}, dtype={dtype})"
        return f"torch.tensor({literal(plain.tolist())}, dtype={dtype})"
    if torch is not None and isinstance(value, torch.Size):
        return f"torch.Size({list(value)!r})"
    if torch is not None and isinstance(value, (torch.dtype, torch.device)):
        return f"torch.{value}" if isinstance(value, torch.dtype) else f"torch.device({str(value)!r})"
    if isinstance(value, hidden.Outcome):
        return (f"Outcome(value={literal(value.value)}, error={value.error!r}, message={value.message!r}, "
                f"kinds={value.kinds!r})")
    if isinstance(value, tuple):
        return "(" + "".join(literal(v) + ", " for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"a returned {type(value).__name__} cannot be embedded in a notebook")


# The grader's modules the test_helpers cell carries, in order, as ``_<name>`` there, with the
# cell's expression for each name they import from graders (nbruntime.py's stand-ins for
# what exists only beside a worker).
_EMBEDDED = {"hidden": {"StudentError": "_StudentError"},
             "compare": {"Outcome": "_hidden.Outcome", "RemoteHandle": "_RemoteHandle"},
             "mutation": {}}


def _embedded(name: str, provided: dict[str, str]) -> str:
    """graders/grading/<name>.py as the cell runs it: its own code, not a copy, without its
    imports from graders, which ``provided`` replaces. An import from graders inside a
    function could not be replaced; it fails the release rather than a student's notebook."""
    from graders import grading

    path = Path(grading.__file__).with_name(f"{name}.py")
    source = path.read_text()
    tree = ast.parse(source)
    top = set(tree.body)
    dropped, lines = set(), source.splitlines(keepends=True)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            continue
        if not any(m == "graders" or m.startswith("graders.") for m in modules):
            continue
        if node not in top or isinstance(node, ast.Import):
            raise NotebookError(f"{path}, line {node.lineno}: the notebook cannot replace this import "
                                "(import names from graders at module level)")
        dropped |= {alias.asname or alias.name for alias in node.names}
        lines[node.lineno - 1:node.end_lineno] = [""] * (node.end_lineno - node.lineno + 1)
    if dropped != set(provided):
        raise NotebookError(f"{path} imports {sorted(dropped)} from graders; the notebook provides "
                            f"{sorted(provided)} (notebook._EMBEDDED)")
    arguments = "".join(f", {key}={value}" for key, value in provided.items())
    return f"_{name} = _load({name!r}, {_source_literal(''.join(lines).strip())}{arguments})"


def _source_literal(text: str) -> str:
    """A string literal for a module's code that still reads as code, line for line (a repr
    would put it all on one line)."""
    escaped = text.replace("\\", "\\\\").replace("'''", "\\'\\'\\'")
    literal = "'''" + (escaped[:-1] + "\\'" if escaped.endswith("'") else escaped) + "'''"
    assert ast.literal_eval(literal) == text
    return literal


def _runtime() -> str:
    """The test_helpers cell: graders/outputs/nbruntime.py, then the grader's hidden.py,
    compare.py and mutation.py (``_embedded``), the names hidden tests import, and the random-stream
    fingerprint the hidden tests check before they trust their seeds."""
    source = Path(__file__).with_name("nbruntime.py").read_text().rstrip()
    modules = "\n\n".join(_embedded(name, provided) for name, provided in _EMBEDDED.items())
    names = sorted(RUNTIME_NAMES | {"Inputs"})
    numbers = hidden.Inputs(STREAM_SEED).normal(4).tolist()
    return (f"{source}\n\n\n{modules}\n"
            f"{', '.join(names)} = {', '.join(f'_hidden.{n}' for n in names)}\n\n"
            f"_STREAM = ({STREAM_SEED}, {numbers!r})\n")


# --------------------------------------------------------------------------- running it

def code_cells(notebook) -> list[tuple[str, str]]:
    return [(cell.metadata.get("nbgrader", {}).get("grade_id", ""), cell.source)
            for cell in notebook.cells if cell.cell_type == "code"]


def run(notebook, replace: dict[str, str] | None = None) -> dict[str, str]:
    """Execute the code cells in order in a fresh namespace, as a kernel would (with
    ``replace``: {grade_id: source} swapped in). Returns {grade_id: error} of the test
    cells that raised; an error in any other cell is raised."""
    namespace = {"__name__": "__main__"}
    failures = {}
    for grade_id, source in code_cells(notebook):
        source = (replace or {}).get(grade_id, source)
        try:
            exec(compile(source, f"<cell {grade_id}>", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - a failing test cell is a result
            if not grade_id.startswith("test_") or grade_id == "test_helpers":
                raise
            failures[grade_id] = f"{type(error).__name__}: {error}"
    return failures


def write(assignment: Assignment, course: Path) -> tuple[Path, Built]:
    """Build the notebook, check that the reference passes every test cell, and save it."""
    import nbformat

    built = build(assignment)
    failures = run(built.notebook)
    if failures:
        raise NotebookError(f"{assignment.name}: the reference fails its own notebook's tests: "
                            + "; ".join(f"{k}: {v}" for k, v in failures.items()))
    nbformat.validate(built.notebook)
    target = course / "source" / assignment.name / f"{assignment.name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(built.notebook, str(target))
    return target, built


def release_command(names: list[str], root: Path, course: Path, check: bool) -> int:
    if check:
        print("nngrade: --check compares student_template/ only; nbgrader notebooks are generated "
              "into a build folder, not committed", file=sys.stderr)
        return 2
    for name in names:
        loaded = kinds.load(name, root)
        if not kinds.of(loaded).runs_student_code:
            print(f"{name}: a {loaded.kind}, no notebook (students answer in answers.toml)")
            continue
        target, built = write(loaded, course)
        print(f"{name}: wrote {target}")
        for reason in built.left_out:
            print(f"  not in the notebook: {reason}")
    return 0
