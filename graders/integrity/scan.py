"""A static look at a submission's source for signs of tampering, in the trusted process.

The run-time record (``graders.integrity.tamper``) sees what the code did; this sees what the code
says, including lines no test reached: ``torch._C`` and torch's mode stack, the grader
imported, ``ctypes``, frame and garbage-collector walking, ``exec``/``eval``/``compile`` of
strings built at run time, attributes looked up by a computed name on a module, processes
started, and native code shipped in the folder (an extension module, or bytecode compiled
to run whatever the source says). Findings flag the submission for a person to look at;
they take no points by themselves.

The source is hostile: it is only parsed (never run), files are read up to a size cap,
bytes that are not UTF-8 text, null bytes and nesting too deep to parse are reported as
"unreadable" rather than crashing the grader.
"""
from __future__ import annotations

import ast
from pathlib import Path

from graders.integrity.tamper import MAX_RECORDS, Evidence

MAX_FILE_BYTES = 1 << 20
MAX_FILES = 200
_NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
_NATIVE_MAGIC = (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"MZ")

# Dotted names (after resolving import aliases) whose mere use is a finding, by prefix.
_PREFIXES = {
    "torch._C": ("torch_internals", "torch's internals (torch._C)"),
    "torch.library": ("torch_internals", "torch's operator registry (torch.library)"),
    "torch.utils._python_dispatch": ("torch_internals", "torch's dispatch-mode stack"),
    "torch._ops": ("torch_internals", "torch's operator internals (torch._ops)"),
    "torch.fx.traceback": ("guard", "torch.fx.traceback, which the grader's guard uses"),
    "ctypes": ("ctypes", "ctypes"),
    "_ctypes": ("ctypes", "ctypes"),
    "graders": ("grader", "the grader's package"),
    "gc.get_objects": ("gc", "gc.get_objects"),
    "gc.get_referrers": ("gc", "gc.get_referrers"),
    "gc.get_referents": ("gc", "gc.get_referents"),
    "sys._getframe": ("frames", "sys._getframe"),
    "sys._current_frames": ("frames", "sys._current_frames"),
    "sys.settrace": ("trace", "sys.settrace"), "sys.setprofile": ("trace", "sys.setprofile"),
    "sys.addaudithook": ("trace", "sys.addaudithook"), "sys.monitoring": ("trace", "sys.monitoring"),
    "threading.settrace": ("trace", "threading.settrace"),
    "threading.setprofile": ("trace", "threading.setprofile"),
    "inspect.currentframe": ("frames", "inspect.currentframe"), "inspect.stack": ("frames", "inspect.stack"),
    "inspect.getouterframes": ("frames", "inspect.getouterframes"), "inspect.trace": ("frames", "inspect.trace"),
    "marshal": ("exec", "marshal (code objects from bytes)"),
    "subprocess": ("process", "subprocess"), "multiprocessing": ("process", "multiprocessing"),
    "pty": ("process", "pty"), "os.fork": ("process", "os.fork"), "os.system": ("process", "os.system"),
    "os.popen": ("process", "os.popen"), "os.posix_spawn": ("process", "os.posix_spawn"),
    "os.exec": ("process", "os.exec*"), "os.spawn": ("process", "os.spawn*"),
}
# Names of torch's own mode machinery, wherever they are imported from.
_NAMES = {
    "DisableTorchFunction": "torch_internals", "DisableTorchFunctionSubclass": "torch_internals",
    "_DisableTorchDispatch": "torch_internals", "TorchFunctionMode": "torch_internals",
    "TorchDispatchMode": "torch_internals", "_pop_mode": "torch_internals", "_push_mode": "torch_internals",
    "_get_current_function_mode_stack": "torch_internals", "_get_current_dispatch_mode_stack": "torch_internals",
    "set_detect_anomaly": "guard", "detect_anomaly": "guard", "set_anomaly_enabled": "guard",
}
_ATTRIBUTES = {
    "__globals__": "frames", "__closure__": "frames", "cell_contents": "frames", "__subclasses__": "frames",
    "f_back": "frames", "f_locals": "frames", "f_globals": "frames", "f_builtins": "frames",
    "tb_frame": "frames", "gi_frame": "frames", "cr_frame": "frames", "ag_frame": "frames",
    "__code__": "code", "__builtins__": "frames",
}
_BUILT_CODE = frozenset({"exec", "eval", "compile", "__import__"})
_COMPUTED_LOOKUPS = frozenset({"getattr", "setattr", "delattr"})


def scan_submission(folder: Path, assignment, skip: dict[str, str] | None = None) -> list[Evidence]:
    """Findings for the assignment's module and every local module it imports, plus native
    code anywhere in the folder. ``skip``: {relative path: text} of files to leave out (the
    template's own files, such as its test plugin); default: the assignment's template."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return []  # grading refuses such a folder; never read through a link here either
    inside = folder.resolve()
    if skip is None:
        skip = _template_files(assignment)
    findings: list[Evidence] = []
    findings += _native_files(folder)
    todo, done = [f"{assignment.module}.py"], set()
    while todo and len(done) < MAX_FILES and len(findings) < MAX_RECORDS:
        relative = todo.pop()
        if relative in done:
            continue
        done.add(relative)
        path = folder / relative
        if not path.is_file() or path.is_symlink() or not path.resolve().is_relative_to(inside):
            continue
        try:
            found, imported = scan_file(path, relative, skip.get(relative))
        except OSError as error:
            found, imported = [Evidence("unreadable", f"cannot be read ({error.strerror})", relative, 0, "source")], set()
        findings += found
        todo += [r for r in _local_files(folder, imported) if r not in done]
    unique = list(dict.fromkeys(findings))
    return unique[:MAX_RECORDS]


def scan_file(path: Path, relative: str, template_text: str | None = None) -> tuple[list[Evidence], set[str]]:
    """(findings, top-level module names it imports) for one file."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        return [Evidence("unreadable", f"{size >> 10} KiB, over the {MAX_FILE_BYTES >> 10} KiB the grader reads",
                         relative, 0, "source")], set()
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [Evidence("unreadable", "not UTF-8 text", relative, 0, "source")], set()
    if template_text is not None and text == template_text:
        return [], set()
    try:
        tree = ast.parse(text, relative)
    except SyntaxError:
        return [], set()  # it cannot be imported either: the tests say so
    except (ValueError, RecursionError, MemoryError) as error:
        return [Evidence("unreadable", f"cannot be parsed ({type(error).__name__})", relative, 0, "source")], set()
    return _Findings(relative).visit(tree)


class _Findings:
    def __init__(self, relative: str):
        self.relative = relative
        self.aliases: dict[str, str] = {}  # local name -> the dotted name it was imported as
        self.found: list[Evidence] = []
        self.imported: set[str] = set()

    def add(self, kind: str, detail: str, node) -> None:
        self.found.append(Evidence(kind, detail, self.relative, getattr(node, "lineno", 0), "source"))

    def visit(self, tree) -> tuple[list[Evidence], set[str]]:
        nodes = list(ast.walk(tree))  # iterative: deep trees cannot blow the stack here
        for node in nodes:  # imports first, so that aliases are known wherever they are used
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                        alias.name.split(".")[0]
                    self.imported.add(alias.name.split(".")[0])
                    self.dotted(alias.name, node)
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level == 0:
                    self.imported.add(module.split(".")[0])
                else:
                    self.imported.update(a.name for a in node.names)
                    if module:
                        self.imported.add(module.split(".")[0])
                for alias in node.names:
                    full = f"{module}.{alias.name}" if module else alias.name
                    self.aliases[alias.asname or alias.name] = full
                    self.dotted(full, node)
        for node in nodes:
            if isinstance(node, ast.Attribute):
                kind = _ATTRIBUTES.get(node.attr)
                if kind:
                    self.add(kind, f".{node.attr}", node)
                name = self.resolve(node)
                if name:
                    self.dotted(name, node)
            elif isinstance(node, ast.Name) and node.id in self.aliases and isinstance(node.ctx, ast.Load):
                pass  # the import itself was looked at
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                self.call(node)
        return self.found, self.imported

    def call(self, node: ast.Call) -> None:
        name = node.func.id
        first = node.args[0] if node.args else None
        if name in _BUILT_CODE and name not in self.aliases and not _literal(first):
            self.add("exec", f"{name}() of a string built at run time", node)
        elif name in _COMPUTED_LOOKUPS and len(node.args) > 1 and not _literal(node.args[1]) \
                and isinstance(first, (ast.Name, ast.Attribute)) and self.resolve(first):
            self.add("frames" if self.resolve(first).split(".")[0] in ("sys", "gc", "builtins") else "torch_internals",
                     f"{name}({self.resolve(first)}, <a name built at run time>)", node)
        elif name == "vars" and first is not None and self.resolve(first):
            self.add("frames", f"vars({self.resolve(first)})", node)

    def resolve(self, node) -> str:
        """``F.conv2d`` -> ``torch.nn.functional.conv2d`` when ``F`` is an import alias."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.aliases:
            return ""
        return ".".join([self.aliases[node.id], *reversed(parts)])

    def dotted(self, name: str, node) -> None:
        leaf = name.rsplit(".", 1)[-1]
        if leaf in _NAMES:
            self.add(_NAMES[leaf], name, node)
            return
        for prefix, (kind, what) in _PREFIXES.items():
            if name == prefix or name.startswith(prefix + ".") or (prefix.endswith(("exec", "spawn"))
                                                                  and name.startswith(prefix)):
                self.add(kind, what, node)
                return


def _literal(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))


def _local_files(folder: Path, names: set[str]) -> list[str]:
    found = []
    for name in sorted(names):
        if not name.isidentifier():
            continue
        for candidate in (f"{name}.py", f"{name}/__init__.py"):
            if (folder / candidate).is_file():
                found.append(candidate)
        package = folder / name
        if package.is_dir() and not package.is_symlink():
            found += sorted(str(p.relative_to(folder)) for p in package.rglob("*.py"))[:MAX_FILES]
    return found


def _native_files(folder: Path) -> list[Evidence]:
    found = []
    for path in sorted(folder.rglob("*"))[:10_000]:
        if not path.is_file() or path.is_symlink() or any(p.startswith(".git") for p in path.relative_to(folder).parts):
            continue
        relative = str(path.relative_to(folder))
        try:
            with open(path, "rb") as stream:
                head = stream.read(16)
        except OSError:
            continue
        if path.suffix in _NATIVE_SUFFIXES or head.startswith(_NATIVE_MAGIC):
            found.append(Evidence("native", "a compiled extension module", relative, 0, "source"))
        elif path.suffix == ".pyc" and len(head) >= 8 and int.from_bytes(head[4:8], "little") & 0b11 == 0b01:
            # Hash-based and never checked against its source: it runs whatever the .py says.
            found.append(Evidence("native", "bytecode that Python runs without checking its source",
                                  relative, 0, "source"))
    return found


_TEMPLATES: dict[tuple, dict[str, str]] = {}


def _template_files(assignment) -> dict[str, str]:
    """The assignment's template (made once per process and reference version)."""
    try:
        key = (assignment.name, str(assignment.reference_path), assignment.reference_path.stat().st_mtime_ns)
        if key not in _TEMPLATES:
            from graders.outputs import release

            _TEMPLATES[key] = release.template_files(assignment)
        return _TEMPLATES[key]
    except Exception:  # noqa: BLE001 - without the template the scan only reads more
        return {}
