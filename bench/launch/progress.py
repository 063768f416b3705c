"""Progress display of a grid: a rich live view fed by events from one or more runs.

Runs report through a :class:`~bench.engine.progress.ProgressSink`. In one process the sink is
the :class:`RichGridProgress` itself; runs in worker processes get a :class:`QueueSink` whose
events the main process replays into the display (:class:`EventPump`), and the first process of
a run over several processes (``--nproc``) a :class:`ConnectionSink`.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.engine.progress import ProgressSink


class RichGridProgress:
    """One bar for the whole grid plus one bar per active run."""

    def __init__(self, total_runs: int, console: Console | None = None,
                 title: str = "runs") -> None:
        self.console = console or Console(stderr=True, emoji=False)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=28),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}", style="dim"),
            console=self.console,
            transient=False,
            refresh_per_second=4,
        )
        self.grid = self.progress.add_task(f"[bold]{title}", total=total_runs, info="")
        self.runs: dict[str, TaskID] = {}

    def __enter__(self) -> RichGridProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def start(self, key: str, label: str, total: int, completed: int) -> None:
        if key in self.runs:
            self.progress.update(self.runs[key], total=total, completed=completed)
            return
        self.runs[key] = self.progress.add_task(f"  {label}", total=total, completed=completed,
                                                info="resumed" if completed else "")

    def update(self, key: str, completed: int, info: str = "") -> None:
        if key in self.runs:
            self.progress.update(self.runs[key], completed=completed, info=info)

    def finish(self, key: str, status: str, summary: str = "") -> None:
        task = self.runs.pop(key, None)
        if task is not None:
            self.progress.remove_task(task)
        self.progress.advance(self.grid)
        colour = {"ok": "green", "skipped": "cyan", "diverged": "yellow",
                  "collapsed": "yellow"}.get(status, "red")
        self.progress.console.print(f"[{colour}]{status:>8}[/] {escape(summary)}",
                                    soft_wrap=True)

    def message(self, text: str) -> None:
        self.progress.console.print(escape(text), soft_wrap=True)


class QueueSink:
    """Forwards events to a multiprocessing queue (used inside worker processes)."""

    def __init__(self, queue: Any, min_interval: float = 0.25) -> None:
        self.queue = queue
        self.min_interval = min_interval
        self._last = 0.0

    def start(self, key: str, label: str, total: int, completed: int) -> None:
        self.queue.put(("start", key, label, total, completed))

    def update(self, key: str, completed: int, info: str = "") -> None:
        now = time.monotonic()
        if now - self._last >= self.min_interval:
            self._last = now
            self.queue.put(("update", key, completed, info))

    def finish(self, key: str, status: str, summary: str = "") -> None:
        self.queue.put(("finish", key, status, summary))

    def message(self, text: str) -> None:
        self.queue.put(("message", text))


class ConnectionSink(QueueSink):
    """Forwards events over a :mod:`multiprocessing.connection` connection (the rank 0 process
    of a run launched with torchrun, :mod:`bench.launch.torchrun`, to the ``bench run`` that
    launched it)."""

    def __init__(self, connection: Any, min_interval: float = 0.25) -> None:
        super().__init__(_Sender(connection), min_interval)


class _Sender:
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def put(self, event: tuple) -> None:
        try:
            self.connection.send(event)
        except (OSError, EOFError):  # the launcher is gone; training goes on
            pass


def replay(event: tuple, sink: ProgressSink) -> None:
    """Apply one queued event to ``sink``."""
    kind, *args = event
    getattr(sink, kind)(*args)


class EventPump:
    """A daemon thread replaying the workers' queued progress events into ``sink`` until
    :meth:`close` (or until the queue's other end is gone)."""

    def __init__(self, events: Any, sink: ProgressSink) -> None:
        self.events, self.sink = events, sink
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                replay(self.events.get(timeout=0.1), self.sink)
            except queue.Empty:
                continue
            except (EOFError, BrokenPipeError, ConnectionError):
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
