"""The warm process workers are forked from.

Started once per grading process with a clean environment, it imports numpy and torch
(the slow part of starting a worker) and nothing of the grader's state, then forks one
worker per request. A request arrives on the control socket with two file descriptors
attached: the worker's end of its own socket pair and the write end of its output pipe.
CUDA is never initialised here, so a forked worker may still initialise it.

Started by ``graders.sandbox.Zygote`` as ``python -s -P -c ... CONTROL_FD``.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys

from graders import isolation


def warm_up(with_torch: bool = True) -> None:
    """Import what every worker needs once. ``with_torch=False`` (a NumPy assignment):
    torch is never imported, here or in the workers (a second of start-up saved)."""
    import numpy  # noqa: F401

    try:
        if not with_torch:
            raise ImportError("a NumPy assignment")
        import torch

        # One intra-op thread per worker: graders run many workers side by side, and a
        # forked child must not inherit a half-started thread pool.
        torch.set_num_threads(1)
        # Functions torch wraps in _disable_dynamo import torch._dynamo on first call
        # (1.5-3 s): once here, not inside a student's first timed call under the guard.
        import torch._dynamo  # noqa: F401
        from graders.compare import exact_float32

        exact_float32()  # workers inherit it: a student's float32 matmul stays float32
        from graders import guard

        # The forbidden-API kernels at torch's dispatcher (half a second), registered once
        # here and inherited by every worker; each worker takes the only handle on them.
        guard.install()
    except ImportError:
        pass
    import graders.worker  # noqa: F401


def serve(control: socket.socket) -> None:
    exits: dict[int, int] = {}

    def reap(signum, frame):
        # Keep each worker's wait status so the grader can say why it died.
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            exits[pid] = status
            if len(exits) > 4096:
                exits.pop(next(iter(exits)))

    namespaces: dict[int, isolation.Namespaces] = {}
    signal.signal(signal.SIGCHLD, reap)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to handle
    while True:
        try:
            payload, fds, _, _ = socket.recv_fds(control, 1 << 16, 2)
        except OSError:
            return
        if not payload:
            return
        request = json.loads(payload)
        if request["op"] == "status":
            control.sendall(json.dumps({"status": exits.get(request["pid"])}).encode())
            continue
        if request["op"] == "kill_leftovers":
            for held in namespaces.values():
                held.end()  # the kernel kills everything inside
            # Outside namespaces (and for the worker itself), a stop-and-kill sweep of every
            # descendant; inside them it need not wait for processes already dying.
            killed = isolation.kill_descendants(converge=not namespaces)
            namespaces.clear()
            control.sendall(json.dumps({"killed": killed}).encode())
            continue
        for fd in fds:
            os.set_inheritable(fd, False)  # never into a namespace's init
        try:
            pid = _spawn(control, fds, request, namespaces)
            reply = {"pid": pid}
        except OSError as error:
            reply = {"error": str(error)}
        for fd in fds:
            os.close(fd)
        control.sendall(json.dumps(reply).encode())


def _spawn(control: socket.socket, fds: list[int], request: dict, namespaces: dict) -> int:
    from graders import worker

    def run() -> None:
        worker.run(fds[0], fds[1], request)

    if request["isolation"]["level"] == isolation.NAMESPACE:
        pid, held = isolation.spawn_in_namespaces(request["isolation"], run, close_in_child=[control.fileno()])
        namespaces[pid] = held
        return pid
    pid = os.fork()
    if pid == 0:
        control.close()
        run()
    return pid


def main() -> None:
    isolation.adopt_orphans()
    control = socket.socket(fileno=int(sys.argv[1]))
    warm_up(with_torch=sys.argv[2:3] != ["numpy"])
    control.sendall(b'{"ready": true}')
    try:
        serve(control)  # returns when the grader hangs up or dies (even by kill -9)
    finally:
        isolation.kill_descendants()  # workers and the daemons they left: nothing outlives the grader


if __name__ == "__main__":
    main()
