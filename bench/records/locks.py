"""One writer per run: an exclusive lock on each run folder.

A process trains a run only while it holds ``RUN/run.lock`` (``fcntl.flock``, exclusive). The
operating system releases the lock when the process ends however it ends (SIGKILL included), so
a lock is never stale and nobody has to delete it. The holder writes who it is (pid, host, start
time) into the file so that a second ``bench run`` can say who it is waiting for. The file itself
stays (deleting a lock file while another process waits on it would let two processes in).

``flock`` works between processes of one machine; on network file systems it depends on the
server (NFSv4 and Lustre implement it; some older setups do not).
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

LOCK_NAME = "run.lock"


class RunLock:
    """The exclusive lock of the run folder ``directory`` (a context manager once acquired)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, blocking: bool = False) -> bool:
        """Take the lock; ``False`` if another process holds it and ``blocking`` is false."""
        if self._fd is not None:
            return True
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        info = {"pid": os.getpid(), "host": platform.node(),
                "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        return True

    def release(self) -> None:
        """Give the lock back (closing the file releases it)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire(blocking=True)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def holder(directory: Path) -> str:
    """Who holds (or last held) the lock of ``directory``, in words."""
    try:
        info = json.loads((Path(directory) / LOCK_NAME).read_text())
        return (f"another bench process (pid {info['pid']} on {info['host']}, since "
                f"{info['since']})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another bench process"


def is_locked(directory: Path) -> bool:
    """Whether another process holds the lock of ``directory`` right now (creates nothing)."""
    path = Path(directory) / LOCK_NAME
    if not path.is_file():
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
