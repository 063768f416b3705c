"""What a run reports its progress to: a :class:`ProgressSink` (start / update / finish /
message). The launchers (:mod:`bench.launch.progress`) turn the events into a display; a run
without one reports to :class:`NullSink`.
"""

from __future__ import annotations

from typing import Protocol


class ProgressSink(Protocol):
    def start(self, key: str, label: str, total: int, completed: int) -> None: ...
    def update(self, key: str, completed: int, info: str = "") -> None: ...
    def finish(self, key: str, status: str, summary: str = "") -> None: ...
    def message(self, text: str) -> None: ...


class NullSink:
    """Discards every event (tests, library use)."""

    def start(self, key: str, label: str, total: int, completed: int) -> None:
        pass

    def update(self, key: str, completed: int, info: str = "") -> None:
        pass

    def finish(self, key: str, status: str, summary: str = "") -> None:
        pass

    def message(self, text: str) -> None:
        pass
