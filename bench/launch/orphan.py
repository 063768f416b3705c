"""Processes that end with the process that started them.

A worker of ``bench run`` (a ``--jobs`` pool worker, a ``--gpus`` device worker, a rank of an
``--nproc`` run) must not go on training after its launcher was killed (SIGKILL runs no
clean-up): the run would hold its claim, and a rerun would wait for it. :func:`exit_when` starts
a daemon thread that ends the process once a check says its launcher is gone;
:func:`exit_with_parent` is the check for a direct child: its parent process id changes (the
kernel re-parents an orphan at once, whether or not the dead parent was reaped). The run then
resumes from its last checkpoint like any other killed run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

#: seconds between two looks at the parent process id
POLL_S = 1.0


def exit_when(gone: Callable[[], bool], poll_s: float,
              stopping: threading.Event | None = None) -> threading.Thread:
    """Start the thread that calls ``os._exit(1)`` once ``gone()`` is true; returns it (a
    daemon: it never holds up a normal exit). Once ``stopping`` is set the thread ends without
    exiting, also when ``gone()`` turned true because of the clean shutdown itself."""
    stopping = stopping or threading.Event()

    def watch() -> None:
        while not stopping.is_set():
            if gone() and not stopping.is_set():
                os._exit(1)
            time.sleep(poll_s)

    thread = threading.Thread(target=watch, name="exit-when-gone", daemon=True)
    thread.start()
    return thread


def exit_with_parent(parent: int, poll_s: float = POLL_S) -> threading.Thread:
    """:func:`exit_when` this process's parent is no longer ``parent``."""
    return exit_when(lambda: os.getppid() != parent, poll_s)
