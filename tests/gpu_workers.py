"""A fake worker target for GPU packing tests: notes its device and time span, trains nothing."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from bench.launch.claim import SKIPPED, Outcome


def note_device(spec: Any, config: dict, directory: str, wait: bool, events: Any) -> Outcome:
    """Write what this worker saw into ``directory/worker.json``; hold the device a while."""
    start = time.monotonic()
    time.sleep(float(config["hold_s"]))
    Path(directory).mkdir(parents=True, exist_ok=True)
    (Path(directory) / "worker.json").write_text(json.dumps({
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "order": os.environ.get("CUDA_DEVICE_ORDER"), "start": start,
        "end": time.monotonic(), "pid": os.getpid()}))
    return Outcome(SKIPPED, None, "fake run")
