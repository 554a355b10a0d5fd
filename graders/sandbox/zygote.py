"""The warm process workers are forked from.

Started once per grading process with a clean environment, it imports numpy and torch
(the slow part of starting a worker) and nothing of the grader's state, then forks one
worker per request. A request arrives on the control socket with two file descriptors
attached: the worker's end of its own socket pair and the write end of its output pipe.
CUDA is never initialised here, so a forked worker may still initialise it.

Started by ``graders.sandbox.host.Zygote`` as ``python -s -P -c ... CONTROL_FD``.
"""
from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
import traceback

from graders.sandbox import isolation


def warm_up(with_torch: bool = True) -> None:
    """Import what every worker needs once. ``with_torch=False`` (a NumPy assignment):
    torch is never imported, here or in the workers (a second of start-up saved)."""
    import numpy  # noqa: F401
    import numpy.random  # noqa: F401 - numpy 2 loads it lazily; every hidden test's generator needs it

    try:
        if not with_torch:
            raise ImportError("a NumPy assignment")
        import torch

        # One intra-op thread per worker: graders run many workers side by side, and a
        # forked child must not inherit a half-started thread pool.
        torch.set_num_threads(1)
        # torch._dynamo is not imported (a second of start-up): neither the guard nor the
        # courses' code reaches it. A submission calling something torch wraps in
        # _disable_dynamo (an optimizer's step) imports it during that call, once per
        # worker, within its call_seconds (tests/test_sandbox.py).
        from graders.grading.compare import exact_float32

        exact_float32()  # workers inherit it: a student's float32 matmul stays float32
        from graders.integrity import enforce

        # The forbidden-API kernels at torch's dispatcher, registered once here and
        # inherited by every worker; each worker takes the only handle on them.
        enforce.install()
    except ImportError:
        pass
    import graders.sandbox.worker  # noqa: F401


def warm_up_more(with_torch: bool = True) -> None:
    """What many workers would otherwise import in a student's call, too slow for the
    first worker to wait for: autograd.grad and backward with a given gradient import
    torch's symbolic shapes (and sympy), half a second, in every a5 worker."""
    if with_torch:
        import torch.fx.experimental.symbolic_shapes  # noqa: F401


def huge_pages() -> None:
    """Move the warm heap's anonymous memory into transparent huge pages (Linux 6.1's
    MADV_COLLAPSE), so that forking a worker copies a few hundred page-table entries
    instead of tens of thousands and its exit tears down as few: fork and reap of a torch
    zygote drop from ~23 ms to ~4 ms here. Costs a fifth of a second, once; where the
    kernel cannot, nothing changes."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        with open("/proc/self/maps") as maps:
            regions = [line.split() for line in maps]
    except (OSError, AttributeError):
        return
    huge = 2 << 20
    for fields in regions:
        if fields[1] != "rw-p" or (len(fields) > 5 and fields[5] != "[heap]"):
            continue  # only private anonymous memory: malloc's heap and Python's arenas
        low, high = (int(x, 16) for x in fields[0].split("-"))
        start, end = -(-low // huge) * huge, high // huge * huge
        if end > start:
            madvise(start, end - start, _MADV_COLLAPSE)  # fails alone (EINVAL, EAGAIN): fine


_MADV_COLLAPSE = 25


def freeze_heap() -> None:
    """Keep the warm heap out of every worker's garbage collections: a worker's first full
    collection would otherwise walk (and copy, page by page) all of torch's objects
    (a quarter of a second, in the middle of some student's call)."""
    from graders.integrity import tamper

    tamper.warm_up()  # notes the modules imported by now: the heap is final
    gc.collect()
    gc.freeze()
    gc.enable()


def _reap_children(exits: dict[int, int] | None = None) -> None:
    """Reap every child as it ends (orphans adopted included), keeping the last 4096 wait
    statuses in ``exits`` when given; leave Ctrl-C to the grader."""
    def reap(signum, frame):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if exits is not None:
                exits[pid] = status
                if len(exits) > 4096:
                    exits.pop(next(iter(exits)))

    signal.signal(signal.SIGCHLD, reap)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def serve(control: socket.socket, when_idle=()) -> None:
    """Answer the grading process until it hangs up. ``when_idle``: one task to run after
    each of the first workers is started, in order (the zygote has nothing else to do
    while a worker runs)."""
    when_idle = list(when_idle)
    exits: dict[int, int] = {}  # each worker's wait status, so the grader can say why it died
    namespaces: dict[int, isolation.Namespaces] = {}
    outside = False  # a worker was started outside namespaces since the last sweep
    _reap_children(exits)
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
            killed = len(namespaces)
            for held in namespaces.values():
                held.end()  # the kernel kills everything inside, the worker included
            # Only a worker started outside namespaces leaves processes the kernel does not
            # kill for us: sweep for them then (a walk of /proc, milliseconds), not after
            # every namespaced worker.
            if outside or not namespaces:
                killed += isolation.kill_descendants()
            namespaces.clear()
            outside = False
            control.sendall(json.dumps({"killed": killed}).encode())
            continue
        for fd in fds:
            os.set_inheritable(fd, False)  # never into a namespace's init
        _follow_cpus(request.get("cpus"))
        outside = outside or request["isolation"]["level"] != isolation.NAMESPACE
        try:
            pid = _spawn(control, fds, request, namespaces)
            reply = {"pid": pid}
        except OSError as error:
            reply = {"error": str(error)}
        for fd in fds:
            os.close(fd)
        control.sendall(json.dumps(reply).encode())
        if when_idle:
            when_idle.pop(0)()


def _follow_cpus(cpus) -> None:
    """Run on the CPUs the grading process runs on, and so will the worker forked next:
    a pool process pinned to one CPU then answers its worker's replies without waking
    another CPU (a cross-CPU wake-up costs more than a small call itself)."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return
    try:
        os.sched_setaffinity(0, [int(cpu) for cpu in cpus])
    except (OSError, ValueError, TypeError):
        pass  # not allowed here: the worker runs where the zygote may


def _spawn(control: socket.socket, fds: list[int], request: dict, namespaces: dict) -> int:
    from graders.sandbox import worker

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


def serve_zygotes(control: socket.socket) -> None:
    """The batch's one warm interpreter: fork a zygote for each grading process that
    asks (through the coordinator, with the zygote's end of that process's socket
    attached), so that torch is imported once per batch rather than once per process.
    Each forked zygote then serves its grading process alone, as if started for it."""
    _reap_children()
    while True:
        try:
            payload, fds, _, _ = socket.recv_fds(control, 1 << 16, 1)
        except OSError:
            return
        if not payload:
            return
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            continue
        request = json.loads(payload)
        pid = os.fork()
        if pid == 0:
            control.close()
            _become_zygote(socket.socket(fileno=fds[0]), request.get("environment") or {})
        os.close(fds[0])


def _become_zygote(control: socket.socket, environment: dict) -> None:
    """In a child of ``serve_zygotes``: serve one grading process, as ``main`` does."""
    isolation.adopt_orphans()  # not inherited through fork
    for name in isolation.GPU_VARIABLES:  # the GPU its grading process was given
        if name in environment:
            os.environ[name] = str(environment[name])
    _serve_until_hung_up(control)


def _serve_until_hung_up(control: socket.socket, when_idle=()) -> None:
    control.sendall(json.dumps({"ready": True, "pid": os.getpid()}).encode())
    status = 0
    try:
        serve(control, when_idle)  # returns when the grader hangs up or dies (even by kill -9)
    except BaseException:  # noqa: BLE001 - said on stderr, then the same end as any other
        traceback.print_exc()
        status = 1
    finally:
        isolation.kill_descendants()  # workers and the daemons they left: nothing outlives the grader
    # Nothing to flush or finalize here, and tearing torch down takes a fifth of a second
    # the grader would wait for.
    sys.stderr.flush()
    os._exit(status)


def main() -> None:
    """``python -c ... CONTROL_FD torch|numpy [shared]``: a zygote, or with ``shared`` the
    batch's interpreter that forks one per grading process (``serve_zygotes``)."""
    isolation.adopt_orphans()
    control = socket.socket(fileno=int(sys.argv[1]))
    with_torch = sys.argv[2:3] != ["numpy"]
    gc.disable()  # while importing: no collections of objects that all live on, no holes
    warm_up(with_torch)
    if sys.argv[3:4] != ["shared"]:
        freeze_heap()
        # Ready for its first worker now; the rest is imported while that worker runs.
        # Huge pages only once a second worker is started: a single submission's grading
        # (a student's run, a Gradescope container) would wait for them and never gain.
        _serve_until_hung_up(control, [lambda: (gc.disable(), warm_up_more(with_torch), freeze_heap()), huge_pages])
    # The zygotes it forks inherit everything: no worker of the batch imports it again.
    warm_up_more(with_torch)
    freeze_heap()
    huge_pages()  # before the zygotes are forked: they share its huge pages
    try:
        serve_zygotes(control)
    finally:
        isolation.kill_descendants()  # every zygote it forked, and everything under them
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
