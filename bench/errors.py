"""User-facing errors: anything a researcher can fix by changing input, data or command line.

The CLI turns a :class:`BenchError` into a short message on stderr and exit status 2, never a
traceback. Code deep inside the harness raises these as early as it can tell what is wrong.
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Iterable


class BenchError(Exception):
    """An error in the user's input (command line, data on disk, split file, profile...)."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class DatasetError(BenchError):
    """A dataset is missing or its files do not have the expected layout."""


class UnknownNameError(BenchError):
    """A method, dataset, regime or profile name that is not registered."""


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> UnknownNameError:
    """Build the error for an unknown ``kind`` called ``name``: list valid names, suggest one."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    hint = f"Did you mean '{close[0]}'? " if close else ""
    return UnknownNameError(
        f"Unknown {kind} '{name}'.",
        f"{hint}Valid {kind}s: {', '.join(valid)}. `bench list` describes them.",
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM (what Slurm sends before a preemption), handled as Ctrl-C is: what is finished is
    kept, the runs resume from their last checkpoint, and the command exits 143."""

    exit_code = 143


def interrupted_exit_code(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (SIGINT), 143 for SIGTERM."""
    return getattr(exc, "exit_code", 130)


def interrupted_word(exc: KeyboardInterrupt) -> str:
    """What stopped the command: ``Interrupted`` (Ctrl-C) or ``Terminated (SIGTERM)``."""
    return "Terminated (SIGTERM)" if isinstance(exc, Terminated) else "Interrupted"


def quiet_library_warnings() -> None:
    """Warnings meant for developers (a library's deprecations, numpy's "mean of empty slice")
    are not shown to users, in the command's process and its workers; ``BENCH_DEBUG=1`` shows
    them."""
    if os.environ.get("BENCH_DEBUG"):
        return
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning,
                     RuntimeWarning):
        warnings.filterwarnings("ignore", category=category)
