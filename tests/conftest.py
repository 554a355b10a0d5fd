"""Fixtures for nngrade's own test suite."""
from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from graders import kinds
from graders.grading import assignment

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = assignment.available(ROOT)


@pytest.fixture(scope="session")
def load():
    """Load an assignment by name, once per session."""
    cache = {}

    def loader(name: str):
        if name not in cache:
            cache[name] = kinds.load(name, ROOT)
        return cache[name]

    return loader


@pytest.fixture
def make_submission(tmp_path):
    """Write a submission folder from {relative path: source}; returns its path."""

    def make(name: str, files: dict[str, str]) -> Path:
        folder = tmp_path / name
        for relative, text in files.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(textwrap.dedent(text))
        return folder

    return make


@pytest.fixture(scope="session")
def a2(load):
    """a2_numpy_mlp, the quickest assignment to grade: most engine tests use it."""
    return load("a2_numpy_mlp")


@pytest.fixture(scope="session")
def a2_stub(a2):
    """a2's untouched stub: the honest wrong submission attacks are measured against."""
    from graders.outputs import release

    return release.strip_solutions(a2.reference_source)


def main_in_process(*args):
    """``nngrade ARGS`` run by ``graders.cli.main`` in this process, returning what
    ``subprocess.run`` would (exit status, stdout, stderr). Each submission is still graded in
    its own sandboxed worker; only the command's own process is saved."""
    import contextlib
    import io
    import subprocess

    from graders import cli

    argv = [str(arg) for arg in args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exit:  # argparse's own refusals and --version
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    return subprocess.CompletedProcess(["nngrade", *argv], code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def graded_a2_examples(tmp_path_factory):
    """examples/a2_numpy_mlp graded once by `nngrade grade-all`: (out folder, the run), for
    tests that read the results. A test that adds to them works on a copy."""
    out = tmp_path_factory.mktemp("a2-examples") / "out"
    run = main_in_process("grade-all", "a2_numpy_mlp", ROOT / "examples" / "a2_numpy_mlp", "--out", out,
                          "--workers", "2")
    return out, run


@pytest.fixture
def nngrade_main(monkeypatch):
    """``main_in_process`` with ``env`` and ``cwd`` as ``subprocess.run`` takes them, undone
    after the test: for tests of what the command prints, writes and returns, where the
    process boundary is not what they test. Tests of signals, users, isolation or the real
    command's exit status keep starting the command."""
    import os

    from graders.sandbox import isolation

    # main() sets this from --isolation for the processes it starts; it must not leak out.
    monkeypatch.setenv(isolation.ENVIRONMENT_VARIABLE, os.environ.get(isolation.ENVIRONMENT_VARIABLE, ""))
    if not os.environ[isolation.ENVIRONMENT_VARIABLE]:
        monkeypatch.delenv(isolation.ENVIRONMENT_VARIABLE)

    def run(*args, env=None, cwd=ROOT):
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, str(value))
        monkeypatch.chdir(cwd)
        return main_in_process(*args)

    return run


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def within(seconds: float, condition):
    """``condition()``'s value once it is true, or its last value after ``seconds``: for
    what the kernel finishes in its own time (a process's exec, a namespace's teardown)."""
    deadline = time.monotonic() + seconds
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return value
