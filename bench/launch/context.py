"""How this process was launched, for its run's record (:attr:`bench.record.Record.launch`)."""

from __future__ import annotations

import os
import platform
from typing import Any


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
