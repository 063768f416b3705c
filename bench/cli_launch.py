"""``bench run`` on launchers: Slurm and submitit's local executor, or every GPU of a node.

``--launcher slurm`` submits the grid's pending runs as a Slurm job array and returns (``--wait``
waits for them); ``--launcher submitit-local`` runs them as local submitit jobs and waits.
``--gpus 0,1,…`` runs them here, packed onto those GPUs. Options are checked before anything is
submitted or trained (exit 2).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from bench.errors import BenchError
from bench.launch.options import LAUNCHERS, LauncherOptions, check_launcher, launcher_options

if TYPE_CHECKING:
    from bench.engine.progress import RichGridProgress
    from bench.grid import PlannedRun
    from bench.launch.submit import Submitted


@dataclass
class LaunchSettings:
    """How ``bench run`` runs its grid."""

    launcher: str = "local"
    options: LauncherOptions | None = None
    gpus: list[int] | None = None
    wait: bool = False


def add_launch_options(p: argparse.ArgumentParser) -> None:
    """The launcher options of ``bench run``."""
    g = p.add_argument_group("launchers (Slurm, submitit, GPUs of a node)")
    g.add_argument("--launcher", default="local",
                   help=f"{' | '.join(LAUNCHERS)} (default local: worker processes here)")
    g.add_argument("--launcher-profile", metavar="FILE.json",
                   help="launcher options as JSON (partition, gpus_per_run, cpus_per_run, "
                        "mem_gb, time_min, account, qos, array_parallelism, max_requeues, "
                        "signal_delay_s, setup, folder); the options below win over it")
    g.add_argument("--partition")
    g.add_argument("--gpus-per-run", type=int)
    g.add_argument("--cpus-per-run", type=int)
    g.add_argument("--mem", type=float, metavar="GB", help="memory per run in GB")
    g.add_argument("--time", metavar="LIMIT",
                   help="time limit per job: minutes, 12h, 12:00:00 or 1-00:00:00; a run that "
                        "reaches it is requeued and resumes from its last checkpoint")
    g.add_argument("--account")
    g.add_argument("--qos")
    g.add_argument("--array-parallelism", type=int, metavar="N",
                   help="most runs of the array running at once")
    g.add_argument("--max-requeues", type=int, metavar="N",
                   help="how often a run may reach its time limit and be requeued (default 10)")
    g.add_argument("--wait", action="store_true",
                   help="slurm: wait for the jobs, then print the table (submitit-local always "
                        "waits)")
    g.add_argument("--gpus", metavar="0,1,…",
                   help="local: pack the runs onto these GPUs (one worker process per run, "
                        "CUDA_VISIBLE_DEVICES set to its device; several runs per GPU when their "
                        "measured memory fits)")


def launch_settings(args: argparse.Namespace) -> LaunchSettings:
    """The validated launcher settings of a ``bench run`` command line."""
    from bench.launch.devices import parse_gpus
    from bench.launch.options import parse_time

    launcher = check_launcher(args.launcher)
    overrides = {"partition": args.partition, "gpus_per_run": args.gpus_per_run,
                 "cpus_per_run": args.cpus_per_run, "mem_gb": args.mem,
                 "time_min": parse_time(args.time) if args.time else None,
                 "account": args.account, "qos": args.qos,
                 "array_parallelism": args.array_parallelism,
                 "max_requeues": args.max_requeues}
    given = [k for k, v in overrides.items() if v is not None]
    if launcher == "local":
        if given or args.launcher_profile:
            raise BenchError(f"Launcher options ({', '.join(given) or '--launcher-profile'}) "
                             "need a launcher that submits jobs.",
                             "Add --launcher slurm (or submitit-local).")
        gpus = parse_gpus(args.gpus) if args.gpus is not None else None
        return LaunchSettings(gpus=gpus)
    if args.gpus is not None:
        raise BenchError(f"--gpus packs runs onto this machine's GPUs; with --launcher "
                         f"{launcher} each run gets its own GPUs.",
                         "Use --gpus-per-run (or gpus_per_run in the launcher profile).")
    options = launcher_options(Path(args.launcher_profile) if args.launcher_profile else None,
                               overrides)
    return LaunchSettings(launcher, options, wait=args.wait or launcher == "submitit-local")


def add_nproc_option(p: argparse.ArgumentParser) -> None:
    """``bench run --nproc N``."""
    p.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="train each run over N processes launched with torchrun (data "
                        "parallel: train.batch_size is the global batch, split into N shards; "
                        "gloo on the CPU, nccl with one GPU per process); one run at a time; "
                        "the results equal one process's up to float rounding and the runs "
                        "keep their identity (default 1)")


def nproc_setting(args: argparse.Namespace, launch: LaunchSettings) -> int:
    """The validated ``--nproc`` (1 without it): a :class:`BenchError` for combinations that do
    not work (another launcher, ``--gpus``, ``--jobs`` > 1, more processes than GPUs)."""
    nproc = args.nproc
    if nproc is None or nproc == 1:
        return 1
    if nproc < 1:
        raise BenchError(f"--nproc must be at least 1, got {nproc}.")
    if launch.launcher != "local":
        raise BenchError(f"--nproc launches torchrun on this machine; it does not combine with "
                         f"--launcher {launch.launcher}.",
                         "Run without --nproc there (one process per run), or run "
                         "bench run --nproc on the node itself.")
    if launch.gpus is not None:
        raise BenchError("--nproc and --gpus do not combine: --gpus packs whole runs onto "
                         "GPUs, --nproc spreads one run over processes (one GPU each).",
                         "Choose the GPUs with CUDA_VISIBLE_DEVICES and use --nproc alone.")
    if args.jobs is not None and args.jobs > 1:
        raise BenchError(f"--nproc {nproc} runs one run at a time over {nproc} processes; "
                         f"it does not combine with --jobs {args.jobs}.",
                         "Leave out --jobs (or give --jobs 1).")
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        raise BenchError("--nproc needs torch.distributed, which this torch build lacks.")
    if torch.cuda.is_available() and nproc > torch.cuda.device_count():
        raise BenchError(f"--nproc {nproc} needs one GPU per process; "
                         f"{torch.cuda.device_count()} visible.",
                         "Give at most that many processes (or set CUDA_VISIBLE_DEVICES).")
    return nproc


def check_nproc_runs(runs: list[PlannedRun], nproc: int) -> None:
    """A :class:`BenchError` unless every pending run's global batch splits into ``nproc``
    shards (before anything is launched)."""
    from bench.engine.build import check_shards, training_split

    for run in runs:
        if not run.finished:
            check_shards(run.config, len(training_split(run.config).train), nproc)


def run_on_gpus(runs: list[PlannedRun], gpus: list[int], results: Path, console: Console,
                title: str) -> dict[str, int]:
    """``bench run --gpus``: the grid packed onto the devices (see :mod:`bench.launch.gpu_pool`)."""
    from bench.engine.progress import RichGridProgress
    from bench.grid import execute
    from bench.launch.devices import device_memory
    from bench.launch.gpu_pool import execute_on_gpus
    from bench.launch.packing import MemoryEstimates
    from bench.store import iter_records

    memory = device_memory(gpus)
    console.print("GPUs: " + ", ".join(f"{d} ({b / 2**30:.1f} GiB free)"
                                       for d, b in memory.items()), highlight=False)
    dataset = runs[0].spec.dataset if runs else None
    estimates = MemoryEstimates.from_records(iter_records(results, dataset))
    with RichGridProgress(len(runs), console=console, title=title) as progress:
        counts = execute([r for r in runs if r.finished], progress=progress)
        return execute_on_gpus(runs, memory, estimates, progress, counts)


def submit_grid(runs: list[PlannedRun], settings: LaunchSettings, results: Path,
                console: Console, title: str) -> dict[str, int] | None:
    """Submit the pending runs; with ``settings.wait`` wait for them and return the counts."""
    from bench.engine.progress import RichGridProgress
    from bench.launch.submit import submit, wait_for

    assert settings.options is not None
    submitted, held = submit(runs, settings.launcher, settings.options, results)
    finished = sum(r.finished for r in runs)
    jobs = sorted({s.launch["job_id"].split("_")[0] for s in submitted})
    console.print(f"Submitted {len(submitted)} runs to {settings.launcher}"
                  + (f" (job {', '.join(jobs)})" if jobs else "")
                  + f"; {len(held)} still queued or running from before; {finished} finished.",
                  highlight=False, soft_wrap=True)
    for item in held:
        console.print(f"  already submitted: {item.run.spec.label()}  job {item.launch['job_id']}"
                      f" ({item.state.word if item.state else '?'})", highlight=False)
    if submitted:
        console.print(f"Logs: {Path(submitted[0].launch['stdout']).parent.parent}/<job>/  "
                      "(each run's log path is in its launch.json and record; `bench status` "
                      "lists them)", highlight=False, soft_wrap=True)
    if not settings.wait:
        return None
    counts: dict[str, int] = {"skipped": finished} if finished else {}
    with RichGridProgress(len(submitted), console=console, title=title) as progress:
        wait_for(submitted, lambda item: _job_done(item, counts, progress))
    return counts


def _job_done(item: Submitted, counts: dict[str, int], progress: RichGridProgress
              ) -> None:
    from bench.grid import _count, _summary
    from bench.record import RecordError
    from bench.store import read_record

    run = item.run
    try:
        record = read_record(run.directory)
    except RecordError:
        record = None
    if record is None:
        _count(counts, "failed")
        progress.finish(run.directory.name, "failed",
                        f"{run.spec.label()}: job {item.launch['job_id']} ended without a "
                        f"record; log {item.launch['stdout']}")
        return
    _count(counts, record.status)
    progress.finish(run.directory.name, record.status,
                    _summary(record, run.spec))
