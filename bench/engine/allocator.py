"""Memory a CPU run frees is kept for its next step instead of being handed back to the system.

glibc's ``malloc`` serves every allocation above a threshold (128 KiB, raised dynamically up to
32 MiB) with its own ``mmap`` and returns it with ``munmap`` when freed, and it trims the top of
its heap when more than the trim threshold is free. A training step allocates and frees the same
large activations and gradients every time (a 64-row first mapping layer at 64×96, full width:
100 MB), so each step faults them in again page by page and the kernel zeroes every page:
measured on the 2-core machine, a fresh 100 MB tensor costs 54 ms to zero against 11 ms for a
reused one, and a full-width SegNet step at batch 8 takes 16 % longer with the default
settings (README, Performance).

:func:`keep_freed_memory` sets ``M_MMAP_MAX`` = 0 (no per-allocation ``mmap``: large blocks come
from the heap and are reused) and ``M_TRIM_THRESHOLD`` to the largest value (the heap is not
shrunk), the equivalent of running with ``MALLOC_MMAP_MAX_=0`` and a huge
``MALLOC_TRIM_THRESHOLD_``. A process then keeps its peak memory until it exits, which a
training process reaches every step anyway. The numbers a run computes do not change. Only
glibc has ``mallopt``; elsewhere (macOS, musl) nothing is changed. ``BENCH_MALLOC=system``
leaves the allocator alone (to compare, or to hand memory back between runs).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

#: glibc's mallopt parameter numbers (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
#: the largest trim threshold mallopt takes (an int)
NEVER_TRIM = 2**31 - 1

_state: str | None = None


def keep_freed_memory() -> str:
    """Configure glibc's malloc once per process as described above; return what was done
    (``"kept"``, or why not: ``"system"``), for the record's environment."""
    global _state
    if _state is None:
        _state = _configure()
    return _state


def _configure() -> str:
    if os.environ.get("BENCH_MALLOC", "").strip().lower() == "system":
        return "system (BENCH_MALLOC=system)"
    if not sys.platform.startswith("linux"):
        return "system (no glibc mallopt)"
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return "system (no glibc mallopt)"
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, NEVER_TRIM) == 1
    return "kept (glibc: M_MMAP_MAX=0, no trim)" if ok else "system (mallopt refused)"


def allocator_state() -> str:
    """What :func:`keep_freed_memory` did in this process (``"system"`` if it was not called)."""
    return _state or "system"
