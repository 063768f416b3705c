"""Waiting in tests: poll a condition until it holds or a deadline passes (no fixed sleeps)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def wait_until(condition: Callable[[], Any], timeout: float, what: str,
               interval: float = 0.05) -> Any:
    """Return ``condition()``'s first truthy value; :class:`TimeoutError` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:g} s for {what}")
        time.sleep(interval)


def alive(pids: list[str]) -> list[str]:
    """The processes of ``pids`` that still run (neither gone nor zombies)."""
    out = []
    for pid in pids:
        try:
            if "zombie" not in Path(f"/proc/{pid}/status").read_text().lower():
                out.append(pid)
        except FileNotFoundError:
            pass
    return out


def zombie(pid: int) -> bool:
    """Whether process ``pid`` has exited and waits to be reaped by its parent."""
    return "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
