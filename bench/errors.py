"""User-facing errors: anything a researcher can fix by changing input, data or command line.

The CLI turns a :class:`BenchError` into a short message on stderr and exit status 2, never a
traceback. Code deep inside the harness raises these as early as it can tell what is wrong.
"""

from __future__ import annotations

import difflib
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
