"""How a worker is shut in: an allowlist of what it may see, its own identity, no network,
and nothing it starts outliving it.

Three levels; the strongest this machine allows is the default (``auto``):

``namespace``  own user (root: a fresh uid per submission; otherwise a user namespace),
               PID, mount, network, IPC and UTS namespaces. The worker's filesystem is a
               new root holding only the allowlist below, read-only, plus its own folder
               and private size-limited /tmp, /var/tmp and /dev/shm; /proc shows its own
               processes only. Its init process holds the namespace: when it dies, the
               kernel kills every process the submission started.
``landlock``   where namespaces are refused (a container without CAP_SYS_ADMIN, a kernel
               or AppArmor policy that forbids user namespaces): Landlock restricts the
               worker to the same allowlist (no /tmp, /proc or /dev/shm at all: TMPDIR
               is its own folder), denies TCP and signals outside its domain; as root it
               also runs as a fresh uid per submission.
``none``       only by explicit request (``--isolation none``): rlimits and the process
               tree killed at the end; the worker can read all the grader's user can.

At every sandboxed level a seccomp filter refuses sockets other than AF_UNIX (and
io_uring), no_new_privs is set, and a process/thread limit binds. Where the requested
level (or, for ``auto``, any level that hides the grader's files) is unavailable,
``level()`` raises ``IsolationUnavailable`` with the reason: grading fails closed.

The allowlist (read-only): the OS runtime (/usr, /bin, /lib*, /sbin), a few files of
/etc the dynamic linker needs (plus a made-up passwd/group), /dev/null, zero, full,
random and urandom (and the NVIDIA device nodes when the worker may use CUDA), the Python
installation (its prefixes, site-packages and LD_LIBRARY_PATH folders) and the
``graders`` package itself, never the checkout around it.
"""
from __future__ import annotations

import errno
import glob
import os
import resource
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from graders.sandbox import syscalls as sc

NAMESPACE, LANDLOCK, NONE = "namespace", "landlock", "none"
LEVELS = (NAMESPACE, LANDLOCK, NONE)
AUTO = "auto"
ENVIRONMENT_VARIABLE = "NNGRADE_ISOLATION"

# Worker uids when the grader is root: far above real accounts and the subordinate ranges
# rootless containers use; 64 per grading process, reused only after a submission's
# processes are all gone.
FIRST_UID = 1 << 30
UIDS_PER_PROCESS = 64
INSIDE_UID = 1000  # the worker's uid inside its user namespace (non-root graders)

OS_RUNTIME = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# The grader's choice of GPU and allocator settings reach the worker unchanged.
GPU_VARIABLES = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "PYTORCH_CUDA_ALLOC_CONF", "CUDA_MODULE_LOADING",
                 "NVIDIA_VISIBLE_DEVICES")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "alternatives")
DEVICES = ("null", "zero", "full", "random", "urandom")


class IsolationUnavailable(RuntimeError):
    """No level that keeps the grader's files from the submission can be had here."""


# --------------------------------------------------------------------------- choosing

_chosen: dict[tuple[int, str], str] = {}
_probed: dict[tuple[int, str], str | None] = {}


def requested() -> str:
    wanted = os.environ.get(ENVIRONMENT_VARIABLE, AUTO) or AUTO
    if wanted not in (AUTO, *LEVELS):
        raise IsolationUnavailable(f"{ENVIRONMENT_VARIABLE}={wanted!r} is not a level: use one of "
                                   f"{', '.join((AUTO, *LEVELS))}")
    return wanted


def level() -> str:
    """The level workers of this process get: the requested one, or for ``auto`` the
    strongest available. Raises ``IsolationUnavailable`` rather than fall back silently
    to a level that hides nothing."""
    wanted = requested()
    key = (os.getpid(), wanted)
    if key not in _chosen:
        _chosen[key] = _choose(wanted)
    return _chosen[key]


def _choose(wanted: str) -> str:
    if wanted == NONE:
        return NONE
    if wanted != AUTO:
        reason = unavailable_because(wanted)
        if reason:
            raise IsolationUnavailable(f"isolation level {wanted!r} is not available here: {reason}")
        return wanted
    reasons = {}
    for candidate in (NAMESPACE, LANDLOCK):
        reasons[candidate] = unavailable_because(candidate)
        if not reasons[candidate]:
            return candidate
    raise IsolationUnavailable(
        "no sandbox that hides the reference and the hidden tests from submissions is available here:\n"
        f"  namespace: {reasons[NAMESPACE]}\n  landlock: {reasons[LANDLOCK]}\n"
        "Grade where unprivileged user namespaces are allowed (e.g. `sysctl kernel.unprivileged_userns_clone=1`, "
        "or on Ubuntu `sysctl kernel.apparmor_restrict_unprivileged_userns=0`), or on a Linux kernel with "
        "Landlock enabled (5.13 or later, `landlock` in the lsm= list), or as root. To grade anyway with no "
        "protection, pass --isolation none (it is recorded in every result).")


def unavailable_because(candidate: str) -> str | None:
    """None where ``candidate`` works for this process's user, else why not (probed once,
    in a throwaway child that goes through the same steps a worker will)."""
    if candidate == NONE:
        return None
    key = (os.getpid(), candidate)
    if key not in _probed:
        _probed[key] = _probe(candidate)
    return _probed[key]


def _probe(candidate: str) -> str | None:
    if not sys.platform.startswith("linux"):
        return f"the {candidate} sandbox needs Linux"
    box = Box.create()
    read_end, write_end = os.pipe()
    spec = box.spec(candidate, identity(probe=True), processes=16, tmp_bytes=1 << 20)

    def inside() -> None:
        confine(spec)
        _check_the_view(spec)

    try:
        pid = os.fork()
        if pid == 0:  # stands in for the zygote: a subreaper, so the worker comes back to it
            os.close(read_end)
            try:
                adopt_orphans()
                if candidate == NAMESPACE:
                    worker, namespaces = spawn_in_namespaces(spec, inside, report_errors_to=write_end)
                    _, status = os.waitpid(worker, 0)
                    namespaces.end()
                    os._exit(0 if status == 0 else 1)
                inside()
                os._exit(0)
            except BaseException as error:  # noqa: BLE001 - the reason is the probe's answer
                os.write(write_end, _reason(error).encode()[:1000])
                os._exit(1)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            message = pipe.read().decode(errors="replace")
        _, status = os.waitpid(pid, 0)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            return None
        return message or f"the probe process ended with status {status}"
    finally:
        box.remove()


def _reason(error: BaseException) -> str:
    text = (error.strerror if isinstance(error, OSError) and error.strerror else str(error)) or type(error).__name__
    if isinstance(error, OSError) and error.errno in (errno.ENOSYS, errno.EOPNOTSUPP) and "landlock" in text:
        return "Landlock is not enabled in this kernel"
    if text.startswith("unshare"):
        return f"creating namespaces was refused ({text})"
    return text


def _check_the_view(spec: dict) -> None:
    """In the probe: the runtime is readable, the folder outside the box is not."""
    try:
        with open(sys.executable, "rb") as handle:
            handle.read(4)
    except OSError as error:
        raise OSError(error.errno, f"the sandboxed worker cannot read the Python runtime ({sys.executable}): "
                      "install Python where other users can read it") from None
    try:
        beside = os.listdir(spec["box"])
    except OSError:
        return
    if "root" in beside:
        raise OSError(errno.EPERM, "the probe could still see the folders beside its own")


# --------------------------------------------------------------------------- identity

_uid_counter = 0


def identity(probe: bool = False) -> int | None:
    """The uid a new worker runs as: a fresh one per worker when the grader is root (so a
    process limit binds and nothing it leaves can touch the next student's), else None
    (the grader's own uid, inside a user namespace or a Landlock domain of its own)."""
    global _uid_counter
    if os.geteuid() != 0:
        return None
    _uid_counter += 1
    slot = UIDS_PER_PROCESS - 1 if probe else _uid_counter % (UIDS_PER_PROCESS - 1)
    return FIRST_UID + (os.getpid() % (1 << 22)) * UIDS_PER_PROCESS + slot


@dataclass
class Box:
    """A worker's folder on the grader's side: ``submission/`` (its private copy and working
    directory) and ``root/`` (where the namespace level builds its filesystem)."""

    path: Path

    @classmethod
    def create(cls) -> "Box":
        path = Path(tempfile.mkdtemp(prefix="nngrade-box-"))
        (path / "submission").mkdir()
        (path / "root").mkdir()
        path.chmod(0o711)  # a worker with a uid of its own must reach its folder, not list the box
        return cls(path)

    @property
    def workdir(self) -> Path:
        return self.path / "submission"

    def hand_to(self, uid: int | None) -> None:
        """Make the private copy the worker's own: its files, writable by it alone."""
        if uid is None:
            return
        for folder, dirs, files in os.walk(self.workdir):
            for name in [folder, *(os.path.join(folder, f) for f in dirs + files)]:
                os.chown(name, uid, uid, follow_symlinks=False)

    def spec(self, chosen: str, uid: int | None, processes: int, tmp_bytes: int, gpu: bool = False) -> dict:
        """What the worker needs to confine itself (sent to it as JSON)."""
        return {"level": chosen, "uid": uid, "box": str(self.path), "root": str(self.path / "root"),
                "workdir": str(self.workdir), "processes": processes, "tmp_bytes": tmp_bytes, "gpu": gpu}

    def remove(self) -> None:
        def make_writable_and_retry(function, path, _):
            try:
                os.chmod(os.path.dirname(path), 0o700)
                if os.path.isdir(path) and not os.path.islink(path):
                    os.chmod(path, 0o700)
                function(path)
            except OSError:
                pass

        import shutil

        shutil.rmtree(self.path, onerror=make_writable_and_retry)


# --------------------------------------------------------------------------- the allowlist

def runtime_paths() -> list[str]:
    """The Python installation and the grader's own package, outside the OS folders."""
    import graders

    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  os.path.dirname(os.path.abspath(graders.__file__))}
    prefixes = [os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)]
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        # Only entries that hold installed packages: the checkout the grader runs from is on
        # sys.path too, and must stay out of sight.
        if real and (os.path.basename(real) in ("site-packages", "dist-packages") or real.endswith(".zip")
                     or any(real == p or real.startswith(p + os.sep) for p in prefixes)):
            candidates.add(real)
    for entry in os.environ.get("LD_LIBRARY_PATH", "").split(":"):
        if entry:
            candidates.add(entry)
    real = sorted({os.path.realpath(p) for p in candidates if os.path.exists(p)})
    outer = [p for p in real if not any(p.startswith(q + os.sep) for q in real if q != p)]
    return [p for p in outer if not any(p == d or p.startswith(d + os.sep) for d in OS_RUNTIME)]


def gpu_devices() -> list[str]:
    return sorted(p for p in glob.glob("/dev/nvidia*") + glob.glob("/dev/nvidia-caps/*") if not os.path.isdir(p))


def device_groups(spec: dict) -> list[int]:
    """The groups a worker keeps: none, except those that own the GPU's device nodes when
    it may use CUDA (nodes of mode 0660 are otherwise closed to a fresh uid)."""
    if not spec.get("gpu"):
        return []
    return sorted({os.stat(path).st_gid for path in gpu_devices()} - {0})


# --------------------------------------------------------------------------- the worker's side

def confine(spec: dict) -> None:
    """Called in the fresh worker, before anything of the submission runs (at the
    namespace level, inside the namespaces ``spawn_in_namespaces`` made for it)."""
    if spec["level"] == NAMESPACE:
        _enter_root(spec)
    elif spec["level"] == LANDLOCK:
        enter_landlock(spec)
    if spec["level"] != NONE:
        no_network()


def no_network() -> None:
    """Only AF_UNIX sockets, and no connect(): a Landlock domain does not cover sockets
    bound in the filesystem, and through the user's D-Bus a process could ask systemd to
    start another one outside the sandbox. io_uring could open sockets behind seccomp's back."""
    sc.install_seccomp(sc.seccomp_filter({"io_uring_setup": errno.EPERM, "connect": errno.EPERM},
                                         socket_families=(socket.AF_UNIX,)))


@dataclass
class Namespaces:
    """What holds a worker's namespaces open: their init (a ``cat`` reading a pipe this
    process keeps). Ending it, or this process dying, makes the kernel kill every process
    in them, however they forked, detached or renamed themselves."""

    init: int
    holder: int  # the pipe's write end

    def end(self) -> None:
        try:
            os.kill(self.init, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.close(self.holder)
        except OSError:
            pass


def spawn_in_namespaces(spec: dict, run, close_in_child=(), report_errors_to: int | None = None):
    """Start ``run()`` in a process of its own inside new user (unless root), PID, mount,
    network, IPC and UTS namespaces. Returns ``(pid, Namespaces)``; the worker is this
    process's child once the short-lived process that made the namespaces has exited.

    Two processes are forked from this (large) one: that maker, and the worker. The
    namespaces' init is a small program, not a third copy: it only has to hold them."""
    holder_read, holder_write = os.pipe()
    report_read, report_write = os.pipe()
    maker = os.fork()
    if maker == 0:
        for fd in (*close_in_child, holder_write, report_read):
            os.close(fd)
        try:
            started = _make_namespaces(holder_read, spec["uid"])
        except BaseException as error:  # noqa: BLE001 - reported to the caller, who decides
            os.write(report_write, ("error " + _reason(error)).encode()[:1000])
            os._exit(1)
        if started is None:  # the worker
            os.close(report_write)
            try:
                run()
            except BaseException as error:  # noqa: BLE001
                if report_errors_to is not None:
                    os.write(report_errors_to, _reason(error).encode()[:1000])
                os._exit(1)
            os._exit(0)
        os.write(report_write, " ".join(map(str, started)).encode())
        os._exit(0)
    os.close(holder_read)
    os.close(report_write)
    with os.fdopen(report_read, "rb") as report:
        message = report.read().decode(errors="replace")
    try:
        os.waitpid(maker, 0)
    except ChildProcessError:  # a SIGCHLD handler reaped it first
        pass
    if not message or message.startswith("error"):
        os.close(holder_write)
        raise OSError(errno.EPERM, message[len("error "):] or "the namespaces could not be made")
    worker, init = map(int, message.split())
    return worker, Namespaces(init, holder_write)


def _make_namespaces(holder_read: int, spec_uid: int | None) -> tuple[int, int] | None:
    """In the maker: unshare, start the init, fork the worker. Returns (worker, init) in
    the maker, None in the worker."""
    as_root = os.geteuid() == 0
    uid, gid = os.getuid(), os.getgid()
    flags = sc.CLONE_NEWNS | sc.CLONE_NEWPID | sc.CLONE_NEWNET | sc.CLONE_NEWIPC | sc.CLONE_NEWUTS
    sc.unshare(flags if as_root else flags | sc.CLONE_NEWUSER)
    if not as_root:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{INSIDE_UID} {uid} 1")
        _write("/proc/self/gid_map", f"{INSIDE_UID} {gid} 1")
    # PID 1 of the new namespace: reads the pipe until its writer (the zygote) closes it or
    # dies. For a root grader it runs as the worker's uid, not as root (the saved uid lets
    # this process take root back for the worker's mounts).
    if as_root:
        os.setresuid(spec_uid, spec_uid, 0)
    init = os.posix_spawn(_INIT, ["nngrade-init"], {}, file_actions=[
        (os.POSIX_SPAWN_DUP2, holder_read, 0), (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_DUP2, 1, 2)])
    if as_root:
        os.setresuid(0, 0, 0)
    os.close(holder_read)
    worker = os.fork()
    return None if worker == 0 else (worker, init)


_INIT = next((p for p in ("/usr/bin/cat", "/bin/cat") if os.path.exists(p)), "/bin/cat")


def _enter_root(spec: dict) -> None:
    """In the worker, inside its namespaces: the allowlist as its filesystem, then no way
    back to any privilege."""
    as_root = os.geteuid() == 0
    _build_root(spec, spec["uid"] if as_root else INSIDE_UID)
    socket.sethostname("nngrade")
    if as_root:
        os.setgroups(device_groups(spec))
        os.setresgid(spec["uid"], spec["uid"], spec["uid"])
        os.setresuid(spec["uid"], spec["uid"], spec["uid"])  # drops every capability
    else:
        sc.drop_capabilities()
    sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    # Counted per uid inside this user/PID namespace: this submission's processes alone
    # (and its init, for a normal user's grader).
    allowed = spec["processes"] + (0 if as_root else 1)
    resource.setrlimit(resource.RLIMIT_NPROC, (allowed, allowed))


def _build_root(spec: dict, inside_uid: int) -> None:
    """Mount the allowlist as a new root and pivot into it (the old root is detached)."""
    root = spec["root"]
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)  # nothing mounted here leaks out
    sc.mount("nngrade-root", root, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "size=1m,mode=755")
    scratch = f"size={spec['tmp_bytes']},mode=1777"
    for private in ("/tmp", "/var/tmp", "/dev"):
        os.makedirs(root + private, exist_ok=True)
    sc.mount("nngrade-tmp", root + "/tmp", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, scratch)
    sc.mount("nngrade-tmp", root + "/var/tmp", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, scratch)
    sc.mount("nngrade-dev", root + "/dev", "tmpfs", sc.MS_NOSUID | sc.MS_NOEXEC, "size=64k,mode=755")
    os.makedirs(root + "/dev/shm")
    sc.mount("nngrade-shm", root + "/dev/shm", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, scratch)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    for name in DEVICES:
        _bind(f"/dev/{name}", root + f"/dev/{name}", writable=True, device=True)
    if spec.get("gpu"):
        for path in gpu_devices():
            _bind(path, root + path, writable=True, device=True)
        if os.path.isdir("/sys"):
            _bind("/sys", root + "/sys")
    for path in OS_RUNTIME:
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
        elif os.path.isdir(path):
            _bind(path, root + path)
    for path in runtime_paths():
        _bind(path, root + path)
    os.makedirs(root + "/etc", exist_ok=True)
    for name in ETC_FILES:
        path = f"/etc/{name}"
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
        elif os.path.exists(path):
            _bind(path, root + path)
    _write_identity_files(root, inside_uid, spec["workdir"])
    os.makedirs(root + "/proc")
    sc.mount("proc", root + "/proc", "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    _bind(spec["workdir"], root + spec["workdir"], writable=True)
    sc.set_mount_attributes(root, sc.MOUNT_ATTR_RDONLY, recursive=False)
    os.chdir(root)
    sc.pivot_root(".", ".")  # the old root ends up stacked under the new one...
    sc.umount(".", sc.MNT_DETACH)  # ...and is detached here
    os.chdir("/")


def _write_identity_files(root: str, uid: int, home: str) -> None:
    with open(root + "/etc/passwd", "w") as passwd:
        passwd.write(f"root:x:0:0::/:/usr/sbin/nologin\nstudent:x:{uid}:{uid}::{home}:/usr/sbin/nologin\n"
                     "nobody:x:65534:65534::/:/usr/sbin/nologin\n")
    with open(root + "/etc/group", "w") as group:
        group.write(f"root:x:0:\nstudent:x:{uid}:\nnogroup:x:65534:\n")


def _bind(source: str, target: str, writable: bool = False, device: bool = False) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    sc.mount(source, target, None, sc.MS_BIND | sc.MS_REC)
    attributes = sc.MOUNT_ATTR_NOSUID | (sc.MOUNT_ATTR_NOEXEC if device else sc.MOUNT_ATTR_NODEV)
    sc.set_mount_attributes(target, attributes | (0 if writable else sc.MOUNT_ATTR_RDONLY))


def enter_landlock(spec: dict) -> None:
    abi = sc.landlock_abi()
    if abi < 1:
        raise OSError(errno.EOPNOTSUPP, "landlock is not enabled in this kernel")
    # Rules are made before the uid changes: they hold open handles, and a fresh uid may not
    # reach a runtime under a private folder (which the probe then reports plainly).
    ruleset = sc.LandlockRuleset(abi)
    # What the NVIDIA driver reads when CUDA starts (never /proc as a whole: other
    # processes' command lines would show the batch's folder).
    gpu_reads = ["/proc/driver/nvidia", "/proc/cpuinfo", "/proc/meminfo", "/sys"] if spec.get("gpu") else []
    for path in [*OS_RUNTIME, *runtime_paths(), *(f"/etc/{name}" for name in ETC_FILES), *gpu_reads]:
        if os.path.exists(path):
            ruleset.allow(path, sc.LANDLOCK_READ)
    device_rights = sc.LANDLOCK_FILE_RIGHTS & ~1  # read, write, truncate, ioctl; not execute
    for path in [*(f"/dev/{name}" for name in DEVICES), *(gpu_devices() if spec.get("gpu") else [])]:
        if os.path.exists(path):
            ruleset.allow(path, device_rights)
    ruleset.allow(spec["workdir"], ruleset.handled)
    if spec["uid"] is not None:
        os.setgroups(device_groups(spec))
        os.setresgid(spec["uid"], spec["uid"], spec["uid"])
        os.setresuid(spec["uid"], spec["uid"], spec["uid"])
        allowed = spec["processes"]
    else:
        # The limit counts every task of the grader's uid: leave room for those already running.
        allowed = _tasks_of(os.getuid()) + spec["processes"]
    resource.setrlimit(resource.RLIMIT_NPROC, (allowed, allowed))
    sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    ruleset.enforce()


def _tasks_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                pass
    return count


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def close_all_but(keep: list[int]) -> None:
    low = 3
    for fd in sorted(keep):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536)


# --------------------------------------------------------------------------- the zygote's side

def die_with_parent() -> None:
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)


def adopt_orphans() -> None:
    """Make this process the reaper of every descendant whose parent dies (daemons)."""
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)


def kill_descendants(deadline_seconds: float = 2.0, converge: bool = True) -> int:
    """Stop, then kill, every process below this one (a subreaper: orphans come back to
    it), round after round until none is left: a stopped process cannot fork, so a fork
    chain cannot stay ahead. ``converge=False``: one round, for processes that are all
    in namespaces being torn down. Returns how many were signalled."""
    import time

    me, killed, deadline = os.getpid(), 0, time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        below = descendants(me)
        if not below:
            break
        if not converge:
            deadline = 0
        for signum in (signal.SIGSTOP, signal.SIGKILL):
            for pid in below:
                try:
                    os.kill(pid, signum)
                except (ProcessLookupError, PermissionError):
                    pass
        killed += len(below)
        time.sleep(0.005)
    return killed


def descendants(ancestor: int) -> list[int]:
    """Every live process below ``ancestor``, found through /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, frontier = [], [ancestor]
    while frontier:
        below = children.get(frontier.pop(), [])
        found += below
        frontier += below
    return found
