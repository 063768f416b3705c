"""Command line: ``bench list | run | status | table | report | check | power | tune | perf | data``.

Every user error ends with a short message on stderr and exit status 2 (no traceback);
``bench run`` exits 1 if a run failed and 130 when interrupted (re-run it to resume).
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.markup import escape

from bench.cli.args import add_folder_options
from bench.cli.data import cmd_data
from bench.cli.listing import cmd_list
from bench.cli.perf import add_perf_command
from bench.cli.power import add_power_command
from bench.cli.report import add_report_commands
from bench.cli.run import add_run_command
from bench.cli.status import add_status_command
from bench.cli.tune import add_tune_command
from bench.errors import BenchError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench", description="Benchmark harness for multi-task dense prediction from "
                                  "partially annotated data (MTPSL, CVPR 2022).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="registered methods, datasets, regimes and profiles")
    p.set_defaults(func=cmd_list)

    add_run_command(sub)
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
