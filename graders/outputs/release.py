"""Generate a student template repo from the reference and the assignment folder.

One source, two views: the reference's ``### BEGIN SOLUTION`` / ``### END SOLUTION``
regions become ``raise NotImplementedError``; signatures and docstrings stay. A quiz's
template is made by ``graders.quiz.templates``; ``release`` writes either (``graders.kinds``).
The project's torch pin is read here: the template's requirements and the Gradescope bundle
(``graders.outputs.export``) install the same build.
"""
from __future__ import annotations

import ast
import pprint
import re
import shutil
import tomllib
from pathlib import Path

from graders.grading.assignment import Assignment, ManifestError, project_root

DEFAULT_TORCH_PIN = "torch==2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(\w+)")


class MarkerError(ManifestError):
    """The reference's solution markers are unbalanced (an authoring error, reported in
    one line like any other)."""


def strip_solutions(source: str, filename: str = "<reference>") -> str:
    lines, inside, function = [], False, "this function"
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        match = _DEF.match(line)
        if match and not inside:
            function = match.group(1)
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise MarkerError(f"{filename}:{number}: {BEGIN} inside another solution region")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            if indent:
                lines.append(f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError(\"{function}\")\n")
            else:  # solution-only helpers at module level: a raise there would break the import
                lines.append("# (solution-only helpers removed from the student's copy)\n")
        elif marker == END:
            if not inside:
                raise MarkerError(f"{filename}:{number}: {END} without a {BEGIN}")
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise MarkerError(f"{filename}: a {BEGIN} region is never closed")
    stub = "".join(lines)
    ast.parse(stub, filename)  # a stub that does not parse would be a broken release
    return stub


def template_files(assignment: Assignment) -> dict[str, str]:
    """Every file of a code assignment's template repo, by relative path."""
    files = {
        f"{assignment.module}.py": strip_solutions(assignment.reference_source, str(assignment.reference_path)),
        "README.md": (assignment.folder / "handout.md").read_text(),
        "requirements.txt": _requirements(assignment),
        "pytest.ini": PYTEST_INI,
        ".gitignore": "__pycache__/\n*.pyc\n.pytest_cache/\n.venv/\n",
    }
    public = sorted((assignment.folder / "public").glob("*.py"))
    for path in public:
        files[f"tests/{path.name}"] = path.read_text()
    plugin = student_guard(assignment)
    if plugin:
        files["conftest.py"] = plugin
    files[".github/workflows/classroom.yml"] = classroom_workflow(assignment)
    return files


def student_guard(assignment: Assignment) -> str:
    """The template's conftest.py: graders/integrity/student_guard.py with this assignment's rules,
    so the public tests refuse what the grader refuses, with its words ("" if nothing is
    forbidden). Self-contained: student repositories do not have nngrade installed."""
    from graders.integrity import guard

    forbidden = {}
    for task in assignment.tasks.values():
        for function in task.functions:
            groups = list(dict.fromkeys([*forbidden.get(function, []), *task.forbidden]))
            if groups:
                forbidden[function] = groups
    if not forbidden:
        return ""
    used = sorted({g for groups in forbidden.values() for g in groups})
    rules = {"module": assignment.module, "forbidden": forbidden,
             "groups": {g: _group_rule(guard, g) for g in used}}
    source = (Path(__file__).resolve().parents[1] / "integrity" / "student_guard.py").read_text()
    marker = 'RULES = {"module": "", "forbidden": {}, "groups": {}}  # filled in by `nngrade release`'
    if marker not in source:
        raise RuntimeError("graders/integrity/student_guard.py lost its RULES line")
    return source.replace(marker, "RULES = " + pprint.pformat(rules, width=100, sort_dicts=True))


def _group_rule(guard, group: str) -> dict:
    if group.startswith(guard.RAW):
        return {"pattern": f"^{re.escape(group.removeprefix(guard.RAW))}$", "what": guard.describe(group)}
    spec = guard.GROUPS[group]
    return {"pattern": spec.pattern, "exclude": spec.exclude, "what": spec.what}


def release(name: str, files: dict[str, str], root: Path) -> Path:
    """Write ``files`` (a kind's template files) as the template repo ``root/name``."""
    target = root / name
    if target.exists():
        shutil.rmtree(target)
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return target


def out_of_sync(name: str, expected: dict[str, str], root: Path) -> list[str]:
    """Paths where the committed template ``root/name`` differs from a fresh release of
    ``expected`` (empty when in sync)."""
    target = root / name
    present = {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()} if target.exists() else set()
    problems = [f"missing: {p}" for p in sorted(set(expected) - present)]
    problems += [f"not generated: {p}" for p in sorted(present - set(expected))]
    problems += [f"differs: {p}" for p in sorted(set(expected) & present) if (target / p).read_text() != expected[p]]
    return problems


def torch_pin(root: Path | None = None) -> tuple[str, str]:
    """The project's one pin of torch and the index holding that CPU build
    (pyproject.toml's [tool.nngrade]), else the defaults."""
    try:
        settings = tomllib.loads(((root or project_root()) / "pyproject.toml").read_text())["tool"]["nngrade"]
        return settings["torch-pin"], settings["torch-index"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return DEFAULT_TORCH_PIN, TORCH_CPU_INDEX


def _requirements(assignment: Assignment) -> str:
    """The template's requirements: the grader's own torch (the CPU build: all public tests
    need, and no CI drift from the version that grades), pytest and pytest-timeout."""
    lines = []
    wanted = [r for r in assignment.requirements if not r.replace(" ", "").startswith("torch")]
    if assignment.framework == "torch" or len(wanted) < len(assignment.requirements):
        pin, index = torch_pin(assignment.folder.parent.parent)
        lines.append(f"--extra-index-url {index}")
        wanted.append(pin)
    lines += wanted + ["pytest>=8", "pytest-timeout>=2.2"]
    return "\n".join(lines) + "\n"


# An infinite loop fails its own test, named, in a minute, not a whole CI step at the
# action's 10-minute limit.
PYTEST_INI = "[pytest]\npythonpath = .\ntestpaths = tests\naddopts = -ra\ntimeout = 60\n"


def public_tests_by_task(assignment: Assignment) -> tuple[dict[str, list[str]], list[str]]:
    """Which public tests check which task, as pytest selectors relative to the template.

    A file ``test_<task id>.py`` belongs to that task. In any other file a test belongs to
    the task its name starts with (``test_<task id or function>...``), else to the one
    task whose functions it uses. Returns {task id: selectors} and the tests no single
    task claims (they use several tasks' functions)."""
    by_task: dict[str, list[str]] = {task: [] for task in assignment.tasks}
    shared: list[str] = []
    for path in sorted((assignment.folder / "public").glob("test_*.py")):
        relative = f"tests/{path.name}"
        task = path.stem.removeprefix("test_")
        if task in assignment.tasks:
            by_task[task].append(relative)
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in tree.body:
            if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")
                    or isinstance(node, ast.ClassDef) and node.name.startswith("Test")):
                continue
            owner = _task_by_name(assignment, node.name) or _task_by_use(assignment, node)
            (by_task[owner] if owner else shared).append(f"{relative}::{node.name}")
    return by_task, shared


def _task_by_name(assignment: Assignment, test_name: str) -> str | None:
    rest = test_name.removeprefix("test_").removeprefix("Test").lower()
    matches = []  # (length of the matched name, task)
    for task in assignment.tasks.values():
        for name in (task.id, *task.functions):
            if rest == name.lower() or rest.startswith(name.lower() + "_"):
                matches.append((len(name), task.id))
    if not matches:
        return None
    best = max(length for length, _ in matches)
    owners = {task for length, task in matches if length == best}
    return owners.pop() if len(owners) == 1 else None


def _task_by_use(assignment: Assignment, node: ast.AST) -> str | None:
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    used |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    owners = {task.id for task in assignment.tasks.values() if used & set(task.functions)}
    return owners.pop() if len(owners) == 1 else None


def _points(value: float) -> str:
    return f"{value:g}"


# What every generated classroom workflow starts with: the triggers, permissions and a
# Python of the grader's version; the steps follow.
WORKFLOW_PREAMBLE = """name: Autograding Tests
'on':
- push
- repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    steps:
    - name: Checkout code
      uses: actions/checkout@v4
    - name: Set up Python
      uses: actions/setup-python@v5
      with:
        python-version: '3.11'
        cache: pip
"""


def classroom_workflow(assignment: Assignment) -> str:
    """GitHub Classroom's workflow: one command-grader step per task, running that task's
    public tests, worth the task's points on every device, so the points recorded add up
    to the assignment's total; tests that span several tasks run in a last step worth 0."""
    by_task, shared = public_tests_by_task(assignment)
    missing = [task for task, selectors in by_task.items() if not selectors]
    if missing:
        raise ManifestError(
            f"{assignment.folder / 'public'}: no public test for task(s) {', '.join(missing)}; name a file "
            "test_<task>.py, or start test names with test_<task id or function name>")
    groups = [(task.id, by_task[task.id], sum(task.points.values())) for task in assignment.tasks.values()]
    if shared:
        groups.append(("cross-task-checks", shared, 0.0))
    steps, runners, env = [], [], []
    for name, selectors, points in groups:
        runner = name.replace("_", "-")
        runners.append(runner)
        env.append(f"        {runner.upper()}_RESULTS: \"${{{{steps.{runner}.outputs.result}}}}\"")
        command = "\n".join(f"          {part}" for part in ["python -m pytest -q", *selectors])
        steps.append(f"""    - name: {runner}
      id: {runner}
      uses: classroom-resources/autograding-command-grader@v1
      with:
        test-name: {runner}
        command: >-
{command}
        timeout: 10
        max-score: {_points(points)}
""")
    total = sum(points for _, _, points in groups)
    return f"""# Generated by `nngrade release {assignment.name}`: public tests only. The hidden tests
# are run by the instructor's grader and never ship in this repository.
# One step per task, worth the task's points ({_points(total)} in all){"; tests that use several tasks run last, for 0 points" if shared else ""}.
{WORKFLOW_PREAMBLE}    - name: Install requirements
      run: python -m pip install -r requirements.txt
{''.join(steps)}    - name: Autograding Reporter
      uses: classroom-resources/autograding-grading-reporter@v1
      env:
{chr(10).join(env)}
      with:
        runners: {','.join(runners)}
"""
