"""The environment a run executed in, and how its process was launched, stored with its record;
:func:`environ_set` runs a block with extra environment variables."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mmengine
import numpy as np
import torch

from bench import __version__

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def project_commit() -> dict[str, Any]:
    """Git commit of the harness checkout (``None`` outside a git checkout) and dirtiness."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, text=True,
                                capture_output=True, timeout=5, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                    cwd=PROJECT_ROOT, text=True, capture_output=True,
                                    timeout=5).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict[str, Any]:
    """What a record stores about where its run executed: versions, commit, device, threads,
    host, the CPU allocator setting (``malloc``, :mod:`bench.engine.allocator`), and the
    processes it ran over (``world_size``: 1, or ``bench run --nproc``; ``dist_backend``:
    ``gloo``/``nccl``, ``None`` in one process). The numbers of a run do not depend on its
    process count beyond float rounding (:mod:`bench.engine.distributed`), so it is
    provenance, not part of the run's identity."""
    from bench.engine.allocator import allocator_state
    from bench.engine.distributed import backend, world_size

    return {
        "harness": __version__,
        **project_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "mmengine": mmengine.__version__,
        "numpy": np.__version__,
        "device": device.type,
        "device_name": device_name(device),
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "malloc": allocator_state() if device.type == "cpu" else None,
        "platform": platform.platform(),
        "hostname": platform.node(),
        "world_size": world_size(),
        "dist_backend": backend(),
    }


def launch_info() -> dict[str, Any] | None:
    """How this process was launched, for the record: the submitit job and its log files, and
    the GPUs it sees (``CUDA_VISIBLE_DEVICES``); ``None`` for a plain local run."""
    info: dict[str, Any] = {}
    if os.environ.get("SUBMITIT_EXECUTOR") and os.environ.get("SUBMITIT_FOLDER"):
        import submitit

        env = submitit.JobEnvironment()
        paths = env.paths
        info.update(launcher="slurm" if env.cluster == "slurm" else "submitit-local",
                    job_id=env.job_id, host=platform.node(), stdout=str(paths.stdout),
                    stderr=str(paths.stderr))
    devices = os.environ.get("CUDA_VISIBLE_DEVICES")
    if devices is not None:
        info.setdefault("launcher", "local")
        info["cuda_visible_devices"] = devices
    return info or None


@contextmanager
def environ_set(values: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set while the block runs, restored (or unset) after it."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
