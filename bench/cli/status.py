"""``bench status``: the state of every run of a grid, as a table plus counts.

It takes the selection flags of ``bench run`` (:mod:`bench.cli.selection`) and reads the run
folders, their locks and, for submitted runs, the scheduler (:mod:`bench.launch.status`). It
trains and submits nothing, never generates data and does not need it: without the data, the
runs are planned on the layout the results folder already knows.
"""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from bench.cli.args import table_console
from bench.cli.selection import add_selection_options, request_from_args
from bench.errors import BenchError
from bench.grid.request import build_grid, parse_list
from bench.launch.status import (
    COLLAPSED,
    DIVERGED,
    FAILED,
    FINISHED,
    PENDING,
    RUNNING,
    STATES,
    count_states,
    grid_states,
    unplanned,
)

_STYLE = {FINISHED: "green", DIVERGED: "magenta", COLLAPSED: "magenta", FAILED: "red",
          RUNNING: "cyan", PENDING: "yellow"}


def cmd_status(args: argparse.Namespace) -> int:
    wanted = set(parse_list(args.state, "--state", "running,failed") or STATES)
    unknown = sorted(wanted - set(STATES))
    if unknown:
        raise BenchError(f"Unknown state '{unknown[0]}' in --state.",
                         f"States: {', '.join(STATES)}.")
    grid = build_grid(request_from_args(args), train=False)
    dataset, results = grid.selection.dataset.name, grid.selection.request.results
    every = grid_states(grid.runs)
    if grid.layout is None:  # no data here and nothing planned into these results yet
        every = [unplanned(spec) for spec in grid.specs]
    states = [s for s in every if s.state in wanted]
    table = Table(title=f"{dataset}: {len(every)} runs in {results}", title_justify="left",
                  header_style="bold")
    for col in ("method", "regime", "seed", "state", "job", "detail", "log"):
        table.add_column(col, overflow="fold")
    for s in states:
        spec = s.spec
        style = _STYLE.get(s.state, "")
        table.add_row(spec.row, spec.regime, str(spec.seed), f"[{style}]{s.state}[/]",
                      escape(s.job), escape(s.detail), escape(s.log if args.logs or s.state in (
                          FAILED, RUNNING) else ""))
    console = table_console()
    console.print(table)
    counts = count_states(every)
    console.print("  ".join(f"[{_STYLE[k]}]{k}[/] {v}" for k, v in counts.items()),
                  highlight=False)
    if grid.layout is None:
        where = grid.selection.dataset.default_root(grid.selection.request.data_root,
                                                    grid.selection.data_size)
        console.print(f"No data at {where} and no run of {dataset} planned in {results} yet: "
                      "every run is pending.", highlight=False, markup=False)
    return 0


def add_status_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="state of each run of a grid: pending, running, finished, "
                                      "failed, diverged, collapsed (from records, locks and the "
                                      "scheduler; no data needed)")
    add_selection_options(p)
    p.add_argument("--state", help="show only runs in these states (comma list)")
    p.add_argument("--logs", action="store_true",
                   help="show every run's log path (default: failed and running runs)")
    p.set_defaults(func=cmd_status)
