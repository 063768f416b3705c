"""Workers end with the process that started them (:func:`bench.launch.orphan.exit_with_parent`):
a worker whose parent is SIGKILLed exits, also while the dead parent is still an unreaped
zombie, and one whose parent lives goes on."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from polling import alive, wait_until, zombie

#: the parent: starts one worker, prints its pid, then waits until the test kills it
PARENT = """
import os, subprocess, sys
worker = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
print(worker.pid, flush=True)
sys.stdin.read()
"""

#: the worker: watches its parent, then idles as if it were training
WORKER = """
import os, time
from bench.launch.orphan import exit_with_parent
exit_with_parent(os.getppid(), poll_s=0.05)
time.sleep(60)
"""


def _ended(pid: int) -> bool:
    """No such process, or only its zombie (exited, not yet reaped by its new parent)."""
    return not alive([str(pid)])


def test_a_worker_exits_once_its_parent_is_killed_and_not_before():
    parent = subprocess.Popen([sys.executable, "-c", PARENT, WORKER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    try:
        time.sleep(0.5)  # ten looks at a live parent
        assert not _ended(worker), "the worker exited while its parent was alive"
        parent.send_signal(signal.SIGKILL)
        wait_until(lambda: zombie(parent.pid), 10, "the parent to become a zombie")
        wait_until(lambda: _ended(worker), 10, "the orphaned worker to exit")
        assert zombie(parent.pid)  # it did not wait for the parent to be reaped
    finally:
        parent.kill()
        parent.wait()
        if not _ended(worker):
            subprocess.run(["kill", "-9", str(worker)], check=False)
