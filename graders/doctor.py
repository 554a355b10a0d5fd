"""``nngrade doctor``: what this machine gives the grader, in plain words, checked by
doing it: the isolation levels (probed), a sandboxed worker started and called, and where
a GPU exists, a sandboxed CUDA worker started on the grader's GPU with a tensor sent there
and back. Exit code 0 when grading can go ahead, 1 when it would fail or mislead."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE_MODULE = '''
def round_trip(x):
    return x * 2 + 1

def where():
    import os, torch
    if not torch.cuda.is_available():
        return "no cuda", "", os.getuid()
    properties = torch.cuda.get_device_properties(0)
    return properties.name, str(getattr(properties, "uuid", "")), os.getuid()
'''


def run(stream=None) -> int:
    stream = stream or sys.stdout
    say = lambda text="": stream.write(text + "\n")  # noqa: E731
    problems: list[str] = []
    say(f"nngrade doctor: Python {sys.version.split()[0]} at {sys.executable}, running as "
        f"{pwd.getpwuid(os.getuid()).pw_name} (uid {os.getuid()})")
    chosen = _isolation(say, problems)
    _cpu_worker(say, problems, chosen)
    _gpu(say, problems, chosen)
    say()
    if problems:
        say("Problems:")
        for problem in problems:
            say(f"  - {problem}")
        return 1
    say("Ready to grade.")
    return 0


def _isolation(say, problems: list[str]) -> str | None:
    from graders.sandbox import isolation, syscalls

    say("\nIsolation (what a submission's worker is shut in by):")
    for candidate in (isolation.NAMESPACE, isolation.LANDLOCK):
        reason = isolation.unavailable_because(candidate)
        say(f"  {candidate:<10} {'available' if not reason else 'not available: ' + reason}")
    say(f"  Landlock ABI {syscalls.landlock_abi() or 'absent'}; requested: {isolation.requested()}")
    try:
        chosen = isolation.level()
    except isolation.IsolationUnavailable as error:
        problems.append(str(error).splitlines()[0] + " (grading refuses to start; see README, Security)")
        return None
    say(f"  grading runs at: {chosen}" + ("  (NO SANDBOX: --isolation none)" if chosen == isolation.NONE else ""))
    return chosen


def _round_trip(value, gpu: bool):
    """Start a sandboxed worker on a probe module, ask where it runs and send ``value``
    there and back. Returns (seconds to start, (device name, uuid, uid), answer)."""
    from graders.sandbox.host import Limits, RemoteImpl, Worker

    with tempfile.TemporaryDirectory(prefix="nngrade-doctor-") as scratch:
        (Path(scratch) / "probe.py").write_text(PROBE_MODULE)
        started = time.monotonic()
        with Worker(Path(scratch), "probe", Limits(call_seconds=30), gpu=gpu) as worker:
            ready = time.monotonic() - started
            impl = RemoteImpl(worker)
            return ready, impl.where() if gpu else None, impl.round_trip(value)


def _cpu_worker(say, problems: list[str], chosen: str | None) -> None:
    if chosen is None:
        return
    import numpy as np

    try:
        ready, _, answer = _round_trip(np.arange(3.0), gpu=False)
        if list(answer) != [1.0, 3.0, 5.0]:
            problems.append(f"a sandboxed worker's round trip came back wrong: {answer}")
        say(f"  a sandboxed worker started in {ready:.2f} s (the zygote's start included) and answered")
    except Exception as error:  # noqa: BLE001 - the doctor reports, it does not crash
        problems.append(f"a sandboxed worker could not be started or called: {type(error).__name__}: {error}")


def _gpu(say, problems: list[str], chosen: str | None) -> None:
    from graders.sandbox import gpus, isolation

    say("\nGPU:")
    listed = gpus.listed()
    try:
        import torch
    except ImportError:
        say("  torch is not installed: NumPy-only assignments only")
        return
    say(f"  torch {torch.__version__}, built for CUDA {torch.version.cuda or '(none: a CPU build)'}")
    if not torch.cuda.is_available():
        why = "this torch is a CPU build" if not torch.version.cuda else (
            "nvidia-smi lists none" if shutil.which("nvidia-smi") else "no NVIDIA driver (nvidia-smi not found)")
        say(f"  no GPU here ({why}): CUDA tests are reported as \"not run (no GPU)\", never as passed or failed")
        return
    say(f"  CUDA_VISIBLE_DEVICES={os.environ.get(gpus.VARIABLE, '(unset)')}; GPUs listed: {', '.join(listed) or '?'}")
    for line in _nvidia_smi("name,uuid,memory.total,compute_mode"):
        say(f"  {line}")
        if "Exclusive_Process" in line:
            problems.append("a GPU is in EXCLUSIVE_PROCESS compute mode: the grader's own context (it runs the "
                            "reference) blocks the worker's; set it to Default (nvidia-smi -c DEFAULT)")
    if os.environ.get("CUDA_MPS_PIPE_DIRECTORY") or Path("/tmp/nvidia-mps").exists():
        say("  an MPS daemon seems to run: workers run under their own uid and may queue behind its server")
    for path in isolation.gpu_devices():
        info = os.stat(path)
        say(f"  {path}: mode {oct(info.st_mode & 0o777)}, group {info.st_gid}")
    if chosen is None:
        return
    grader = torch.cuda.get_device_properties(0)
    try:
        ready, (name, uuid, uid), answer = _round_trip(torch.arange(3.0, device="cuda"), gpu=True)
    except Exception as error:  # noqa: BLE001 - the doctor reports, it does not crash
        problems.append(f"a sandboxed CUDA worker failed: {type(error).__name__}: {error}")
        return
    if answer.device.type != "cuda" or answer.cpu().tolist() != [1.0, 3.0, 5.0]:
        problems.append(f"the CUDA round trip came back wrong: {answer}")
    say(f"  a sandboxed CUDA worker (uid {uid}) started in {ready:.2f} s, CUDA's own start included; "
        f"a tensor went to {name} {uuid} and back")
    if str(getattr(grader, "uuid", "")) != uuid:
        problems.append(f"the worker used GPU {uuid}, the grader {getattr(grader, 'uuid', '?')}: check "
                        "CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER")


def _nvidia_smi(fields: str) -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        run = subprocess.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return run.stdout.strip().splitlines() if run.returncode == 0 else []
