"""Crash-safe file writes: a file is either its old content or its complete new content.

Every file the harness must not lose half-way (records, checkpoint pointers, run state, the data
check cache) is written by :func:`atomic_write_bytes`: the bytes go to a temporary file in the
same folder, which is flushed and ``fsync``-ed, then renamed over the target (``os.replace`` is
atomic on POSIX), and the folder is ``fsync``-ed so the rename survives a power loss too. A kill
at any instant leaves either the old file or the new one, plus at most a ``*.tmp`` file that
:func:`remove_stale_temps` clears.

Files are created with mode ``0o666`` minus the process umask (``0644`` under the usual umask
``022``), so records are readable by the group like any other file the user writes; ``mkstemp``'s
``0600`` is not used.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

TEMP_SUFFIX = ".tmp"


def fsync_dir(directory: Path) -> None:
    """``fsync`` a folder so a rename inside it is durable (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file's content to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(path: Path) -> Path:
    """A fresh temporary name beside ``path`` (``.<name>.<random>.tmp``)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` atomically and durably (see the module docstring)."""
    atomic_write_with(path, lambda f: f.write(data))


def atomic_write_with(path: Path, write: Callable[[Any], Any]) -> None:
    """Like :func:`atomic_write_bytes`, with ``write(binary file)`` producing the content."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any, *, indent: int | None = 1,
                      default: Callable[[Any], Any] | None = None) -> None:
    """:func:`atomic_write_bytes` of ``obj`` as JSON."""
    atomic_write_text(path, json.dumps(obj, indent=indent, default=default))


def remove_stale_temps(directory: Path) -> list[Path]:
    """Delete the temporary files of interrupted atomic writes in ``directory``; return them.

    Call it only while no other process writes there (a run folder, under its lock).
    """
    removed = []
    if not Path(directory).is_dir():
        return removed
    for path in Path(directory).glob(f".*{TEMP_SUFFIX}"):
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed
