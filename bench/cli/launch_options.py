"""The launcher flags of ``bench run``: which launcher runs the grid, and its options.

``--launcher local`` (default; ``--jobs N`` worker processes), ``--launcher torchrun`` (or
``--nproc N``: each run over N processes), ``--launcher gpus`` (or ``--gpus 0,1,…``: packed onto
this node's GPUs), ``--launcher slurm`` (a job array; ``--wait`` waits) and ``--launcher
submitit-local`` (the same jobs here, waited for), with the cluster options of a submitted grid.
Every option is checked, and a combination that does not work refused, before anything is
planned, submitted or trained (exit 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.errors import BenchError, unknown_name
from bench.launch.base import Launcher, build_launcher
from bench.launch.options import launcher_options, parse_time
from bench.registry import launcher_names

#: the launchers that submit jobs (and take the cluster options)
SUBMITTING = ("slurm", "submitit-local")


def add_launch_options(p: argparse.ArgumentParser) -> None:
    """The launcher options of ``bench run``."""
    g = p.add_argument_group("launchers (local workers, torchrun, GPUs of a node, Slurm)")
    g.add_argument("--launcher", default="local",
                   help="local | torchrun | gpus | slurm | submitit-local (default local: "
                        "worker processes here)")
    g.add_argument("--jobs", type=int, default=None,
                   help="local: runs in parallel worker processes (default: 1 with a GPU; on "
                        "CPU one per core, at most 8; a run on the CPU always uses one thread, "
                        "so results do not depend on --jobs)")
    g.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="torchrun: train each run over N processes (data parallel: "
                        "train.batch_size is the global batch, split into N shards; gloo on "
                        "the CPU, nccl with one GPU per process); one run at a time; the results "
                        "equal one process's up to float rounding and the runs keep their "
                        "identity (default 1)")
    g.add_argument("--gpus", metavar="0,1,…",
                   help="gpus: pack the runs onto these GPUs (one worker process per run, "
                        "CUDA_VISIBLE_DEVICES set to its device; several runs per GPU when their "
                        "measured memory fits)")
    g.add_argument("--launcher-profile", metavar="FILE.json",
                   help="slurm: launcher options as JSON (partition, gpus_per_run, "
                        "cpus_per_run, mem_gb, time_min, account, qos, array_parallelism, "
                        "max_requeues, signal_delay_s, setup, folder); the options below win "
                        "over it")
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


def launcher_name(args: argparse.Namespace) -> str:
    """The launcher a command line asks for: ``--launcher``, or what ``--gpus`` / ``--nproc``
    imply for the local default."""
    name = args.launcher
    if name not in launcher_names():
        raise unknown_name("launcher", name, launcher_names())
    if name == "local" and args.gpus is not None:
        name = "gpus"
    if name == "local" and args.nproc is not None and args.nproc != 1:
        name = "torchrun"
    return name


def launcher_from_args(args: argparse.Namespace) -> Launcher:
    """The validated launcher of a ``bench run`` command line (exit 2 on a bad combination)."""
    from bench.launch.devices import parse_gpus

    name = launcher_name(args)
    cluster = {"partition": args.partition, "gpus_per_run": args.gpus_per_run,
               "cpus_per_run": args.cpus_per_run, "mem_gb": args.mem,
               "time_min": parse_time(args.time) if args.time else None,
               "account": args.account, "qos": args.qos,
               "array_parallelism": args.array_parallelism, "max_requeues": args.max_requeues}
    given = [k for k, v in cluster.items() if v is not None]
    if name not in SUBMITTING and (given or args.launcher_profile):
        raise BenchError(f"Launcher options ({', '.join(given) or '--launcher-profile'}) "
                         "need a launcher that submits jobs.",
                         "Add --launcher slurm (or submitit-local).")
    if args.jobs is not None and args.jobs < 1:
        raise BenchError(f"--jobs must be at least 1, got {args.jobs}.")
    nproc = args.nproc
    if nproc is not None and nproc < 1:
        raise BenchError(f"--nproc must be at least 1, got {nproc}.")
    if nproc not in (None, 1):
        if name in SUBMITTING:
            raise BenchError(f"--nproc launches torchrun on this machine; it does not combine "
                             f"with --launcher {name}.",
                             "Run without --nproc there (one process per run), or run "
                             "bench run --nproc on the node itself.")
        if args.gpus is not None:
            raise BenchError("--nproc and --gpus do not combine: --gpus packs whole runs onto "
                             "GPUs, --nproc spreads one run over processes (one GPU each).",
                             "Choose the GPUs with CUDA_VISIBLE_DEVICES and use --nproc alone.")
    if name == "torchrun" and args.jobs is not None and args.jobs > 1:
        n = nproc or 2
        raise BenchError(f"--nproc {n} runs one run at a time over {n} processes; it does not "
                         f"combine with --jobs {args.jobs}.", "Leave out --jobs (or give --jobs 1).")
    if name != "local" and name != "torchrun" and args.jobs is not None and args.jobs > 1:
        raise BenchError(f"--jobs {args.jobs} sets the worker processes of the local launcher; "
                         f"it does not combine with --launcher {name}.",
                         "Leave out --jobs (or give --jobs 1).")
    if args.gpus is not None and name != "gpus":
        raise BenchError(f"--gpus packs runs onto this machine's GPUs; with --launcher {name} "
                         "each run gets its own GPUs.",
                         "Use --gpus-per-run (or gpus_per_run in the launcher profile)."
                         if name in SUBMITTING else "Leave out --gpus.")
    if name == "local":
        return build_launcher("local", jobs=args.jobs)
    if name == "torchrun":
        return build_launcher("torchrun", nproc=args.nproc if args.nproc is not None else 2)
    if name == "gpus":
        if args.gpus is None:
            raise BenchError("The gpus launcher needs the GPUs to use.", "Add --gpus 0,1,….")
        return build_launcher("gpus", devices=tuple(parse_gpus(args.gpus)))
    options = launcher_options(Path(args.launcher_profile) if args.launcher_profile else None,
                               cluster)
    return build_launcher(name, resources=options, wait=args.wait)
