"""Which of a submission folder's files grading uses: the one selection that both the
worker's private copy and grade-all's resume hash are made from.

Nothing here follows a symbolic link: a link could point at the reference, another
student's folder or anything else the grader's user can read. Links, FIFOs, sockets and
device files are left out and named, so feedback can say so; tool folders (``.git``,
``.venv``, ``__pycache__``, ``node_modules``, ...) are left out silently. Sizes are
checked with ``lstat`` before a byte is read.
"""
from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

MAX_BYTES = 50 * 1024 * 1024
MAX_FILES = 5000
IGNORED_FOLDERS = {".venv", "venv", "__pycache__", "node_modules", ".ipynb_checkpoints", ".mypy_cache",
                   ".pytest_cache", ".ruff_cache", ".tox", ".idea", ".vscode", "__MACOSX", ".DS_Store"}
_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


class BatchError(ValueError):
    """A batch of submissions cannot be graded as given; the message says why in one line."""


class SubmissionNotLoaded(Exception):
    """The submission cannot be graded as it stands (its module could not be imported, or
    the folder itself was refused)."""


@dataclass
class Selection:
    folder: Path
    files: list[tuple[str, int]] = field(default_factory=list)  # (relative path, size)
    left_out: list[str] = field(default_factory=list)  # "path (a symbolic link)", for feedback

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def note(self) -> str:
        if not self.left_out:
            return ""
        shown = ", ".join(self.left_out[:10]) + (f" and {len(self.left_out) - 10} more" if len(self.left_out) > 10 else "")
        return f"Left out of grading (links and special files are never followed or copied): {shown}"


def metadata_identity(folder: Path) -> str | None:
    """Who submitted, from a Gradescope ``submission_metadata.json`` in ``folder``: the
    submitters' emails (or ids), sorted and joined; None where there is none."""
    import json

    try:
        metadata = json.loads((Path(folder) / "submission_metadata.json").read_text())
        users = metadata.get("users") or []
        names = sorted(str(u.get("email") or u.get("id") or u.get("name")) for u in users if isinstance(u, dict))
        return "+".join(names) or None
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def _ignored(name: str) -> bool:
    return name in IGNORED_FOLDERS or name.startswith(".git")


def select(folder: Path) -> Selection:
    """The regular files of ``folder`` grading uses. Raises ``SubmissionNotLoaded`` for a
    folder that is itself a link, or holds too much."""
    folder = Path(folder)
    if folder.is_symlink():
        raise SubmissionNotLoaded(f"the submission folder {folder.name} is a symbolic link; nngrade never "
                                  "follows links out of a submission, so it was not graded")
    if not folder.is_dir():
        raise SubmissionNotLoaded(f"the submission {folder.name} is not a folder")
    selection = Selection(folder)
    total = 0
    for top, dirs, files in os.walk(folder, followlinks=False):
        relative_top = os.path.relpath(top, folder)
        entries = sorted(dirs + files)
        dirs[:] = []
        for name in entries:
            relative = name if relative_top == "." else os.path.join(relative_top, name)
            try:
                info = os.lstat(os.path.join(top, name))
            except OSError:
                continue
            if _ignored(name):
                continue
            if stat.S_ISDIR(info.st_mode):
                dirs.append(name)
                continue
            if not stat.S_ISREG(info.st_mode):
                kind = next(word for test, word in _KINDS if test(info.st_mode)) if any(
                    test(info.st_mode) for test, _ in _KINDS) else "not a regular file"
                selection.left_out.append(f"{relative} ({kind})")
                continue
            selection.files.append((relative, info.st_size))
            total += info.st_size
            if total > MAX_BYTES:
                raise SubmissionNotLoaded(_too_large(folder))
            if len(selection.files) > MAX_FILES:
                raise SubmissionNotLoaded(f"the submission holds more than {MAX_FILES} files; "
                                          "submit your module and what it needs only")
    return selection


def _too_large(folder: Path) -> str:
    sizes: dict[str, int] = {}
    for top, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if not _ignored(d)]
        for name in files:
            try:
                info = os.lstat(os.path.join(top, name))
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                first = os.path.relpath(os.path.join(top, name), folder).split(os.sep)[0]
                sizes[first] = sizes.get(first, 0) + info.st_size
    largest = sorted(sizes.items(), key=lambda item: -item[1])[:3]
    named = ", ".join(f"{name} ({size / 2**20:.1f} MiB)" for name, size in largest)
    return f"the submission is larger than {MAX_BYTES >> 20} MiB; the largest parts: {named}"


def open_file(selection: Selection, relative: str) -> int:
    """A file descriptor for one selected file, refusing a link swapped in since."""
    fd = os.open(selection.folder / relative, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SubmissionNotLoaded(f"{relative} changed while it was being read")
    return fd


def read_chunks(selection: Selection, relative: str, chunk: int = 1 << 20):
    with os.fdopen(open_file(selection, relative), "rb") as handle:
        while block := handle.read(chunk):
            yield block


def copy(selection: Selection, target: Path) -> None:
    for relative, _ in selection.files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        with open(destination, "wb") as out:
            for block in read_chunks(selection, relative):
                out.write(block)


def content_hash(selection: Selection) -> str:
    digest = hashlib.sha256()
    for relative, size in selection.files:
        digest.update(f"{relative}\0{size}\0".encode())
        for block in read_chunks(selection, relative):
            digest.update(block)
    return digest.hexdigest()


def file_contents(selection: Selection) -> tuple[tuple[str, bytes], ...]:
    """The files themselves, for an executor whose workers may not see this disk."""
    return tuple((Path(relative).as_posix(), b"".join(read_chunks(selection, relative)))
                 for relative, _ in selection.files)
