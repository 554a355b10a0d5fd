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


def pin(slot: int) -> str | None:
    """Give this process (and the zygote and workers it will start) one GPU, round robin
    by ``slot``. Call it before anything here starts CUDA. Returns the GPU chosen, or None
    where there is nothing to choose from."""
    gpus = listed()
    if not gpus:
        return None
    chosen = gpus[slot % len(gpus)]
    os.environ[VARIABLE] = chosen
    return chosen
