"""The ``gpus`` launcher: a grid on the GPUs of one node, each run in a worker bound to one device.

``bench run --gpus 0,1,2,3`` starts, for every run, a worker process with
``CUDA_VISIBLE_DEVICES`` set to the device :class:`bench.launch.packing.Packer` chose, as soon as
that device has room for the run's measured memory need. One run per device when the need is
unknown, several per device once a run of their group has measured it; never more than the
device's memory. A worker exits after its run, so the memory it held goes back to the device
with it. Runs another process holds are deferred and waited for at the end, as in
:func:`bench.launch.local.execute`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.engine.environment import environ_set
from bench.errors import quiet_library_warnings
from bench.launch.base import LaunchContext, Launcher
from bench.launch.claim import BUSY, describe_busy, run_claimed, tidy_finished
from bench.launch.devices import device_memory
from bench.launch.orphan import exit_with_parent
from bench.launch.outcomes import GridCounts
from bench.launch.packing import MemoryEstimates, Packer, Placement
from bench.launch.progress import EventPump, QueueSink, RichGridProgress
from bench.records.record import Record
from bench.records.store import iter_records
from bench.registry import register_launcher

if TYPE_CHECKING:
    from bench.grid.plan import PlannedRun

#: what a worker runs: (spec, config, directory, wait, events) → an Outcome
Target = Callable[[Any, dict, str, bool, Any], Any]


@dataclass
class _Active:
    run: PlannedRun
    placement: Placement
    process: Any
    wait: bool


def run_on_device(spec: Any, config: dict, directory: str, wait: bool, events: Any) -> Any:
    """The default worker target: claim and train the run (one per process)."""
    return run_claimed(spec, config, Path(directory), QueueSink(events), wait=wait)


def _worker(target: Target, spec: Any, config: dict, directory: str, wait: bool, events: Any,
            results: Any, parent: int) -> None:
    exit_with_parent(parent)  # a SIGKILLed parent must not leave workers training
    quiet_library_warnings()
    try:
        outcome = target(spec, config, directory, wait, events)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which counts it
        results.put((directory, None, f"{type(exc).__name__}: {exc}"))
        return
    results.put((directory, outcome, ""))


def execute_on_gpus(runs: Sequence[PlannedRun], memory: Mapping[int, int],
                    estimates: MemoryEstimates, counts: GridCounts,
                    target: Target = run_on_device,
                    on_place: Callable[[PlannedRun, Placement], None] | None = None
                    ) -> dict[str, int]:
    """Run the unfinished ``runs`` on the devices of ``memory`` (see the module docstring),
    reporting each to ``counts``; returns the counts."""
    progress = counts.progress
    ctx = mp.get_context("spawn")
    events, results = ctx.Queue(), ctx.Queue()
    packer = Packer(memory)
    waiting: list[tuple[PlannedRun, bool]] = [(r, False) for r in runs if not r.finished]
    active: dict[str, _Active] = {}
    threads = max(1, (os.cpu_count() or 1) // max(1, len(memory)))
    pumper = EventPump(events, progress)

    def start_what_fits() -> None:
        for item in list(waiting):
            run, wait = item
            if wait and (any(not a.wait for a in active.values())
                         or any(not w for _, w in waiting)):
                continue  # runs held elsewhere are waited for after every other run
            placement = packer.place(estimates.need(run.config))
            if placement is None:
                continue
            waiting.remove(item)
            if on_place is not None:
                on_place(run, placement)
            env = {"CUDA_VISIBLE_DEVICES": str(placement.device),
                   "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "OMP_NUM_THREADS": str(threads)}
            process = ctx.Process(target=_worker, daemon=False, args=(
                target, run.spec, run.config, str(run.directory), wait, events, results,
                os.getpid()))
            with environ_set(env):
                process.start()
            active[str(run.directory)] = _Active(run, placement, process, wait)

    try:
        start_what_fits()
        while active or waiting:
            try:
                directory, outcome, error = results.get(timeout=0.5)
            except queue_mod.Empty:
                _reap_dead(active, packer, counts)
                start_what_fits()
                continue
            item = active.pop(directory, None)
            if item is None:  # its worker was already counted as dead
                continue
            item.process.join()
            packer.release(item.placement)
            if outcome is not None and outcome.status == BUSY:
                progress.message(describe_busy(item.run.spec, item.run.directory))
                waiting.append((item.run, True))
            elif outcome is None:
                counts.failed(item.run.spec, Path(directory).name, f"worker died: {error}")
            else:
                if outcome.record is not None:
                    estimates.learn(Record.from_dict(outcome.record))
                counts.outcome(outcome, item.run)
            start_what_fits()
    except BaseException:
        for item in active.values():
            item.process.terminate()
        raise
    finally:
        pumper.close()
    return dict(counts)


def _reap_dead(active: dict[str, _Active], packer: Packer, counts: GridCounts) -> None:
    """Workers that ended without a result (killed, out of memory): counted as failed."""
    for key, item in list(active.items()):
        if item.process.is_alive() or item.process.exitcode is None:
            continue
        item.process.join(timeout=5)
        if item.process.exitcode == 0:
            continue  # its result is on its way through the queue
        del active[key]
        packer.release(item.placement)
        counts.failed(item.run.spec, Path(key).name,
                      f"worker on GPU {item.placement.device} ended with exit code "
                      f"{item.process.exitcode} and no record; rerun to resume")


@register_launcher("gpus")
class GpuLauncher(Launcher):
    """Runs here, each in a worker process bound to one of ``devices``, packed by memory."""

    @dataclass(frozen=True)
    class Options(Launcher.Options):
        #: the GPUs of this node to use (``--gpus 0,1``)
        devices: tuple[int, ...] = ()

    def launch(self, runs: Sequence[PlannedRun], context: LaunchContext) -> dict[str, int]:
        memory = device_memory(list(self.options.devices))
        context.console.print("GPUs: " + ", ".join(f"{d} ({b / 2**30:.1f} GiB free)"
                                                   for d, b in memory.items()), highlight=False)
        dataset = runs[0].spec.dataset if runs else None
        estimates = MemoryEstimates.from_records(iter_records(context.results, dataset))
        with RichGridProgress(len(runs), console=context.console,
                              title=context.title) as progress:
            counts = GridCounts(progress)
            for run in runs:
                if run.finished:
                    tidy_finished(run.directory)
                    counts.already_finished(run)
            return execute_on_gpus(runs, memory, estimates, counts)
