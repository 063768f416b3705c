"""Which run goes on which GPU: packing runs by their measured memory, never over a device's.

A run's memory need comes from the records of runs that differ from it only by seed
(:func:`bench.config.runspec.group_hash`) and that ran on a GPU: their peak CUDA memory
(:class:`bench.engine.memory.PeakMemory`), times :data:`HEADROOM`, plus :data:`CONTEXT_BYTES`
for the process's CUDA context and allocator slack. A run whose need is not known yet takes a
device to itself; once the first run of its group has finished, the others of the group are
packed by what it measured.

:class:`Packer` places a run on the device with the least free memory that still holds it
(best fit, so large runs keep finding room), and gives the memory back when the run ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.config.runspec import group_hash
from bench.records.record import Record

HEADROOM = 1.2
CONTEXT_BYTES = 768 * 2**20
CUDA_KIND = "cuda_max_allocated"


def need_bytes(peak: int | None) -> int | None:
    """The memory a run needs on a device, from its group's measured peak (``None``: unknown)."""
    if peak is None:
        return None
    return int(peak * HEADROOM) + CONTEXT_BYTES


@dataclass
class MemoryEstimates:
    """Measured peak GPU memory per run group (the largest seen)."""

    peaks: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[Record]) -> MemoryEstimates:
        out = cls()
        for record in records:
            out.learn(record)
        return out

    def learn(self, record: Record) -> None:
        """Take a record's peak memory into account (only GPU measurements count)."""
        memory = record.memory or {}
        if memory.get("kind") != CUDA_KIND or not memory.get("peak_bytes"):
            return
        key = group_hash(record.config)
        self.peaks[key] = max(self.peaks.get(key, 0), int(memory["peak_bytes"]))

    def need(self, config: Mapping[str, Any]) -> int | None:
        """What a run of ``config`` needs on a device (``None`` when nothing was measured)."""
        return need_bytes(self.peaks.get(group_hash(dict(config))))


@dataclass
class Placement:
    """A run placed on ``device``, holding ``reserved`` bytes of it."""

    device: int
    reserved: int


class Packer:
    """Free memory per device; places runs (see the module docstring)."""

    def __init__(self, memory: Mapping[int, int]) -> None:
        if not memory:
            raise ValueError("no device to pack runs onto")
        self.total = {int(d): int(b) for d, b in memory.items()}
        self.free = dict(self.total)
        self.running = dict.fromkeys(self.total, 0)

    def place(self, need: int | None) -> Placement | None:
        """A device for a run needing ``need`` bytes, or ``None`` if none has room now.

        An unknown need takes an idle device whole; a need larger than every device takes the
        largest device alone (it is never packed beside another run).
        """
        if need is None or need > max(self.total.values()):
            idle = [d for d in self.total if self.running[d] == 0]
            if not idle:
                return None
            device = max(idle, key=lambda d: (self.total[d], -d))
            if need is not None and self.total[device] < max(self.total.values()):
                return None  # wait for the largest device to become idle
            return self._take(device, self.total[device])
        fits = [d for d in self.total if self.free[d] >= need]
        if not fits:
            return None
        device = min(fits, key=lambda d: (self.free[d], d))
        return self._take(device, need)

    def release(self, placement: Placement) -> None:
        self.free[placement.device] += placement.reserved
        self.running[placement.device] -= 1

    def idle(self) -> bool:
        return not any(self.running.values())

    def _take(self, device: int, reserved: int) -> Placement:
        self.free[device] -= reserved
        self.running[device] += 1
        return Placement(device, reserved)
