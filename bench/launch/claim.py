"""Claim a run before training it: one writer per run folder, never a run trained twice.

:func:`run_claimed` takes the run folder's lock (:mod:`bench.records.locks`). If another process holds
it, the run is reported ``busy`` (the grid defers it and comes back to it, waiting, once its other
runs are done). Once the lock is held, the record is read again: a run another process finished
meanwhile is not trained again. Only then does :func:`bench.engine.execute.run_one` train it,
resuming from its newest intact checkpoint (or trains it its own way, ``train``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config.runspec import RunSpec
from bench.engine.checkpoints import POINTER
from bench.engine.progress import ProgressSink
from bench.records.atomic import remove_stale_temps
from bench.records.locks import RunLock, holder
from bench.records.record import RecordError
from bench.records.store import read_record, set_aside_unreadable

BUSY = "busy"
#: status of a run found finished once its lock was taken (counted as skipped)
SKIPPED = "skipped"


@dataclass
class Outcome:
    """What became of a claimed run: a record status, ``busy`` or ``skipped``.

    ``record`` is the record as a dict (picklable across worker processes); ``note`` says why a
    run was not trained.
    """

    status: str
    record: dict[str, Any] | None = None
    note: str = ""


#: how a claimed run is trained: ``(spec, config, directory, sink) → record`` (one process by
#: default, :func:`bench.engine.execute.run_one`; the torchrun launcher gives its own)
Trainer = Callable[[RunSpec, dict[str, Any], Path, ProgressSink], Any]


def run_claimed(spec: RunSpec, config: dict[str, Any], directory: Path, sink: ProgressSink,
                wait: bool = False, train: Trainer | None = None) -> Outcome:
    """Train the run in ``directory`` if no other process does (see the module docstring).

    ``wait``: block until another holder releases the run (saying so through ``sink``),
    instead of returning ``busy``. ``train`` trains it while this process holds the lock
    (default: here, in one process).
    """
    if train is None:
        from bench.engine.execute import run_one as train

    directory = Path(directory)
    lock = RunLock(directory)
    if not lock.acquire(blocking=False):
        who = holder(directory)
        if not wait:
            return Outcome(BUSY, note=f"{who} is training it")
        sink.message(f"{spec.label()}: {who} is training it; waiting for it to finish …")
        lock.acquire(blocking=True)
    with lock:
        try:
            existing = read_record(directory)
        except RecordError:
            existing = None
        if existing is not None and existing.finished:
            _tidy(directory)
            return Outcome(SKIPPED, existing.to_dict(),
                           f"finished by another bench process ({existing.status})")
        moved = set_aside_unreadable(directory)
        if moved is not None:
            sink.message(f"{spec.label()}: its record could not be read; kept as {moved} and "
                         "the run is done again")
        record = train(spec, config, directory, sink)
        return Outcome(record.status, record.to_dict())


def tidy_finished(directory: Path) -> None:
    """Remove what an interrupted finish left in a finished run's folder (checkpoints that a
    kill between writing the record and deleting them left behind, temporary files); only when
    no other process holds the run."""
    directory = Path(directory)
    work = directory / "work"
    leftovers = [*directory.glob(".*.tmp"), *work.glob(".*.tmp"), *work.glob("*.pth"),
                 *work.glob(POINTER)]
    if not leftovers:
        return
    lock = RunLock(directory)
    try:
        if not lock.acquire(blocking=False):
            return
    except OSError:
        return  # a read-only results folder: nothing to tidy there
    with lock:
        _tidy(directory)


def _tidy(directory: Path) -> None:
    from bench.engine.execute import drop_training_checkpoints

    remove_stale_temps(directory)
    if (directory / "work").is_dir():
        drop_training_checkpoints(directory / "work")


def describe_busy(spec: RunSpec, directory: Path) -> str:
    """The message of a run deferred because another process holds it."""
    return (f"{spec.label()}: {holder(directory)} is training it; coming back to it after the "
            "other runs")

