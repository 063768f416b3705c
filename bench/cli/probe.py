"""``bench probe``: the collapse probe of the cross-task runs, without any of their metrics.

Per (regime, method) over seeds, from the records alone (:mod:`bench.report.probe`): does each
method's mapping still tell its inputs apart at the end of training? It reads no accuracy, so a
protocol can be checked for collapsed mappings before any cross-task method's results are seen.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.cli.args import table_console
from bench.cli.report import table_request, warn_unreadable
from bench.cli.selection import add_selection_options
from bench.errors import BenchError
from bench.report.formats import write_text
from bench.report.probe import PROBED, ProbeRow, probe_rows, probe_runs, verdict


def cmd_probe(args: argparse.Namespace) -> int:
    from bench.report.frame import load_records
    from bench.report.query import check_dataset, resolve_profile, restrict

    request = table_request(args)
    if args.out and Path(args.out).is_dir():
        raise BenchError(f"--out {args.out} is a folder.", "Give a file name, e.g. --out probe.md.")
    records = load_records(request.results, request.dataset)
    check_dataset(request.dataset, records, request.results)
    warn_unreadable(records.problems)
    profile = resolve_profile(request, records, PROBED)
    runs = probe_runs(records, restrict(records.frame, request), profile=profile,
                      methods=request.methods, regimes=request.regimes)
    if not runs:
        raise BenchError(f"No finished cross-task run of {request.dataset}"
                         + (f" (profile {profile})" if profile else "")
                         + " logged a collapse probe.",
                         "The probe is logged by the cross-task methods (xtc, its ablations and "
                         "controls, direct_map, perceptual_map, contrastive, discriminator); run "
                         "one first, or select the runs there are (--profile, --methods).")
    rows = probe_rows(runs, records.names.order())
    render(rows, table_console(), f"Collapse probe: {request.dataset}"
           + (f", profile {profile}" if profile else ""))
    if args.out:
        write_text(markdown(rows), Path(args.out))
        Console(stderr=True, emoji=False).print(f"Wrote {args.out}", highlight=False)
    return 0


def _num(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "—"


def cells(row: ProbeRow) -> list[str]:
    return [row.regime, row.method, str(len(row.seeds)), str(row.epoch), _num(row.own),
            _num(row.rolled),
            f"{_num(row.advantage)} [{_num(row.advantage_low)} … {_num(row.advantage_high)}]",
            _num(row.first_advantage),
            f"{_num(row.retrieval)} / {_num(row.chance)}",
            f"{row.within_noise}/{len(row.seeds)}"]


HEADERS = ["Regime", "Method", "n", "epoch", "own", "rolled", "advantage [min … max]",
           "advantage, epoch 1", "retrieval / chance", "within noise"]
LEGEND = ("own: mean distance of each row's own pair in the last epoch; rolled: of its pairs "
          "with other images; advantage = rolled − own (0: the mapping's output no longer "
          "depends on its input), mean over seeds [their range], and in the first epoch; "
          "retrieval: how often a row's own target is its nearest, against chance; within "
          "noise: seeds whose last-epoch advantage is not above 2 standard errors over its "
          "steps (a method's run is then recorded as collapsed; a negative control's never).")


def render(rows: list[ProbeRow], console: Console, title: str) -> None:
    table = Table(title=title, title_justify="left", header_style="bold")
    for i, head in enumerate(HEADERS):
        table.add_column(Text(head), justify="left" if i < 2 else "right")
    for row in rows:
        table.add_row(*[Text(c) for c in cells(row)],
                      style="red" if row.within_noise and not row.control else "")
    console.print(table)
    console.print(LEGEND, highlight=False, markup=False)
    for row in rows:
        console.print(verdict(row), highlight=False, markup=False)


def markdown(rows: list[ProbeRow]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |",
             "| " + " | ".join([":--", ":--"] + ["--:"] * (len(HEADERS) - 2)) + " |"]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    lines += ["", LEGEND, ""] + [f"- {verdict(r)}" for r in rows]
    return "\n".join(lines) + "\n"


def add_probe_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="the collapse probe of the cross-task runs (no metrics "
                                     "shown): does each mapping still depend on its input?")
    add_selection_options(p, methods_help="methods or rows to show (default: every cross-task "
                                          "run with a probe)")
    p.add_argument("--out", help="also write the table as Markdown")
    p.set_defaults(func=cmd_probe, baseline=None, interval="std", default_methods=None)
