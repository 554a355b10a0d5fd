"""Run a command the way another grading environment would, for the isolation tests.

    python tests/run_as.py [--user NAME] [--no-namespaces] [--no-landlock] -- COMMAND ...

Needs root. It stands in for machines this one is not:

- ``--user NAME``: an instructor's normal account (a laptop, a GitHub runner): the
  command runs as that user, with no capabilities. The Python runtime and the checkout
  are made reachable for it even where they live under a private folder (pyenv under
  /root): each such folder is covered, in a mount namespace of the command's own, by an
  empty one holding just those paths. Nothing else about the user changes: its process
  limits and what the kernel lets it do are its own.
- ``--no-namespaces``: a container under Docker's default profile, which refuses
  unshare(), setns(), mount() and clone() with namespace flags (EPERM; clone3: ENOSYS)
  and gives root no CAP_SYS_ADMIN.
- ``--no-landlock``: a kernel without Landlock (its calls answer ENOSYS).
"""
from __future__ import annotations

import argparse
import ctypes
import errno
import os
import pwd
import stat
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders.sandbox import syscalls as sc  # noqa: E402

CAP_SYS_ADMIN = 21
PR_CAPBSET_DROP = 24


def expose(paths: list[str]) -> None:
    """Make ``paths`` reachable for any user: cover each closed ancestor with an empty,
    traversable tmpfs and bind the paths back into it."""
    covers: dict[str, list[tuple[str, int]]] = {}
    real = {os.path.realpath(p) for p in paths}
    outermost = [p for p in real if not any(p.startswith(q + os.sep) for q in real)]
    for path in sorted(outermost):
        parts = path.strip("/").split("/")
        ancestors = ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]
        closed = next((a for a in ancestors if not os.stat(a).st_mode & stat.S_IXOTH), None)
        if closed is not None:
            covers.setdefault(closed, []).append((path, os.open(path, os.O_PATH)))
    for closed, inside in sorted(covers.items()):
        sc.mount("nngrade-test-expose", closed, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "size=64k,mode=755")
        for path, fd in inside:
            os.makedirs(path, exist_ok=True)
            sc.mount(f"/proc/self/fd/{fd}", path, None, sc.MS_BIND | sc.MS_REC)
            os.close(fd)


def drop_sys_admin() -> None:
    sc.prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN)
    libc = ctypes.CDLL(None, use_errno=True)
    header = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0))
    data = ctypes.create_string_buffer(24)
    if libc.capget(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    words = list(struct.unpack("6I", data.raw))  # effective, permitted, inheritable (low then high)
    for index in range(3):
        words[index] &= ~(1 << CAP_SYS_ADMIN)
    if libc.capset(header, ctypes.c_char_p(struct.pack("6I", *words))) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--user")
    parser.add_argument("--no-namespaces", action="store_true")
    parser.add_argument("--no-landlock", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if os.geteuid() != 0:
        sys.exit("run_as.py needs root")

    sc.unshare(sc.CLONE_NEWNS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    expose([sys.prefix, sys.base_prefix, sys.exec_prefix, sys.executable, str(ROOT)])

    denied: dict[str, int] = {}
    clone_flags = 0
    if args.no_namespaces:
        denied.update({"unshare": errno.EPERM, "setns": errno.EPERM, "mount": errno.EPERM,
                       "clone3": errno.ENOSYS})
        clone_flags = (sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWUSER | sc.CLONE_NEWPID
                       | sc.CLONE_NEWNET)
        drop_sys_admin()
    if args.no_landlock:
        denied.update({name: errno.ENOSYS for name in
                       ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self")})
    if args.user:
        account = pwd.getpwnam(args.user)
        os.setgroups([])
        os.setresgid(account.pw_gid, account.pw_gid, account.pw_gid)
        os.setresuid(account.pw_uid, account.pw_uid, account.pw_uid)
    if denied or clone_flags:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
        sc.install_seccomp(sc.seccomp_filter(denied, denied_clone_flags=clone_flags))
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
