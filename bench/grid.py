"""The grid: expand a ``bench run`` command into RunSpecs, skip finished runs, execute the rest.

Runs execute one after another in this process (``--jobs 1``) or in ``--jobs N`` worker
processes (several small runs share a machine better than one run uses it; on the CPU each run
uses one thread, :mod:`bench.engine.threads`). Progress from every run goes to one rich display.

A run is trained only by the process that holds its folder's lock
(:mod:`bench.engine.claim`): a run another ``bench run`` is training is deferred, then waited
for once the other runs are done, and never trained twice.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data.base import DenseDataset, LayoutInfo
from bench.engine.orphan import exit_with_parent
from bench.engine.progress import EventPump, ProgressSink, QueueSink, RichGridProgress
from bench.errors import BenchError
from bench.metadata import split_row
from bench.profiles import check_override_keys, find_profile, resolve_profile
from bench.record import Record, RecordError
from bench.regimes import parse_regime
from bench.registry import get_dataset, method_info
from bench.runspec import RunSpec, config_hash, resolve, run_dir
from bench.store import is_finished, read_record


@dataclass
class PlannedRun:
    spec: RunSpec
    config: dict[str, Any]
    directory: Path
    finished: bool


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise BenchError(f"Bad --seeds '{text}'.", "Give integers, e.g. --seeds 0,1,2.") from None
    if not seeds:
        raise BenchError("No seed given.", "Give integers, e.g. --seeds 0,1,2.")
    return list(dict.fromkeys(seeds))


def expand_grid(methods: list[str], dataset: str, regimes: list[str] | None,
                seeds: list[int] | None, profile: str | None,
                overrides: tuple[tuple[str, Any], ...] = ()) -> list[RunSpec]:
    """RunSpecs of a command line; defaults come from the dataset and each method.

    ``methods`` are rows: a method, or ``method+weighting`` (:mod:`bench.rows`). The profile and
    every ``--set`` are validated here, before any data is touched.
    """
    ds = get_dataset(dataset)
    seeds = seeds or list(ds.default_seeds)
    found = find_profile(profile or ds.default_profile)
    check_override_keys(overrides)
    resolve_profile(found, list(getattr(ds, "profile_keys", (ds.name,))), overrides)
    if regimes is not None:
        regimes = [parse_regime(r).name for r in regimes]  # validate early
    specs = []
    for row in methods:
        method, weighting = split_row(row)
        info = method_info(method)
        if regimes is not None:
            method_regimes = regimes
        else:
            method_regimes = (list(ds.default_regimes) if info.in_partial else []) + (
                ["full"] if info.in_full else [])
        for regime in method_regimes:
            for seed in seeds:
                specs.append(RunSpec(method, dataset, regime, seed, found.id, tuple(overrides),
                                     found.source, weighting))
    return specs


def prepare_dataset(dataset: str, data_root: Path, sink: ProgressSink | None = None
                    ) -> LayoutInfo:
    """Generate (synthetic) or locate the data and validate its layout before any training."""
    ds: type[DenseDataset] = get_dataset(dataset)
    root = ds.default_root(Path(data_root))
    if hasattr(ds, "is_current") and not ds.is_current(root):
        if sink:
            sink.message(f"Generating {dataset} into {root} …")
        t0 = time.perf_counter()
        ds.prepare(root, workers=min(4, os.cpu_count() or 1))
        if sink:
            sink.message(f"Generated {dataset} in {time.perf_counter() - t0:.1f} s")
    return ds.check_layout(root)


def plan(specs: list[RunSpec], layout: LayoutInfo, results_root: Path) -> list[PlannedRun]:
    out = []
    for spec in specs:
        config = resolve(spec, layout)
        directory = run_dir(results_root, spec, config_hash(config))
        out.append(PlannedRun(spec, config, directory, is_finished(directory)))
    return out


def _summary(record: Record, spec: RunSpec) -> str:
    metrics = record.metrics
    prim = [f"{t.name} {metrics[t.name + '/' + t.primary]:.4g}" for t in record.tasks
            if t.name + "/" + t.primary in metrics]
    text = f"{spec.label()}  {'  '.join(prim)}  ({record.timing.get('wall_time_s', 0):.0f} s)"
    if record.status != "ok" and record.error:
        text += f"\n         {record.error['message'].splitlines()[0]}"
    return text


def execute(runs: list[PlannedRun], *, jobs: int = 1, progress: RichGridProgress,
            nproc: int = 1) -> dict[str, int]:
    """Run every unfinished run; returns counts per status (``skipped`` for finished ones).

    ``nproc`` > 1: one run at a time, each over ``nproc`` processes (``--nproc``,
    :mod:`bench.engine.ddp`); ``jobs`` must then be 1.
    """
    if nproc > 1 and jobs > 1:
        raise BenchError(f"--nproc {nproc} runs one run at a time over {nproc} processes; "
                         f"it does not combine with --jobs {jobs}.",
                         "Leave out --jobs (or give --jobs 1).")
    from bench.engine.claim import tidy_finished

    counts: dict[str, int] = {}
    todo = []
    for run in runs:
        if run.finished:
            try:
                record = read_record(run.directory)
            except RecordError:
                record = None
            tidy_finished(run.directory)
            counts["skipped"] = counts.get("skipped", 0) + 1
            progress.finish(run.directory.name, "skipped",
                            f"{run.spec.label()}: already finished "
                            f"({record.status if record else '?'}) in {run.directory}")
        else:
            todo.append(run)
    if jobs <= 1:
        import torch

        from bench.engine.claim import BUSY, describe_busy, run_claimed

        torch.set_num_threads(max(1, os.cpu_count() or 1))
        deferred = []
        for run in todo:
            outcome = run_claimed(run.spec, run.config, run.directory, progress, nproc=nproc)
            if outcome.status == BUSY:
                progress.message(describe_busy(run.spec, run.directory))
                deferred.append(run)
            else:
                _report(outcome, run, counts, progress)
        for run in deferred:
            _report(run_claimed(run.spec, run.config, run.directory, progress, wait=True,
                                nproc=nproc), run, counts, progress)
        return counts
    if not todo:
        return counts
    return _execute_parallel(todo, jobs, progress, counts)


def _report(outcome: Any, run: PlannedRun, counts: dict[str, int],
            progress: RichGridProgress) -> None:
    """Count and show what became of a claimed run (:class:`bench.engine.claim.Outcome`)."""
    from bench.engine.claim import SKIPPED

    if outcome.status == SKIPPED:
        _count(counts, "skipped")
        progress.finish(run.directory.name, "skipped",
                        f"{run.spec.label()}: {outcome.note} in {run.directory}")
        return
    record = Record.from_dict(outcome.record)
    _count(counts, record.status)
    progress.finish(run.directory.name, record.status, _summary(record, run.spec))


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


def _count(counts: dict[str, int], status: str) -> None:
    counts[status] = counts.get(status, 0) + 1


def _execute_parallel(todo: list[PlannedRun], jobs: int, progress: RichGridProgress,
                      counts: dict[str, int]) -> dict[str, int]:
    from bench.engine.claim import BUSY, describe_busy

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
                _report(outcome, run, counts, progress)
    except BaseException:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pumper.close()
    pool.shutdown()
    return counts


_EVENTS = None


def _init_worker(threads: int, parent: int, events: Any) -> None:
    global _EVENTS
    import torch

    _EVENTS = events
    torch.set_num_threads(threads)
    exit_with_parent(parent)  # a SIGKILLed parent must not leave workers training


def _run_in_worker(spec: RunSpec, config: dict[str, Any], directory: str, wait: bool) -> Any:
    from bench.engine.claim import run_claimed

    return run_claimed(spec, config, Path(directory), QueueSink(_EVENTS), wait=wait)
