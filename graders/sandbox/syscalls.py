"""Thin ctypes wrappers for the Linux calls the sandbox needs and Python does not expose:
namespaces and mounts, capabilities, Landlock and seccomp. No policy lives here (what to
mount, what to allow: ``graders.sandbox.isolation``); every wrapper raises ``OSError`` with the
kernel's errno when the call fails."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import struct

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 0x1000, 0x4000, 1 << 18
MNT_DETACH = 2
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC = 0x1, 0x2, 0x4, 0x8
_AT_FDCWD, _AT_RECURSIVE = -100, 0x8000

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38

# Numbers that differ by architecture; the rest (landlock_*, mount_setattr, clone3,
# io_uring_setup) share the generic table on both.
_ARCH = {
    "x86_64": {"audit": 0xC000003E, "socket": 41, "connect": 42, "clone": 56, "unshare": 272, "mount": 165, "setns": 308,
               "pivot_root": 155, "seccomp": 317},
    "aarch64": {"audit": 0xC00000B7, "socket": 198, "connect": 203, "clone": 220, "unshare": 97, "mount": 40, "setns": 268,
                "pivot_root": 41, "seccomp": 277},
}
_COMMON = {"io_uring_setup": 425, "clone3": 435, "mount_setattr": 442, "landlock_create_ruleset": 444,
           "landlock_add_rule": 445, "landlock_restrict_self": 446}


def syscall_number(name: str) -> int:
    table = _ARCH.get(platform.machine())
    if table is None:
        raise OSError(38, f"nngrade's sandbox does not know the system calls of {platform.machine()}")
    return table[name] if name in table else _COMMON[name]


_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _LIBC


def _check(result: int, what: str) -> int:
    if result == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def _syscall(name: str, *args) -> int:
    return _check(_libc().syscall(syscall_number(name), *args), name)


# --------------------------------------------------------------------------- processes

def prctl(option: int, value: int) -> None:
    _check(_libc().prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl({option})")


def unshare(flags: int) -> None:
    _check(_libc().unshare(flags), "unshare")


def drop_capabilities() -> None:
    """Empty this process's effective, permitted and inheritable sets (capset v3)."""
    header = struct.pack("Ii", 0x20080522, 0)
    data = bytes(24)  # two {effective, permitted, inheritable} u32 triples, all zero
    _check(_libc().capset(ctypes.c_char_p(header), ctypes.c_char_p(data)), "capset")


# --------------------------------------------------------------------------- mounts

def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    _check(_libc().mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
           f"mount on {target}")


def umount(target: str, flags: int = 0) -> None:
    _check(_libc().umount2(target.encode(), flags), f"umount {target}")


def set_mount_attributes(target: str, attributes: int, recursive: bool = True) -> None:
    """Add ``MOUNT_ATTR_*`` flags to a mount (and, recursively, those under it) without
    clearing any it already has: a user namespace may not clear locked flags."""
    attr = struct.pack("QQQQ", attributes, 0, 0, 0)
    _syscall("mount_setattr", _AT_FDCWD, ctypes.c_char_p(target.encode()),
             ctypes.c_uint(_AT_RECURSIVE if recursive else 0), ctypes.c_char_p(attr), ctypes.c_size_t(len(attr)))


def pivot_root(new_root: str, put_old: str) -> None:
    _syscall("pivot_root", ctypes.c_char_p(new_root.encode()), ctypes.c_char_p(put_old.encode()))


# --------------------------------------------------------------------------- Landlock

LANDLOCK_READ = 1 | 4 | 8  # EXECUTE, READ_FILE, READ_DIR
LANDLOCK_FILE_RIGHTS = 1 | 2 | 4 | (1 << 14) | (1 << 15)  # what a rule on a file (not a folder) may hold
_LANDLOCK_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
LANDLOCK_NET_TCP = 1 | 2  # BIND_TCP, CONNECT_TCP (ABI 4)
LANDLOCK_SCOPE_ALL = 1 | 2  # abstract unix sockets and signals outside the domain (ABI 6)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is absent or disabled."""
    try:
        return _syscall("landlock_create_ruleset", None, ctypes.c_size_t(0), ctypes.c_uint(1))
    except OSError:
        return 0


def landlock_fs_rights(abi: int) -> int:
    return _LANDLOCK_FS_BY_ABI[max(v for v in _LANDLOCK_FS_BY_ABI if v <= abi)]


class LandlockRuleset:
    """Everything the ruleset handles is denied except what a rule allows."""

    def __init__(self, abi: int):
        self.abi = abi
        self.handled = landlock_fs_rights(abi)
        fields = [self.handled]
        if abi >= 4:
            fields.append(LANDLOCK_NET_TCP)
        if abi >= 6:
            fields.append(LANDLOCK_SCOPE_ALL)
        attr = struct.pack(f"{len(fields)}Q", *fields)
        self.fd = _syscall("landlock_create_ruleset", ctypes.c_char_p(attr), ctypes.c_size_t(len(attr)),
                           ctypes.c_uint(0))

    def allow(self, path: str, rights: int) -> None:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            if not os.path.isdir(path):
                rights &= LANDLOCK_FILE_RIGHTS
            rule = struct.pack("=Qi", rights & self.handled, fd)
            _syscall("landlock_add_rule", self.fd, ctypes.c_int(1), ctypes.c_char_p(rule), ctypes.c_uint(0))
        finally:
            os.close(fd)

    def enforce(self) -> None:
        """Binding on this process and every child from now on; needs no_new_privs."""
        try:
            _syscall("landlock_restrict_self", self.fd, ctypes.c_uint(0))
        finally:
            os.close(self.fd)


# --------------------------------------------------------------------------- seccomp

# Classic BPF over struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6]}.
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_RET_ALLOW, _RET_ERRNO, _RET_KILL = 0x7FFF0000, 0x00050000, 0x80000000
_X32_BIT = 0x40000000


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


def seccomp_filter(denied: dict[str, int], socket_families: tuple[int, ...] | None = None,
                   denied_clone_flags: int = 0) -> bytes:
    """A filter program: the calls in ``denied`` fail with their errno; ``socket()`` fails
    with EAFNOSUPPORT for every family not in ``socket_families`` (None: all allowed);
    ``clone()`` fails with EPERM when it asks for any of ``denied_clone_flags``. System
    calls of another ABI (32-bit, x32) kill the process: they could reach the same
    kernel services under other numbers."""
    arch = _ARCH[platform.machine()]["audit"]
    body: list[tuple[str, int, int]] = []  # (kind, syscall number, argument)
    for name, errno in sorted(denied.items()):
        body.append(("deny", syscall_number(name), errno))
    if socket_families is not None:
        body.append(("socket", syscall_number("socket"), 0))
    if denied_clone_flags:
        body.append(("clone", syscall_number("clone"), denied_clone_flags))

    program = [_op(_LD_ABS, 4), _op(_JEQ, arch, 1, 0), _op(_RET, _RET_KILL), _op(_LD_ABS, 0)]
    if platform.machine() == "x86_64":
        program += [_op(_JGE, _X32_BIT, 0, 1), _op(_RET, _RET_KILL)]
    for kind, number, argument in body:
        if kind == "deny":
            program += [_op(_JEQ, number, 0, 1), _op(_RET, _RET_ERRNO | argument)]
        elif kind == "socket":
            checks = [_op(_LD_ABS, 16)]  # args[0], low half: the address family
            for family in socket_families:
                checks.append(_op(_JEQ, family, 0, 1))
                checks.append(_op(_RET, _RET_ALLOW))
            checks += [_op(_RET, _RET_ERRNO | 97)]  # EAFNOSUPPORT
            program += [_op(_JEQ, number, 0, len(checks))] + checks
        else:
            checks = [_op(_LD_ABS, 16), _op(_JSET, argument, 0, 1), _op(_RET, _RET_ERRNO | 1), _op(_LD_ABS, 0)]
            program += [_op(_JEQ, number, 0, len(checks))] + checks
    program.append(_op(_RET, _RET_ALLOW))
    return b"".join(program)


def install_seccomp(program: bytes) -> None:
    """Load a filter for every thread of this process (needs no_new_privs or CAP_SYS_ADMIN)."""
    buffer = ctypes.create_string_buffer(program)
    fprog = struct.pack("HxxxxxxQ", len(program) // 8, ctypes.addressof(buffer))
    _syscall("seccomp", ctypes.c_uint(1), ctypes.c_uint(1), ctypes.c_char_p(fprog))  # SET_MODE_FILTER, TSYNC
