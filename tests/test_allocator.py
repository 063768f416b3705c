"""The CPU allocator setting of a run: glibc keeps freed memory, unless BENCH_MALLOC=system."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = ("from bench.engine.allocator import allocator_state, keep_freed_memory; "
         "before = allocator_state(); print(before, '|', keep_freed_memory(), '|', "
         "allocator_state())")


def probe(**env: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, env={**os.environ, **env}).stdout
    return [part.strip() for part in out.split("|")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_cpu_process_keeps_freed_memory_on_glibc() -> None:
    env = {k: v for k, v in os.environ.items() if k != "BENCH_MALLOC"}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, env=env).stdout
    before, done, after = (part.strip() for part in out.split("|"))
    assert before == "system"
    assert done == after == "kept (glibc: M_MMAP_MAX=0, no trim)"


def test_bench_malloc_system_leaves_the_allocator_alone() -> None:
    assert probe(BENCH_MALLOC="system")[1:] == ["system (BENCH_MALLOC=system)"] * 2
