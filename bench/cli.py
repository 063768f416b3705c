"""Command line: ``bench list | run | table | perf | data`` (+ the report commands).

Every user error ends with a short message on stderr and exit status 2 (no traceback);
``bench run`` exits 1 if a run failed and 130 when interrupted (re-run it to resume).
"""

from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console
from rich.markup import escape

from bench.cli_launch import (
    add_launch_options,
    add_nproc_option,
    check_nproc_runs,
    launch_settings,
    nproc_setting,
    run_on_gpus,
    submit_grid,
)
from bench.cli_perf import add_perf_command
from bench.cli_power import add_power_command
from bench.cli_report import add_report_commands, print_table
from bench.cli_status import add_status_command
from bench.cli_tune import add_tune_command
from bench.cliargs import add_folder_options, data_root, results_root, split_list
from bench.errors import BenchError
from bench.grid import PlannedRun, resolve_jobs


# ---------------------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    from bench.profiles import find_profile, profile_names
    from bench.regimes import REGIME_KINDS
    from bench.registry import (
        dataset_names,
        describe_dataset,
        get_dataset,
        method_info,
        method_names,
        method_sets,
    )

    console = Console(soft_wrap=True, highlight=False, emoji=False)

    def section(title: str, rows: list[tuple[str, str]]) -> None:
        console.print(f"[bold]{title}[/]")
        width = max(len(name) for name, _ in rows)
        for name, text in rows:
            console.print(f"  [cyan]{escape(name.ljust(width))}[/]  {escape(text)}")
        console.print()

    section("Methods", [(n, method_info(n).summary + ("" if method_info(n).in_all else
                                                      " [not in --methods all]"))
                        for n in method_names()])
    section("Method sets", [(name, ", ".join(members))
                            for name, members in method_sets().items()])
    from bench.weightings import weighting_info, weighting_names

    section("Weightings (--weighting)", [(n, weighting_info(n).summary)
                                         for n in weighting_names()])
    datasets = []
    for name in dataset_names():
        ds = get_dataset(name)
        datasets.append((name, f"{describe_dataset(name)}; default regimes "
                               f"{', '.join(ds.default_regimes)}; profile {ds.default_profile}"))
    section("Datasets", datasets)
    section("Regimes", list(REGIME_KINDS.items()))
    section("Profiles", [(n, find_profile(n).description) for n in profile_names()])
    return 0


# ---------------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from bench.engine.progress import RichGridProgress
    from bench.grid import execute, expand_grid, parse_seeds, plan, prepare_dataset
    from bench.preflight import verify_plan
    from bench.profiles import parse_overrides
    from bench.registry import expand_methods, get_dataset
    from bench.rows import cross_weightings, parse_weightings

    console = Console(stderr=True, emoji=False)
    launch = launch_settings(args)
    nproc = nproc_setting(args, launch)
    ds = get_dataset(args.dataset)
    methods, skipped = cross_weightings(expand_methods(args.methods),
                                        parse_weightings(args.weighting))
    for note in skipped:
        console.print(f"[yellow]note:[/] {escape(note)}")
    seeds = parse_seeds(args.seeds) if args.seeds else None
    overrides = tuple(parse_overrides(args.set or []))
    specs = expand_grid(methods, ds.name, split_list(args.regimes), seeds, args.profile, overrides)
    for regime in {s.regime for s in specs}:
        from bench.regimes import parse_regime

        parse_regime(regime)
    layout = prepare_dataset(ds.name, data_root(args), _ConsoleSink(console))
    runs = plan(specs, layout, results_root(args))
    check_nproc_runs(runs, nproc)
    checked = verify_plan(runs, layout, results_root(args))
    if checked is not None:
        console.print(f"Data check of {layout.root}: {checked.summary()}", highlight=False,
                      soft_wrap=True)
    todo = sum(not r.finished for r in runs)
    console.print(f"[bold]{ds.name}[/]: {len(runs)} runs ({len(runs) - todo} already finished), "
                  f"profile {specs[0].profile if specs else '-'}, results in {results_root(args)}"
                  + (f", {nproc} processes per run (torchrun)" if nproc > 1 else ""))
    if args.dry_run:
        for r in runs:
            console.print(f"  {'done' if r.finished else 'todo'}  {r.spec.label()}  "
                          f"{r.directory}{_todo_note(r)}", highlight=False, soft_wrap=True)
        return 0
    try:
        if launch.launcher != "local":
            counts = submit_grid(runs, launch, results_root(args), console, ds.name)
            if counts is None:
                return 0
        elif launch.gpus is not None:
            counts = run_on_gpus(runs, launch.gpus, results_root(args), console, ds.name)
        else:
            jobs = 1 if nproc > 1 else resolve_jobs(args.jobs)
            with RichGridProgress(len(runs), console=console, title=ds.name) as progress:
                counts = execute(runs, jobs=jobs, progress=progress, nproc=nproc)
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted.[/] Finished runs are kept; run the same command "
                      "again to resume the others from their last checkpoint.")
        return 130
    console.print("Runs: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    if not args.no_table:
        print_table(ds.name, results_root(args), methods=methods,
                    regimes=sorted({s.regime for s in specs}),
                    profile=specs[0].profile if specs else None)
    return 1 if counts.get("failed") else 0


def _todo_note(run: PlannedRun) -> str:
    """Why an unfinished run of ``--dry-run`` is special: held elsewhere, failed, unreadable."""
    from bench.locks import holder, is_locked
    from bench.record import RecordError
    from bench.store import read_record

    if run.finished:
        return ""
    if is_locked(run.directory):
        return f"  (being trained by {holder(run.directory)})"
    try:
        record = read_record(run.directory)
    except RecordError as exc:
        return (f"  (its record cannot be read: {exc.message} It will be kept as "
                "record.unreadable-N.json and the run done again.)")
    if record is not None and record.status == "failed":
        return "  (failed before; it resumes from its last checkpoint)"
    return ""


class _ConsoleSink:
    def __init__(self, console: Console) -> None:
        self.console = console

    def message(self, text: str) -> None:
        self.console.print(text)


def cmd_data(args: argparse.Namespace) -> int:
    from bench.registry import get_dataset

    console = Console(emoji=False)
    ds = get_dataset(args.dataset)
    root = ds.default_root(data_root(args))
    if args.action == "synth":
        if not hasattr(ds, "prepare") or not hasattr(ds, "is_current"):
            raise BenchError(f"'{ds.name}' is not a synthetic dataset; nothing to generate.",
                             "Synthetic sets: synthetic-nyuv2, synthetic-cityscapes, synthetic-pascal.")
        import time

        t0 = time.perf_counter()
        made = ds.prepare(root, force=args.force, workers=min(4, os.cpu_count() or 1))
        verb = "Generated" if made else "Up to date:"
        console.print(f"{verb} {ds.name} at {root} ({time.perf_counter() - t0:.1f} s)")
    info = ds.check_layout(root)
    console.print(f"{ds.name} at {root}: layout OK — train {info.sizes['train']}, "
                  f"val {info.sizes['val']} images of {info.height}×{info.width}")
    if args.action == "check":
        from bench.data.check import cache_path, require_valid

        result = require_valid(ds, root, (info.height, info.width), info.sizes,
                               None if args.no_cache else cache_path(results_root(args), ds, root),
                               "fix them before training on this dataset")
        console.print(f"Every file is valid: {result.summary()}", highlight=False, soft_wrap=True)
    return 0


# ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench", description="Benchmark harness for multi-task dense prediction from "
                                  "partially annotated data (MTPSL, CVPR 2022).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="registered methods, datasets, regimes and profiles")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="train and evaluate a grid of runs, then print the table")
    p.add_argument("--methods", default="all",
                   help="'all', a method set or a comma list (default: all; see bench list)")
    p.add_argument("--dataset", default="synthetic-nyuv2", help="default: synthetic-nyuv2")
    p.add_argument("--regimes", help="comma list (default: the dataset's paper regimes; "
                                     "full for SL and STL)")
    p.add_argument("--seeds", help="comma list of integers (default: the dataset's)")
    p.add_argument("--weighting", metavar="W[,W…]",
                   help="task weightings crossed with every method (default: equal; 'all'; "
                        "see bench list). A method may also name its own: --methods sl+dwa")
    p.add_argument("--profile", help="profile name or path to a .json (default: the dataset's)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a profile value, e.g. --set train.epochs=3 (repeatable)")
    p.add_argument("--jobs", type=int, default=None,
                   help="runs in parallel worker processes (default: 1 with a GPU; on CPU one per "
                        "core, at most 8; a run on the CPU always uses one thread, so results do "
                        "not depend on --jobs)")
    add_nproc_option(p)
    p.add_argument("--dry-run", action="store_true", help="list the runs, train nothing")
    p.add_argument("--no-table", action="store_true", help="do not print the table at the end")
    add_folder_options(p)
    add_launch_options(p)
    p.set_defaults(func=cmd_run)

    add_status_command(sub)
    add_report_commands(sub)
    add_power_command(sub)
    add_tune_command(sub)

    add_perf_command(sub)

    p = sub.add_parser("data", help="generate synthetic data / validate a dataset's layout")
    p.add_argument("action", choices=("synth", "check"))
    p.add_argument("--dataset", default="synthetic-nyuv2")
    p.add_argument("--force", action="store_true", help="regenerate even if up to date")
    p.add_argument("--no-cache", action="store_true",
                   help="check: read every file, ignoring the cache of earlier checks")
    add_folder_options(p)
    p.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BenchError as exc:
        err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
        err.print(f"[bold red]error:[/] {escape(exc.message)}", markup=True)
        if exc.hint:
            err.print(exc.hint, markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


