"""``bench run``: plan a grid, check it, then run it on the chosen launcher."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape

from bench.cli.launch_options import add_launch_options, launcher_from_args
from bench.cli.report import print_table
from bench.cli.selection import add_selection_options, request_from_args
from bench.errors import interrupted_exit_code, interrupted_word
from bench.grid.plan import PlannedRun
from bench.grid.request import build_grid
from bench.launch.base import LaunchContext


def cmd_run(args: argparse.Namespace) -> int:
    console = Console(stderr=True, emoji=False)
    launcher = launcher_from_args(args)
    grid = build_grid(request_from_args(args), train=True, sink=_ConsoleSink(console))
    for note in grid.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    launcher.check(grid.runs)
    if grid.checked is not None:
        console.print(f"Data check of {grid.layout.root}: {grid.checked.summary()}",
                      highlight=False, soft_wrap=True)
    dataset, results = grid.selection.dataset.name, grid.selection.request.results
    described = launcher.describe()
    console.print(f"[bold]{dataset}[/]: {len(grid.runs)} runs ({len(grid.runs) - grid.todo} "
                  f"already finished), profile {grid.profile}, results in {results}"
                  + (f", {described}" if described else ""))
    if args.dry_run:
        for r in grid.runs:
            console.print(f"  {'done' if r.finished else 'todo'}  {r.spec.label()}  "
                          f"{r.directory}{_todo_note(r)}", highlight=False, soft_wrap=True)
        return 0
    try:
        counts = launcher.launch(grid.runs, LaunchContext(results, console, dataset))
    except KeyboardInterrupt as exc:
        console.print(f"[yellow]{interrupted_word(exc)}.[/] "
                      "Finished runs are kept; run the same command again to resume the others "
                      "from their last checkpoint.")
        return interrupted_exit_code(exc)
    if counts is None:  # submitted, not waited for
        return 0
    console.print("Runs: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    if not args.no_table:
        print_table(dataset, results, methods=grid.selection.rows,
                    regimes=sorted({s.regime for s in grid.specs}), profile=grid.profile)
    return 1 if counts.get("failed") else 0


def _todo_note(run: PlannedRun) -> str:
    """Why an unfinished run of ``--dry-run`` is special: held elsewhere, failed, unreadable."""
    from bench.records.locks import holder, is_locked
    from bench.records.record import RecordError
    from bench.records.store import read_record

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
    """A progress sink that only prints messages (data generation before the display)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def message(self, text: str) -> None:
        self.console.print(text)


def add_run_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="train and evaluate a grid of runs, then print the table")
    add_selection_options(p)
    p.add_argument("--dry-run", action="store_true", help="list the runs, train nothing")
    p.add_argument("--no-table", action="store_true", help="do not print the table at the end")
    p.add_argument("--track", metavar="T[,T…]",
                   help="send every run to these experiment trackers: tensorboard, mlflow, wandb "
                        "(or any mmengine vis backend: aim, clearml, dvclive, neptune); default: "
                        "the profile's log.track. Not part of a run's identity")
    add_launch_options(p)
    p.set_defaults(func=cmd_run)
