"""CPU threads of a run: fixed, so a run's numbers do not depend on ``--jobs`` or the machine's cores.

Float reductions (convolutions, matrix products, sums) are split across intra-op threads, and a
different split rounds differently: the same smoke run once gave a normal mErr of 93.66 with
``--jobs 1`` (2 threads) and 99.16 with ``--jobs 2`` (1 thread each). Rather than add the thread
count to every run's identity (a rerun with another ``--jobs`` would then train everything again,
and references written on a machine with another core count would never be comparable), every
run on the CPU trains and evaluates with exactly :data:`CPU_THREADS` intra-op thread(s);
parallelism comes from running several runs side by side (``--jobs``). One thread is what the
default grid (one worker per core) and the CI reference records already used. On a GPU the
computation does not run on CPU threads and their number is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

#: intra-op threads of a run on the CPU (part of the harness, not of the run's identity)
CPU_THREADS = 1


@contextmanager
def run_threads(device: torch.device) -> Iterator[int]:
    """Set the thread count of a run on ``device`` for the duration of the block; yield it."""
    if device.type != "cpu":
        yield torch.get_num_threads()
        return
    before = torch.get_num_threads()
    torch.set_num_threads(CPU_THREADS)
    try:
        yield CPU_THREADS
    finally:
        torch.set_num_threads(before)
