"""The ``local`` launcher: runs one after another in this process, or in ``jobs`` workers.

Several small runs share a machine better than one run uses it; on the CPU each run uses one
thread (:mod:`bench.engine.threads`). Progress from every run goes to one rich display. A run
is trained only by the process that holds its folder's lock (:mod:`bench.launch.claim`): a run
another ``bench run`` is training is deferred, then waited for once the other runs are done,
and never trained twice.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config.runspec import RunSpec
from bench.errors import BenchError, quiet_library_warnings
from bench.grid.plan import PlannedRun
from bench.launch.base import LaunchContext, Launcher
from bench.launch.claim import BUSY, Trainer, describe_busy, run_claimed, tidy_finished
from bench.launch.orphan import exit_with_parent
from bench.launch.outcomes import GridCounts
from bench.launch.progress import EventPump, QueueSink, RichGridProgress
from bench.registry import register_launcher


def resolve_jobs(requested: int | None) -> int:
    """``--jobs``: as given, else 1 with CUDA, else one per CPU core (at most 8).

    Small CPU runs use cores better side by side (one thread each) than one at a time; the
    count never depends on how many runs are left, so a resumed run gets the same threads.
    """
    if requested is not None:
        if requested < 1:
            raise BenchError(f"--jobs must be at least 1, got {requested}.")
        return requested
    import torch

    if torch.cuda.is_available():
        return 1
    return max(1, min(8, os.cpu_count() or 1))


@register_launcher("local")
class LocalLauncher(Launcher):
    """Runs here: one after another (``jobs`` 1), or in ``jobs`` spawned worker processes."""

    @dataclass(frozen=True)
    class Options(Launcher.Options):
        #: worker processes (None: :func:`resolve_jobs`' default)
        jobs: int | None = None

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.jobs = resolve_jobs(self.options.jobs)

    def launch(self, runs: Sequence[PlannedRun], context: LaunchContext) -> dict[str, int]:
        with RichGridProgress(len(runs), console=context.console, title=context.title) as progress:
            return execute(runs, jobs=self.jobs, progress=progress)


def execute(runs: Sequence[PlannedRun], *, jobs: int = 1, progress: RichGridProgress,
            train: Trainer | None = None) -> dict[str, int]:
    """Run every unfinished run; returns counts per status (``skipped`` for finished ones).

    ``train``: how this process trains a claimed run (:data:`~bench.launch.claim.Trainer`;
    default: in this process); only with ``jobs`` 1 (workers train in themselves).
    """
    if train is not None and jobs > 1:
        raise ValueError("a trainer of its own runs one run at a time (jobs 1)")
    counts = GridCounts(progress)
    todo = []
    for run in runs:
        if run.finished:
            tidy_finished(run.directory)
            counts.already_finished(run)
        else:
            todo.append(run)
    if jobs <= 1:
        import torch

        torch.set_num_threads(max(1, os.cpu_count() or 1))
        deferred = []
        for run in todo:
            outcome = run_claimed(run.spec, run.config, run.directory, progress, train=train)
            if outcome.status == BUSY:
                progress.message(describe_busy(run.spec, run.directory))
                deferred.append(run)
            else:
                counts.outcome(outcome, run)
        for run in deferred:
            counts.outcome(run_claimed(run.spec, run.config, run.directory, progress, wait=True,
                                       train=train), run)
        return dict(counts)
    if todo:
        _execute_parallel(todo, jobs, progress, counts)
    return dict(counts)


def _execute_parallel(todo: list[PlannedRun], jobs: int, progress: RichGridProgress,
                      counts: GridCounts) -> None:
    ctx = mp.get_context("spawn")
    events = ctx.Queue()  # handed to workers at start-up (no manager process to outlive us)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    pumper = EventPump(events, progress)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                               initargs=(threads, os.getpid(), events))
    try:
        futures = {pool.submit(_run_in_worker, run.spec, run.config, str(run.directory),
                               False): run for run in todo}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                run = futures[fut]
                outcome = fut.result()
                if outcome.status == BUSY:  # queued behind every other run, then waited for
                    progress.message(describe_busy(run.spec, run.directory))
                    again = pool.submit(_run_in_worker, run.spec, run.config,
                                        str(run.directory), True)
                    futures[again] = run
                    pending.add(again)
                    continue
                counts.outcome(outcome, run)
    except BaseException:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pumper.close()
    pool.shutdown()


_EVENTS = None


def _init_worker(threads: int, parent: int, events: Any) -> None:
    global _EVENTS
    import torch

    _EVENTS = events
    quiet_library_warnings()
    torch.set_num_threads(threads)
    exit_with_parent(parent)  # a SIGKILLed parent must not leave workers training


def _run_in_worker(spec: RunSpec, config: dict[str, Any], directory: str, wait: bool) -> Any:
    return run_claimed(spec, config, Path(directory), QueueSink(_EVENTS), wait=wait)
