"""Which GPU a grading process uses, so that several pool processes spread over several
GPUs instead of all crowding the first, and a worker always uses its grader's GPU.

The choice is made with ``CUDA_VISIBLE_DEVICES`` before CUDA starts in the process: the
trusted side, its zygote and every worker (which keeps the variable) then see one GPU,
the same one, as ``cuda:0``. GPUs are named by UUID where ``nvidia-smi`` tells them, so
a renumbering (``CUDA_DEVICE_ORDER``) cannot move a worker to another GPU or MIG slice.
"""
from __future__ import annotations

import os
import shutil
import subprocess

VARIABLE = "CUDA_VISIBLE_DEVICES"


def listed() -> list[str]:
    """The GPUs this process may use, found without starting CUDA: ``CUDA_VISIBLE_DEVICES``
    where set, else what ``nvidia-smi`` lists; [] where there are none."""
    value = os.environ.get(VARIABLE)
    if value is not None:
        return [part.strip() for part in value.split(",") if part.strip() and not part.strip().startswith("-")]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        run = subprocess.run(["nvidia-smi", "--query-gpu=uuid", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in run.stdout.splitlines() if line.strip()] if run.returncode == 0 else []


def driver_present() -> bool:
    """Whether a GPU could be usable here at all: a GPU listed (``listed``), or an NVIDIA
    or AMD (ROCm) kernel driver loaded. False means torch.cuda.is_available() is False,
    so the coordinator of a batch need not import torch (a second) to find that out."""
    if os.environ.get(VARIABLE) is not None:
        return bool(listed())
    return any(os.path.exists(path) for path in _DRIVER_PATHS) or bool(listed())


_DRIVER_PATHS = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/kfd")


def pin(slot: int) -> str | None:
    """Give this process (and the zygote and workers it will start) one GPU, round robin
    by ``slot``. Call it before anything here starts CUDA. Returns the GPU chosen, or None
    where there is nothing to choose from."""
    chosen = choose(slot)
    if chosen is not None:
        os.environ[VARIABLE] = chosen
    return chosen


def choose(slot: int) -> str | None:
    """The GPU ``pin(slot)`` gives, without giving it (for a zygote forked elsewhere)."""
    gpus = listed()
    return gpus[slot % len(gpus)] if gpus else None
