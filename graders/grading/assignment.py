"""An assignment as the grader sees it: manifest, reference, hidden tests, catalog."""
from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import textwrap
import types
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from graders.integrity import guard
from graders.grading.catalog import Entry
from graders.grading.hidden import TestSpec
from graders.sandbox.host import Limits

FIXTURES = frozenset({"impl", "rand", "device"})
DEVICES = ("cpu", "cuda")
DEFAULT_TOLERANCE = {
    "float64": (1e-7, 1e-9), "complex128": (1e-7, 1e-9),
    "float32": (1e-4, 1e-5), "complex64": (1e-4, 1e-5),
    "float16": (1e-2, 1e-3), "bfloat16": (2e-2, 1e-2),
}


class ManifestError(Exception):
    """The assignment's files are missing or inconsistent; the message says which."""


def project_root() -> Path:
    """Where ``assignments/`` and ``reference/`` live: $NNGRADE_ROOT, the working
    directory if it holds them, else the checkout this package was installed from."""
    for candidate in (os.environ.get("NNGRADE_ROOT"), os.getcwd(), Path(__file__).resolve().parents[2]):
        if candidate and (Path(candidate) / "assignments").is_dir():
            return Path(candidate).resolve()
    raise ManifestError("cannot find the assignments/ folder; run from the nngrade checkout or set NNGRADE_ROOT")


def available(root: Path | None = None) -> list[str]:
    root = root or project_root()
    return sorted(p.parent.name for p in (root / "assignments").glob("*/manifest.toml"))


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    functions: tuple[str, ...]
    points: dict[str, float]  # per device
    forbidden: tuple[str, ...] = ()  # API groups refused while its functions run (graders.integrity.guard)


@dataclass
class Assignment:
    name: str
    title: str
    module: str
    framework: str
    devices: tuple[str, ...]
    requirements: tuple[str, ...]
    limits: Limits
    tolerance: dict[str, tuple[float, float]]
    tasks: dict[str, Task]
    folder: Path
    reference_path: Path
    require_gpu: bool = False  # CUDA tests count toward max_score even where no GPU ran them
    # What feedback shows of the hidden tests: "names" (pass/fail only), "messages" (plus the
    # differences and diagnoses), "inputs" (plus the hidden inputs' values); "answers" is
    # "inputs" for quizzes. A plain string, one of REVEAL_LEVELS.
    reveal: str = "messages"
    # A test that fails only because of another task's functions (it passes with the
    # reference's in their place): "penalise" (lose its points too) or "credit" (keep them).
    # Either way feedback says which task to fix first.
    cascade: str = "penalise"
    _modules: dict = field(default_factory=dict, repr=False)
    kind = "code"  # graders.kinds.CODE; a quiz is a graders.quiz.model.Quiz

    @property
    def submission_file(self) -> str:
        """The file a submission must hold."""
        return f"{self.module}.py"

    # ----------------------------------------------------------------- the reference

    @cached_property
    def reference_source(self) -> str:
        return self.reference_path.read_text()

    @property
    def reference(self) -> types.ModuleType:
        return self._module_for(None)

    def implementation_with(self, entry: Entry | None) -> types.ModuleType:
        """The reference, or a copy of it with one function replaced by a catalog entry."""
        return self._module_for(entry)

    def _module_for(self, entry: Entry | None) -> types.ModuleType:
        key = entry.id if entry else None
        if key not in self._modules:
            source = self.reference_source if entry is None else self.source_with(entry)
            label = f"{self.reference_path} + {entry.id}" if entry else str(self.reference_path)
            self._modules[key] = _module_from_source(f"nngrade_ref_{self.name}", source, label)
        return self._modules[key]

    def source_with(self, entry: Entry) -> str:
        """The reference's source with ``entry`` replacing its target: a full student file."""
        return f"{self.reference_source.rstrip()}\n\n\n{entry.source}\n{entry.target} = {entry.id}\n"

    # ----------------------------------------------------------------- tests and catalog

    @cached_property
    def tests(self) -> list[TestSpec]:
        specs = []
        for path in sorted((self.folder / "hidden").glob("test_*.py")):
            module = _import_file(f"nngrade_hidden_{self.name}_{path.stem}", path)
            specs += [f.__nngrade_test__ for f in vars(module).values() if hasattr(f, "__nngrade_test__")]
        if not specs:
            raise ManifestError(f"{self.folder / 'hidden'} holds no hidden tests")
        for spec in specs:
            if spec.task not in self.tasks:
                raise ManifestError(f"hidden test {spec.name} names task {spec.task!r}, which the manifest lacks")
            unknown = set(spec.params) - FIXTURES
            if unknown:
                raise ManifestError(f"hidden test {spec.name} asks for unknown fixtures {sorted(unknown)}; "
                                    f"available: {sorted(FIXTURES)}")
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ManifestError("two hidden tests share a name: " + ", ".join(sorted({n for n in names if names.count(n) > 1})))
        untested = set(self.tasks) - {s.task for s in specs}
        if untested:
            raise ManifestError(f"tasks without hidden tests: {sorted(untested)}")
        order = list(self.tasks)
        return sorted(specs, key=lambda s: order.index(s.task))  # feedback follows the manifest

    @cached_property
    def mistakes(self) -> list[Entry]:
        return self._catalog("mistakes.py", "mistake")

    @cached_property
    def variants(self) -> list[Entry]:
        return self._catalog("variants.py", "variant")

    def _catalog(self, filename: str, kind: str) -> list[Entry]:
        path = self.folder / filename
        if not path.exists():
            return []
        module = _import_file(f"nngrade_catalog_{self.name}_{path.stem}", path)
        entries = []
        for name, function in vars(module).items():
            marker = getattr(function, "__nngrade_catalog__", None)
            if marker is None or marker[0] != kind or function.__module__ != module.__name__:
                continue
            _, target, explanation = marker
            if not callable(getattr(self.reference, target, None)):
                raise ManifestError(f"{filename}: {name} replaces {target}(), which the reference does not define")
            entries.append(Entry(name, target, explanation, _definition_source(function)))
        return entries

    def test_points(self, spec: TestSpec, device: str) -> float:
        task = self.tasks[spec.task]
        share = sum(s.weight for s in self.tests if s.task == spec.task)
        return task.points.get(device, 0.0) * spec.weight / share

    def reachable_from(self, functions) -> set[str]:
        """The reference's functions (and classes) that calling ``functions`` can run:
        they and, transitively, every module-level callable their code names."""
        graph = self._call_graph
        seen, todo = set(), [f for f in functions if f in graph]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += graph[name] - seen
        return seen

    @cached_property
    def _call_graph(self) -> dict[str, set[str]]:
        module = self.reference
        own = {name for name, value in vars(module).items()
               if callable(value) and getattr(value, "__module__", None) == module.__name__}
        return {name: _names_used(getattr(module, name)) & own for name in own}

    def forbidden_for(self, function: str) -> tuple[str, ...]:
        """The API groups refused while ``function`` runs: those of every task listing it."""
        groups = [g for task in self.tasks.values() if function in task.functions for g in task.forbidden]
        return tuple(dict.fromkeys(groups))

    def tolerance_for(self, dtype_name: str, spec: TestSpec) -> tuple[float, float]:
        rtol, atol = self.tolerance.get(dtype_name, DEFAULT_TOLERANCE.get(dtype_name, (0.0, 0.0)))
        return (spec.rtol if spec.rtol is not None else rtol, spec.atol if spec.atol is not None else atol)


def parse(manifest: dict, name: str, folder: Path, root: Path, where: Path) -> Assignment:
    """A code assignment from its manifest (already read; ``graders.kinds.load`` reads it)."""
    def need(table: dict, key: str, kind, context: str = ""):
        if key not in table:
            raise ManifestError(f"{where}: missing required key {context}{key!r}")
        if not isinstance(table[key], kind):
            raise ManifestError(f"{where}: {context}{key!r} must be a {getattr(kind, '__name__', kind)}")
        return table[key]

    if manifest.get("name", name) != name:
        raise ManifestError(f"{where}: name {manifest['name']!r} differs from its folder {name!r}")
    module = need(manifest, "module", str)
    devices = tuple(manifest.get("devices", ["cpu"]))
    if not devices or any(d not in DEVICES for d in devices):
        raise ManifestError(f"{where}: devices must be a non-empty subset of {list(DEVICES)}")
    tasks = {}
    for index, table in enumerate(need(manifest, "tasks", list)):
        context = f"tasks[{index}]."
        task_id = need(table, "id", str, context)
        points = need(table, "points", (int, float, dict), context)
        points = {"cpu": float(points)} if not isinstance(points, dict) else {k: float(v) for k, v in points.items()}
        if set(points) - set(devices):
            raise ManifestError(f"{where}: task {task_id!r} gives points for devices outside {list(devices)}")
        if task_id in tasks:
            raise ManifestError(f"{where}: task id {task_id!r} appears twice")
        if "probe" in table.get("functions", ()):
            raise ManifestError(f"{where}: task {task_id!r}: 'probe' is reserved (impl.probe runs probes)")
        forbidden = tuple(table.get("forbidden", ()))
        try:
            guard.check_groups(forbidden, f"{where}: task {task_id!r}")
        except ValueError as error:
            raise ManifestError(str(error)) from None
        tasks[task_id] = Task(task_id, table.get("title", task_id), tuple(table.get("functions", [])),
                              points, forbidden)
    try:
        limits = Limits(**manifest.get("limits", {}))
    except TypeError as error:
        raise ManifestError(f"{where}: [limits] {error}") from None
    tolerance = {dtype: (float(t["rtol"]), float(t["atol"])) for dtype, t in manifest.get("tolerance", {}).items()}
    reference_path = root / "reference" / name / f"{module}.py"
    if not reference_path.is_file():
        raise ManifestError(f"{where}: the reference {reference_path} does not exist")
    return Assignment(
        name=name, title=manifest.get("title", name), module=module,
        framework=manifest.get("framework", "numpy"), devices=devices,
        requirements=tuple(manifest.get("requirements", [])), limits=limits, tolerance=tolerance,
        tasks=tasks, folder=folder, reference_path=reference_path,
        require_gpu=bool(manifest.get("require_gpu", False)),
        reveal=_reveal(manifest, where), cascade=_cascade(manifest, where))


REVEAL_LEVELS = ("names", "messages", "inputs", "answers")


def reveals(policy: str, level: str) -> bool:
    """Whether ``policy`` shows ``level`` ("messages" or "inputs"); "answers" means "inputs"."""
    order = {"names": 0, "messages": 1, "inputs": 2, "answers": 2}
    return order.get(policy, 1) >= order[level]


def _reveal(manifest: dict, where: Path) -> str:
    value = manifest.get("reveal", "messages")
    if value not in REVEAL_LEVELS:
        raise ManifestError(f"{where}: reveal must be one of {list(REVEAL_LEVELS)}, not {value!r}")
    return value


CASCADE_POLICIES = ("penalise", "credit")


def _cascade(manifest: dict, where: Path) -> str:
    value = manifest.get("cascade", "penalise")
    if value not in CASCADE_POLICIES:
        raise ManifestError(f"{where}: cascade must be one of {list(CASCADE_POLICIES)}, not {value!r}")
    return value


def _names_used(value) -> set[str]:
    """Global names read by a function's code (nested code included), or by a class's methods."""
    codes = [vars(value)[k] for k in vars(value)] if isinstance(value, type) else [value]
    names, stack = set(), []
    for item in codes:
        item = getattr(item, "__func__", item)  # staticmethod / classmethod
        if hasattr(item, "__code__"):
            stack.append(item.__code__)
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return names


def _module_from_source(name: str, source: str, filename: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def _import_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # inspect.getsource() finds a class's file through here
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(name, None)
        raise ManifestError(f"{path} failed to import: {type(error).__name__}: {error}") from error
    return module


def _definition_source(function) -> str:
    """The function's (or class's) source without its decorator, ready to append to a module."""
    lines = textwrap.dedent(inspect.getsource(function)).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(("def ", "async def ", "class ")))
    return "\n".join(lines[start:]) + "\n"
