"""How strongly a worker is shut in, decided once per grading process.

Two levels, the strongest the machine allows is the default:

``namespace``  (needs root, or CAP_SYS_ADMIN) everything of ``process``, and the worker
               also enters new network and mount namespaces, hides the course's private
               folders (reference, hidden tests, other submissions, results) under empty
               read-protected mounts, and drops to a user id of its own with no groups and
               no way to regain privileges. It cannot reach the network, read what is
               hidden, signal or trace the grader, or write the grader's files, and the
               per-user process limit bounds a fork storm.
``process``    rlimits (CPU, address space, file size, no core dumps), its own session,
               a scrubbed environment, a private copy of the submission as working
               directory, the whole process tree killed when it is done. It runs as the
               grader's user: it could read anything that user can.

``NNGRADE_ISOLATION=process`` forces the weaker level (e.g. to compare behaviour).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

NAMESPACE, PROCESS = "namespace", "process"
FIRST_UID = 200_000  # far above any real account; one uid per grading process

_CLONE_NEWNS, _CLONE_NEWNET = 0x00020000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_BIND, _MS_REC, _MS_PRIVATE = 0x1000, 0x4000, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_NO_NEW_PRIVS, _PR_SET_CHILD_SUBREAPER = 1, 38, 36

_level: str | None = None


def level() -> str:
    """The level workers of this process get (probed once, in a throwaway child)."""
    global _level
    if _level is None:
        wanted = os.environ.get("NNGRADE_ISOLATION", NAMESPACE)
        _level = NAMESPACE if wanted == NAMESPACE and _namespaces_work() else PROCESS
    return _level


def worker_uid() -> int:
    return FIRST_UID + os.getpid()


def _namespaces_work() -> bool:
    if os.geteuid() != 0:
        return False
    pid = os.fork()
    if pid == 0:
        try:
            _unshare(_CLONE_NEWNS | _CLONE_NEWNET)
            _mount("none", "/", None, _MS_REC | _MS_PRIVATE)
            os.setgroups([])
            os.setgid(FIRST_UID)
            os.setuid(FIRST_UID)
            os._exit(0)
        except BaseException:  # noqa: BLE001 - any failure means "not available"
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def enter(uid: int, hidden: list[str], processes: int) -> None:
    """Called in the fresh worker, before the submission is imported: namespaces, hidden
    folders, then drop to ``uid``. Raises OSError where the kernel refuses."""
    import resource

    _unshare(_CLONE_NEWNS | _CLONE_NEWNET)
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE)  # nothing mounted here leaks out
    _expose_runtime(_runtime_paths())
    for path in hidden:
        if os.path.isdir(path):
            _mount("nngrade-hidden", path, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
                   "size=4k,mode=000")
    # The per-user count covers threads too; the uid is this worker's alone.
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    prctl(_PR_SET_NO_NEW_PRIVS, 1)


def _runtime_paths() -> list[str]:
    import sys

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.update(p for p in sys.path if p and os.path.isdir(p))
    return sorted(os.path.realpath(p) for p in paths)


def _expose_runtime(paths: list[str]) -> None:
    """Keep Python's own files reachable for the worker's user where an ancestor folder
    is closed to others (pyenv under /root): cover that folder with an empty traversable
    tmpfs and bind the runtime folders back in. The rest of that folder stays hidden."""
    import stat

    blocked: dict[str, list[tuple[str, int]]] = {}
    for path in paths:
        ancestor = next((a for a in _ancestors(path) if not os.stat(a).st_mode & stat.S_IXOTH), None)
        if ancestor is not None:
            blocked.setdefault(ancestor, []).append((path, os.open(path, os.O_PATH)))
    for ancestor, inside in sorted(blocked.items()):
        _mount("nngrade-runtime", ancestor, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=64k,mode=755")
        for path, fd in inside:
            os.makedirs(path, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC)
            os.close(fd)


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def die_with_parent() -> None:
    import signal

    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def adopt_orphans() -> None:
    """Make this process the reaper of every descendant whose parent dies (daemons)."""
    prctl(_PR_SET_CHILD_SUBREAPER, 1)


def prctl(option: int, value: int) -> None:
    if _libc().prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _unshare(flags: int) -> None:
    if _libc().unshare(flags) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare failed: {os.strerror(errno)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    result = _libc().mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                           ctypes.c_ulong(flags), data.encode() if data else None)
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount on {target} failed: {os.strerror(errno)}")


_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _LIBC
