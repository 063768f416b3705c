"""The GPUs of ``--gpus``: their ids and how much memory each has free for runs.

Ids are those ``nvidia-smi`` prints (PCI bus order); a worker on device ``i`` runs with
``CUDA_VISIBLE_DEVICES=i`` and ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, so it sees that one device as
``cuda:0``. The memory of each device is read with ``nvidia-smi`` (free memory, so other users'
processes are left room), else with torch. ``BENCH_FAKE_GPUS`` replaces the devices with a fake
list, for tests and dry planning on a machine without GPUs: ``"0=16GiB,1=80GiB"`` (sizes in
GiB, MiB or bytes).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence

from bench.errors import BenchError

FAKE_ENV = "BENCH_FAKE_GPUS"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(gib|gb|mib|mb|b)?\s*$", re.IGNORECASE)
_UNITS = {"gib": 2**30, "gb": 2**30, "mib": 2**20, "mb": 2**20, "b": 1, None: 1}


def parse_gpus(text: str) -> list[int]:
    """``"0,1,3"`` → ``[0, 1, 3]``; anything else exits 2."""
    try:
        ids = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        ids = []
    if not ids or any(i < 0 for i in ids):
        raise BenchError(f"Bad --gpus '{text}'.", "Give device ids as nvidia-smi numbers them, "
                                                  "e.g. --gpus 0,1,2,3.")
    if len(set(ids)) != len(ids):
        raise BenchError(f"--gpus '{text}' names a device twice.")
    return ids


def parse_size(text: str) -> int:
    m = _SIZE.match(text)
    if m is None:
        raise BenchError(f"Bad memory size '{text}' in {FAKE_ENV}.", "Write e.g. 16GiB or 512MiB.")
    unit = m.group(2).lower() if m.group(2) else None
    return int(float(m.group(1)) * _UNITS[unit])


def fake_devices(text: str) -> dict[int, int]:
    """The devices of ``BENCH_FAKE_GPUS`` (``"0=16GiB,1=16GiB"``)."""
    out = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, size = item.partition("=")
        if not sep or not key.strip().isdigit():
            raise BenchError(f"Bad {FAKE_ENV} entry '{item}'.", "Write e.g. 0=16GiB,1=16GiB.")
        out[int(key)] = parse_size(size)
    return out


def visible_devices() -> dict[int, int]:
    """Every GPU of this machine with its free memory in bytes (none: empty)."""
    fake = os.environ.get(FAKE_ENV)
    if fake:
        return fake_devices(fake)
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            text = subprocess.run([smi, "--query-gpu=index,memory.free",
                                   "--format=csv,noheader,nounits"], capture_output=True,
                                  text=True, timeout=30, check=True).stdout
            return {int(i): int(float(free)) * 2**20 for i, free in
                    (line.split(",") for line in text.strip().splitlines() if "," in line)}
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    import torch

    if not torch.cuda.is_available():
        return {}
    return {i: int(torch.cuda.get_device_properties(i).total_memory)
            for i in range(torch.cuda.device_count())}


def device_memory(ids: Sequence[int]) -> dict[int, int]:
    """The free memory of each device of ``--gpus``; exit 2 for a device that is not there."""
    found = visible_devices()
    if not found:
        raise BenchError("--gpus needs GPUs, and this machine shows none (nvidia-smi and torch "
                         "find no CUDA device).",
                         f"Leave --gpus out to run on the CPU, or set {FAKE_ENV} to plan with a "
                         "fake device list.")
    missing = [i for i in ids if i not in found]
    if missing:
        raise BenchError(f"--gpus names device {', '.join(map(str, missing))}, which this machine "
                         f"does not have.", f"Its devices: {', '.join(map(str, sorted(found)))}.")
    return {i: found[i] for i in ids}
