"""The ``slurm`` and ``submitit-local`` launchers: a grid's pending runs as submitit jobs.

Finished runs are not submitted, nor runs whose earlier job the scheduler still holds (queued or
running). Each submitted run gets ``RUN/launch.json`` (:func:`bench.launch.job.write_launch`):
its job id and log files. Jobs are submitted in arrays of at most :data:`MAX_ARRAY` runs (Slurm
refuses larger arrays by default), ``array_parallelism`` of them running at once.

The Slurm job of a run asks for ``gpus_per_run`` GPUs, ``cpus_per_run`` CPUs, ``mem_gb`` and
``time_min``, is warned ``signal_delay_s`` before its time limit (``USR2``) and is then requeued,
resuming from its last checkpoint, at most ``max_requeues`` times
(:class:`bench.launch.job.RunJob`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import submitit

from bench.errors import BenchError
from bench.launch.base import LaunchContext, Launcher
from bench.launch.job import RunJob, read_launch, write_launch
from bench.launch.options import LauncherOptions
from bench.launch.outcomes import GridCounts
from bench.launch.progress import RichGridProgress
from bench.launch.scheduler import JobState, job_states
from bench.records.record import RecordError
from bench.records.store import read_record
from bench.registry import register_launcher

if TYPE_CHECKING:
    from bench.grid.plan import PlannedRun

#: most runs in one job array
MAX_ARRAY = 1000


@dataclass
class Submitted:
    """A run handed to the scheduler, or found still held by it (``job`` is ``None`` then)."""

    run: PlannedRun
    launch: dict[str, Any]
    job: Any = None
    state: JobState | None = None


def submitit_folder(options: LauncherOptions, results_root: Path) -> Path:
    """Where submitit keeps its files: ``options.folder`` or ``RESULTS/submitit``."""
    base = Path(options.folder) if options.folder else Path(results_root) / "submitit"
    return base.resolve()


def slurm_memory(mem_gb: float | None) -> str | None:
    """``--mem`` of sbatch: ``32GB``, ``1536MB`` (a bare number would mean megabytes)."""
    if mem_gb is None:
        return None
    return f"{int(mem_gb)}GB" if float(mem_gb).is_integer() else f"{int(mem_gb * 1024)}MB"


def make_executor(launcher: str, options: LauncherOptions, folder: Path) -> submitit.Executor:
    """A submitit executor for ``launcher`` (``slurm`` or ``submitit-local``)."""
    pattern = Path(folder) / "%j"
    if launcher == "slurm":
        try:
            executor = submitit.SlurmExecutor(folder=pattern,
                                              max_num_timeout=options.max_requeues)
        except RuntimeError as exc:  # submitit: no srun on PATH
            raise BenchError(f"--launcher slurm found no Slurm here ({exc}).",
                             "Run it on a Slurm login node, or use --launcher submitit-local "
                             "to try the same jobs on this machine.") from None
        params: dict[str, Any] = {
            "job_name": "bench", "time": options.time_min, "cpus_per_task": options.cpus_per_run,
            "array_parallelism": options.array_parallelism,
            "signal_delay_s": options.signal_delay_s,
            "additional_parameters": {"requeue": True}}
        if options.gpus_per_run:
            params["gpus_per_node"] = options.gpus_per_run
        for key, value in (("partition", options.partition), ("account", options.account),
                           ("qos", options.qos), ("mem", slurm_memory(options.mem_gb))):
            if value is not None:
                params[key] = value
        if options.setup:
            params["setup"] = list(options.setup)
        executor.update_parameters(**params)
        return executor
    if launcher == "submitit-local":
        import torch

        executor = submitit.LocalExecutor(folder=pattern, max_num_timeout=options.max_requeues)
        gpus = min(options.gpus_per_run, torch.cuda.device_count())
        executor.update_parameters(timeout_min=options.time_min, gpus_per_node=gpus,
                                   signal_delay_s=options.signal_delay_s,
                                   **({"setup": list(options.setup)} if options.setup else {}))
        return executor
    raise BenchError(f"'{launcher}' does not submit jobs.")


def held_by_scheduler(runs: Sequence[PlannedRun]) -> dict[Path, Submitted]:
    """The unfinished runs whose earlier job is still queued or running, by run folder."""
    launches = {r.directory: launch for r in runs if not r.finished
                and (launch := read_launch(r.directory)) is not None}
    states = job_states(launches.values())
    out = {}
    for run in runs:
        launch = launches.get(run.directory)
        state = states.get(str(launch["job_id"])) if launch else None
        if state is not None and state.active:
            out[run.directory] = Submitted(run, launch, state=state)
    return out


def submit(runs: Sequence[PlannedRun], launcher: str, options: LauncherOptions,
           results_root: Path) -> tuple[list[Submitted], list[Submitted]]:
    """Submit the pending runs; returns (submitted now, still held from an earlier submission)."""
    held = held_by_scheduler(runs)
    todo = [r for r in runs if not r.finished and r.directory not in held]
    folder = submitit_folder(options, results_root)
    folder.mkdir(parents=True, exist_ok=True)
    executor = make_executor(launcher, options, folder)
    submitted: list[Submitted] = []
    for start in range(0, len(todo), MAX_ARRAY):
        chunk = todo[start:start + MAX_ARRAY]
        try:
            with executor.batch():
                jobs = [executor.submit(RunJob(r.spec, r.config, str(r.directory)))
                        for r in chunk]
        except (submitit.core.utils.FailedSubmissionError, OSError) as exc:
            raise BenchError(f"Submitting {len(chunk)} runs to {launcher} failed: {exc}",
                             "Check the launcher options (partition, account, qos) with "
                             "your cluster's documentation; runs submitted before are kept."
                             ) from None
        for run, job in zip(chunk, jobs, strict=True):
            submitted.append(Submitted(run, write_launch(run.directory, launcher, job, folder),
                                       job))
    return submitted, list(held.values())


def wait_for(submitted: Sequence[Submitted], on_done: Callable[[Submitted], None],
             poll_s: float = 1.0) -> None:
    """Block until every submitted job has ended; ``on_done`` is called once per job."""
    pending = [s for s in submitted if s.job is not None]
    while pending:
        still = []
        for item in pending:
            if item.job.done():
                on_done(item)
            else:
                still.append(item)
        pending = still
        if pending:
            time.sleep(poll_s)


class SubmititLauncher(Launcher):
    """Submits the pending runs as submitit jobs (one array task per run); the subclasses name
    the executor. ``wait``: wait for the jobs and count them, else return ``None`` at once."""

    #: the ``launcher`` of :func:`make_executor`
    executor = ""

    @dataclass(frozen=True)
    class Options(Launcher.Options):
        #: the resources of every run (:class:`~bench.launch.options.LauncherOptions`)
        resources: LauncherOptions = field(default_factory=LauncherOptions)
        wait: bool = False

    def launch(self, runs: Sequence[PlannedRun], context: LaunchContext) -> dict[str, int] | None:
        console = context.console
        submitted, held = submit(runs, self.executor, self.options.resources, context.results)
        finished = sum(r.finished for r in runs)
        jobs = sorted({s.launch["job_id"].split("_")[0] for s in submitted})
        console.print(f"Submitted {len(submitted)} runs to {self.executor}"
                      + (f" (job {', '.join(jobs)})" if jobs else "")
                      + f"; {len(held)} still queued or running from before; {finished} finished.",
                      highlight=False, soft_wrap=True)
        for item in held:
            console.print(f"  already submitted: {item.run.spec.label()}  job "
                          f"{item.launch['job_id']} ({item.state.word if item.state else '?'})",
                          highlight=False)
        if submitted:
            console.print(f"Logs: {Path(submitted[0].launch['stdout']).parent.parent}/<job>/  "
                          "(each run's log path is in its launch.json and record; `bench "
                          "status` lists them)", highlight=False, soft_wrap=True)
        if not self.options.wait:
            return None
        with RichGridProgress(len(submitted), console=console, title=context.title) as progress:
            counts = GridCounts(progress)
            if finished:
                counts["skipped"] = finished
            wait_for(submitted, lambda item: _job_done(item, counts))
        return dict(counts)


@register_launcher("slurm")
class SlurmLauncher(SubmititLauncher):
    """A Slurm job array through submitit; a run that reaches its time limit is requeued."""

    executor = "slurm"


@register_launcher("submitit-local")
class SubmititLocalLauncher(SubmititLauncher):
    """The same jobs on submitit's local executor, all at once, always waited for."""

    executor = "submitit-local"

    def __init__(self, **options: Any) -> None:
        super().__init__(**{**options, "wait": True})


def _job_done(item: Submitted, counts: GridCounts) -> None:
    run = item.run
    try:
        record = read_record(run.directory)
    except RecordError:
        record = None
    if record is None:
        counts.failed(run.spec, run.directory.name,
                      f"job {item.launch['job_id']} ended without a record; log "
                      f"{item.launch['stdout']}")
        return
    counts.record(record, run.spec, run.directory.name)
