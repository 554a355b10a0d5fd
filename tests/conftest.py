"""Fixtures for nngrade's own test suite."""
from __future__ import annotations

import textwrap
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


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
