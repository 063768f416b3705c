"""``bench status``: the state of every run of a grid, as a table plus counts.

It takes the arguments of ``bench run`` that choose the grid (``--methods``, ``--dataset``,
``--regimes``, ``--seeds``, ``--profile``, ``--set``) and reads the run folders, their locks
and, for submitted runs, the scheduler (:mod:`bench.status`). It trains and submits nothing, and
never generates data.
"""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from bench.cliargs import add_folder_options, data_root, results_root, split_list, table_console
from bench.errors import BenchError
from bench.status import (
    DIVERGED,
    FAILED,
    FINISHED,
    PENDING,
    RUNNING,
    STATES,
    count_states,
    grid_states,
)

_STYLE = {FINISHED: "green", DIVERGED: "magenta", FAILED: "red", RUNNING: "cyan",
          PENDING: "yellow"}


def cmd_status(args: argparse.Namespace) -> int:
    from bench.grid import expand_grid, parse_seeds, plan
    from bench.profiles import parse_overrides
    from bench.registry import expand_methods, get_dataset

    ds = get_dataset(args.dataset)
    methods = expand_methods(args.methods)
    seeds = parse_seeds(args.seeds) if args.seeds else None
    overrides = tuple(parse_overrides(args.set or []))
    specs = expand_grid(methods, ds.name, split_list(args.regimes), seeds, args.profile,
                        overrides)
    layout = ds.check_layout(ds.default_root(data_root(args)))
    runs = plan(specs, layout, results_root(args))
    wanted = set(split_list(args.state) or STATES)
    unknown = sorted(wanted - set(STATES))
    if unknown:
        raise BenchError(f"Unknown state '{unknown[0]}' in --state.",
                         f"States: {', '.join(STATES)}.")
    every = grid_states(runs)
    states = [s for s in every if s.state in wanted]
    table = Table(title=f"{ds.name}: {len(runs)} runs in {results_root(args)}",
                  title_justify="left", header_style="bold")
    for col in ("method", "regime", "seed", "state", "job", "detail", "log"):
        table.add_column(col, overflow="fold")
    for s in states:
        spec = s.run.spec
        style = _STYLE.get(s.state, "")
        table.add_row(spec.method, spec.regime, str(spec.seed), f"[{style}]{s.state}[/]",
                      escape(s.job), escape(s.detail), escape(s.log if args.logs or s.state in (
                          FAILED, RUNNING) else ""))
    console = table_console()
    console.print(table)
    counts = count_states(every)
    console.print("  ".join(f"[{_STYLE[k]}]{k}[/] {v}" for k, v in counts.items()),
                  highlight=False)
    return 0


def add_status_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="state of each run of a grid: pending, running, finished, "
                                      "failed, diverged")
    p.add_argument("--methods", default="all", help="as bench run (default: all)")
    p.add_argument("--dataset", default="synthetic-nyuv2")
    p.add_argument("--regimes", help="as bench run")
    p.add_argument("--seeds", help="as bench run")
    p.add_argument("--profile", help="as bench run")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="as bench run")
    p.add_argument("--state", help="show only runs in these states (comma list)")
    p.add_argument("--logs", action="store_true",
                   help="show every run's log path (default: failed and running runs)")
    add_folder_options(p)
    p.set_defaults(func=cmd_status)
