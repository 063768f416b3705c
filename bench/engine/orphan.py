"""Worker processes that end with the process that started them.

A worker of ``bench run`` (a ``--jobs`` pool worker, a ``--gpus`` device worker) must not go on
training after its parent was killed (SIGKILL runs no clean-up): the run would hold its claim,
and a rerun would wait for it. :func:`exit_with_parent` starts a daemon thread that ends the
worker once its parent process id changes (the kernel re-parents an orphan at once, whether or
not the dead parent was reaped). The run then resumes from its last checkpoint like any other
killed run.
"""

from __future__ import annotations

import os
import threading
import time

#: seconds between two looks at the parent process id
POLL_S = 1.0


def exit_with_parent(parent: int, poll_s: float = POLL_S) -> threading.Thread:
    """Start the thread that calls ``os._exit(1)`` once this process's parent is no longer
    ``parent``; returns it (a daemon: it never holds up a normal exit)."""

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(poll_s)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread
