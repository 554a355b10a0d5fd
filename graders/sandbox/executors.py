"""Where bulk grading's tasks run: a local process pool (the default), Dask or Ray.

One small interface, so ``graders.grading.bulk`` stays a straight loop::

    with executors.start("dask", workers=8, scheduler="tcp://host:8786") as pool:
        futures = [pool.submit(fn, *args) for ...]
        for future in pool.as_completed(futures):
            future.result()

``submit`` returns a future with ``result()`` (it re-raises the task's exception);
``as_completed`` yields the given futures as they finish; ``shutdown`` stops what the
executor started (a local pool, a local Dask cluster, a local Ray instance) and leaves an
existing cluster running. A task is a module-level function that any worker process can
import (``graders`` installed there); it must prepare its own per-process state.

``ships_files`` says whether the workers may be on other machines, so that a task must
carry its input rather than a path on this one.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as _futures_as_completed
from multiprocessing import get_context

KINDS = ("local", "dask", "ray")


def usable_cores() -> int:
    """How many cores this process may run on (its CPU affinity, where the OS tells it)."""
    from graders.sandbox import host

    return len(host.usable_cpus()) or os.cpu_count() or 1


class Executor:
    name = "base"
    ships_files = False
    workers: int | None = None  # the number of worker processes, where known

    def submit(self, fn, *args):
        raise NotImplementedError

    def as_completed(self, futures):
        raise NotImplementedError

    def shutdown(self, cancel: bool = False) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name}, {self.workers} workers" if self.workers else self.name

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        self.shutdown(cancel=kind is not None)


def _start_pool_process(counter, zygotes=(), with_torch: bool = True, cpus=()) -> None:
    """Each pool process dies with grade-all, even a kill -9 of it (its zygote and workers
    follow: the zygote ends when its grading process's socket closes), takes the next
    GPU in turn, before anything in it starts CUDA, the next of ``cpus`` (see
    ``LocalExecutor``), and the zygote forked for that slot by the batch's shared
    interpreter, where there is one."""
    from graders.sandbox import gpus, isolation, host

    isolation.die_with_parent()
    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    gpus.pin(slot)
    if cpus:
        try:
            os.sched_setaffinity(0, {cpus[slot % len(cpus)]})
        except OSError:
            pass  # not allowed here: the scheduler places it
    for index, control in enumerate(zygotes):
        if index == slot:
            host.adopt(control, with_torch)
        else:
            control.close()


class LocalExecutor(Executor):
    """A process pool on this machine. Pool processes are spawned (they start clean, with
    no inherited threads or CUDA state). ``zygotes`` (a ``host.SharedZygotes``): the
    batch's warm interpreter, which forks each pool process its zygote; without it each
    pool process starts its own on its first task."""

    name = "local"

    def __init__(self, workers: int, zygotes=None):
        from graders.sandbox import gpus, host

        self.workers = workers
        context = get_context("spawn")
        # One zygote per slot, asked for now: they are forked as soon as the shared
        # interpreter is warm, while the pool processes start and import their own.
        self._channels = [zygotes.connect({gpus.VARIABLE: gpus.choose(slot)} if gpus.choose(slot) else {})
                          for slot in range(workers)] if zygotes is not None else []
        # A pool as large as the machine: each grading process keeps to a CPU of its own, and
        # its zygote and workers follow it (host.Worker sends them its CPUs). A call to the
        # worker and its reply then wake a process on the same CPU: a wake-up across CPUs
        # costs more than most of the hidden tests' calls (a fifth of the grading time here).
        # A smaller pool leaves the scheduler free to place it among other work.
        cores = host.usable_cpus()
        cpus = cores if 1 < len(cores) <= workers else []
        initargs = (context.Value("i", 0), self._channels, zygotes.with_torch if zygotes else True, cpus)
        self._pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_pool_process,
                                         initargs=initargs)

    def submit(self, fn, *args):
        return self._pool.submit(fn, *args)

    def as_completed(self, futures):
        return _futures_as_completed(futures)

    def shutdown(self, cancel: bool = False) -> None:
        try:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
        finally:
            for control in self._channels:  # the pool processes' copies went with them
                control.close()


class DaskExecutor(Executor):
    """A Dask cluster: the one at ``scheduler`` (``tcp://host:8786``), else a local cluster
    of ``workers`` single-threaded worker processes started here and closed afterwards."""

    name = "dask"
    ships_files = True

    def __init__(self, workers: int, scheduler: str | None = None):
        from distributed import Client, LocalCluster

        self._cluster = None
        if scheduler:
            self._client = Client(scheduler, timeout=30)
            self.workers = len(self._client.nthreads()) or None
        else:
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=logging.ERROR)
            self._client = Client(self._cluster)
            self.workers = workers

    def submit(self, fn, *args):
        return self._client.submit(fn, *args, pure=False)

    def as_completed(self, futures):
        from distributed import as_completed

        return as_completed(list(futures))

    def shutdown(self, cancel: bool = False) -> None:
        try:
            self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


def ray_gpu_share(resources: dict, workers: int | None) -> float:
    """The GPU fraction a Ray task asks for: all of the cluster's GPUs shared among as
    many tasks as run at once (at most one GPU each), 0 where the cluster has none."""
    gpus = float(resources.get("GPU", 0))
    if gpus <= 0:
        return 0.0
    return min(1.0, gpus / max(1, workers or int(resources.get("CPU", 1)) or 1))


class _RayFuture:
    def __init__(self, ref):
        self.ref = ref

    def result(self):
        import ray

        return ray.get(self.ref)


class RayExecutor(Executor):
    """A Ray cluster: the one at ``scheduler`` (an address for ``ray.init``, e.g. ``auto``
    or ``ray://host:10001``), else a local Ray instance with ``workers`` CPUs started here
    and shut down afterwards. A Ray session this process already opened is used as is."""

    name = "ray"
    ships_files = True

    def __init__(self, workers: int, scheduler: str | None = None, gpu: bool = False):
        import ray

        self._owned = not ray.is_initialized()
        if self._owned and scheduler:
            ray.init(address=scheduler, log_to_driver=False, logging_level=logging.WARNING)
        elif self._owned:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING, object_store_memory=128 << 20)
        self.workers = workers if self._owned and not scheduler else int(ray.cluster_resources().get("CPU", 0)) or None
        # Without a GPU request Ray hides every GPU from a task (CUDA_VISIBLE_DEVICES=""), and
        # every CUDA test would be "not run". A share, so several tasks fit on one GPU.
        self.gpu_share = ray_gpu_share(ray.cluster_resources(), self.workers) if gpu else 0.0
        self._remote = {}
        self._pending: list = []

    def submit(self, fn, *args):
        import ray

        if fn not in self._remote:
            # No retries: a task that failed is reported as a grader error and regraded
            # by the next run, not silently repeated.
            self._remote[fn] = ray.remote(num_cpus=1, num_gpus=self.gpu_share, max_retries=0)(fn)
        future = _RayFuture(self._remote[fn].remote(*args))
        self._pending.append(future)
        return future

    def as_completed(self, futures):
        import ray

        by_ref = {future.ref: future for future in futures}
        waiting = list(by_ref)
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            for ref in ready:
                yield by_ref[ref]

    def shutdown(self, cancel: bool = False) -> None:
        import ray

        if cancel:
            for future in self._pending:
                try:
                    ray.cancel(future.ref, force=True)
                except Exception:  # noqa: BLE001 - already finished or gone
                    pass
        if self._owned:
            ray.shutdown()


def start(kind: str, workers: int | None = None, scheduler: str | None = None, gpu: bool = False,
          zygotes=None) -> Executor:
    """An executor of ``kind`` ("local", "dask" or "ray"); ``workers`` defaults to the
    usable cores. ``scheduler`` is the address of an existing Dask or Ray cluster. ``gpu``:
    the tasks grade CUDA tests (Ray then gives each task a share of a GPU). ``zygotes``:
    a ``host.SharedZygotes`` the local pool's processes take their zygotes from."""
    workers = max(1, workers or usable_cores())
    if kind == "local":
        if scheduler:
            raise ValueError("--scheduler needs --executor dask or ray")
        return LocalExecutor(workers, zygotes)
    if kind in ("dask", "ray"):
        try:
            if kind == "ray":
                return RayExecutor(workers, scheduler, gpu)
            return DaskExecutor(workers, scheduler)
        except ImportError as error:
            extra = "dask[distributed]" if kind == "dask" else "ray"
            raise ExecutorUnavailable(f"--executor {kind} needs {extra} installed ({error}); "
                                      f"pip install '{extra}'") from None
        except (OSError, ConnectionError, TimeoutError) as error:
            if not scheduler:
                raise
            raise ExecutorUnavailable(f"cannot reach the {kind} cluster at {scheduler}: "
                                      f"{type(error).__name__}: {error}") from None
    raise ValueError(f"unknown executor {kind!r}; choose from {', '.join(KINDS)}")


class ExecutorUnavailable(RuntimeError):
    """The engine an executor needs is not installed, or its cluster cannot be reached."""
