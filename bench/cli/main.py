"""Command line: ``bench list | run | status | table | report | check | power | tune | perf | data``.

Every user error ends with a short message on stderr and exit status 2 (no traceback);
``bench run`` exits 1 if a run failed and 130 when interrupted (re-run it to resume).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from rich.console import Console
from rich.markup import escape

from bench.cli.args import add_folder_options
from bench.cli.data import cmd_data
from bench.cli.listing import cmd_list
from bench.cli.perf import add_perf_command
from bench.cli.power import add_power_command
from bench.cli.probe import add_probe_command
from bench.cli.report import add_report_commands
from bench.cli.run import add_run_command
from bench.cli.status import add_status_command
from bench.cli.tune import add_tune_command
from bench.errors import BenchError, Terminated, interrupted_exit_code, quiet_library_warnings


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
    add_probe_command(sub)
    add_tune_command(sub)

    add_perf_command(sub)

    p = sub.add_parser("data", help="generate synthetic data / validate a dataset's layout")
    p.add_argument("action", choices=("synth", "check"))
    p.add_argument("--dataset", default="synthetic-nyuv2")
    p.add_argument("--force", action="store_true", help="regenerate even if up to date")
    p.add_argument("--profile", help="a synthetic set is rendered at this profile's data.size "
                                     "(default: its own size)")
    p.add_argument("--no-cache", action="store_true",
                   help="check: read every file, ignoring the cache of earlier checks")
    add_folder_options(p)
    p.set_defaults(func=cmd_data)
    return parser


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of ``parser`` and of its subcommands."""
    found: set[str] = set()
    for action in parser._actions:  # noqa: SLF001 - argparse offers no public walk
        found |= set(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in action.choices.values():
                found |= option_strings(sub)
    return found


def join_dash_values(argv: list[str], options: set[str]) -> list[str]:
    """``--tolerance -5%`` → ``--tolerance=-5%``: a value after an option that starts with a
    dash (and is no option) belongs to it; argparse would take it for an unknown option and
    say "expected one argument" instead of what is wrong with the value."""
    out: list[str] = []
    for token in argv:
        previous = out[-1] if out else ""
        if (token.startswith("-") and token not in options and token not in ("-", "--")
                and previous in options and previous.startswith("--") and "=" not in previous):
            out[-1] = f"{previous}={token}"
        else:
            out.append(token)
    return out


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(join_dash_values(argv, option_strings(parser)))
    quiet_library_warnings()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)  # as Ctrl-C: kept, resumable, exit 143
    try:
        return int(args.func(args) or 0)
    except BenchError as exc:
        err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
        err.print(f"[bold red]error:[/] {escape(exc.message)}", markup=True)
        if exc.hint:
            err.print(exc.hint, markup=False)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print("Terminated." if isinstance(exc, Terminated) else "Interrupted.", file=sys.stderr)
        return interrupted_exit_code(exc)
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
