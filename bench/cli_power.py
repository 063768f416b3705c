"""``bench power``: run the controls and the methods over seeds, then test what separates.

The grid is SL with full labels and with each partial regime (the positive control), every
chosen method on each regime and its negative control (``MethodInfo.control_of``), over ≥ 5
seeds by default. Runs already finished are reused. The statistics come from the records
(:mod:`bench.report.power`); the command prints them with its own wall time.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.cliargs import add_folder_options, data_root, results_root, split_list, table_console
from bench.errors import BenchError
from bench.report.aggregate import select_runs
from bench.report.frame import load_records
from bench.report.power import PowerResult, analyse, verdicts

DEFAULT_SEEDS = "0,1,2,3,4"


def power_specs(args: argparse.Namespace) -> tuple[list, list[str], list[str], str]:
    """The RunSpecs of the study, its regimes, its methods and the profile id."""
    from bench.grid import expand_grid, parse_seeds
    from bench.profiles import parse_overrides
    from bench.regimes import parse_regime
    from bench.registry import expand_methods, get_dataset, method_info, method_names
    from bench.report.power import control_row
    from bench.rows import cross_weightings, parse_weightings

    ds = get_dataset(args.dataset)
    methods = [m for m in expand_methods(args.methods) if m not in ("sl", "stl")]
    weightings = parse_weightings(args.weighting)
    if weightings:  # every method with each weighting, and SL with each weighting but equal
        crossed = cross_weightings(methods, weightings)[0] if methods else []
        methods = crossed + [r for r in cross_weightings(["sl"], weightings)[0] if r != "sl"]
    controls = {method_info(n).control_of: n for n in method_names() if method_info(n).control_of}
    regimes = [parse_regime(r).name for r in split_list(args.regimes) or ds.default_regimes[:1]]
    seeds = parse_seeds(args.seeds)
    if len(seeds) < 2:
        raise BenchError("A power study needs at least two seeds (five by default).")
    overrides = tuple(parse_overrides(args.set or []))
    run = [*methods, *(c for m in methods if (c := control_row(m, controls)) is not None)]
    specs = expand_grid(["sl"], ds.name, ["full", *regimes], seeds, args.profile, overrides)
    specs += expand_grid(run, ds.name, regimes, seeds, args.profile, overrides) if run else []
    return specs, regimes, methods, specs[0].profile


def cmd_power(args: argparse.Namespace) -> int:
    from bench.engine.progress import RichGridProgress
    from bench.grid import execute, plan, prepare_dataset, resolve_jobs

    t0 = time.perf_counter()
    console = Console(stderr=True, emoji=False)
    specs, regimes, methods, profile = power_specs(args)
    results = results_root(args)
    if not args.no_run:
        layout = prepare_dataset(args.dataset, data_root(args))
        runs = plan(specs, layout, results)
        todo = sum(not r.finished for r in runs)
        console.print(f"[bold]power study[/] on {args.dataset}: {len(runs)} runs "
                      f"({len(runs) - todo} already finished), profile {profile}")
        try:
            with RichGridProgress(len(runs), console=console, title="power") as progress:
                counts = execute(runs, jobs=resolve_jobs(args.jobs), progress=progress)
        except KeyboardInterrupt:
            console.print("[yellow]Interrupted.[/] Finished runs are kept; run the same command "
                          "again to resume.")
            return 130
        if counts.get("failed"):
            console.print(f"[red]{counts['failed']} runs failed[/]; the study uses the others.")
    records = load_records(results, args.dataset)
    if not records.records:
        raise BenchError(f"No records of {args.dataset} under {results}.")
    selected, notes = select_runs(records.frame, profile=profile)
    result = analyse(records, selected, regimes, methods)
    result.notes += notes
    wall = time.perf_counter() - t0
    out = table_console()
    render(result, out, f"Power study: {args.dataset}, profile {profile}, seeds {args.seeds}")
    out.print(f"Wall time of this command: {wall:.0f} s ({wall / 60:.1f} min).", highlight=False)
    if args.out:
        Path(args.out).write_text(markdown(result, wall))
        console.print(f"Wrote {args.out}", highlight=False)
    return 0


def cell(result: PowerResult, comparison, column: str) -> Text:  # noqa: ANN001
    e = result.effect(comparison, column)
    if e is None or not math.isfinite(e.delta):
        return Text("—", style="dim")
    style = ("green" if e.delta > 0 else "red") if e.significant else ""
    ci = f" [{e.low:+.3g}, {e.high:+.3g}]" if math.isfinite(e.low) else ""
    p = f" p={e.p:.2g}" if math.isfinite(e.p) else ""
    return Text(f"{e.delta:+.3g}{ci}{p}", style=style)


def render(result: PowerResult, console: Console, title: str) -> None:
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("Comparison (a vs b)")
    table.add_column("n")
    for _, head in result.columns:
        table.add_column(head, justify="right")
    previous = None
    for comp in result.comparisons:
        if previous is not None and comp.kind != previous:
            table.add_section()
        previous = comp.kind
        first = result.effect(comp, result.columns[0][0])
        n = f"{first.n_a}/{first.n_b}" if first else "—"
        table.add_row(f"{comp.kind}: {comp.a} vs {comp.b}", n,
                      *[cell(result, comp, c) for c, _ in result.columns])
    console.print(table)
    console.print("Cells: δ = a − b, signed so that δ > 0 means a is better, with the 95 % "
                  "confidence interval of the difference of means and the p-value of Welch's "
                  "t-test over seeds; green/red: p < 0.05. Δm of every run against the mean of "
                  "SL with full labels.", highlight=False)
    for line in verdicts(result):
        console.print(line, highlight=False)
    for note in result.notes:
        console.print(f"Note: {note}", highlight=False)


def markdown(result: PowerResult, wall: float) -> str:
    head = ["comparison (a vs b)", "n", *[h for _, h in result.columns]]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join([":--", "--:"] + ["--:"] * len(
        result.columns)) + " |"]
    for comp in result.comparisons:
        first = result.effect(comp, result.columns[0][0])
        cells = [f"{comp.kind}: {comp.a} vs {comp.b}", f"{first.n_a}/{first.n_b}" if first else "—"]
        for c, _ in result.columns:
            e = result.effect(comp, c)
            if e is None or not math.isfinite(e.delta):
                cells.append("—")
                continue
            text = f"{e.delta:+.3g} [{e.low:+.3g}, {e.high:+.3g}] p={e.p:.2g}"
            cells.append(f"**{text}**" if e.significant else text)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- {line}" for line in verdicts(result)]
    lines.append(f"- Wall time: {wall:.0f} s.")
    return "\n".join(lines) + "\n"


def add_power_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("power", help="controls and methods over seeds: what the benchmark "
                                     "separates (effects, CIs, Welch p)")
    p.add_argument("--dataset", default="synthetic-nyuv2")
    p.add_argument("--methods", default="power",
                   help="methods to test against their controls and SL (default: the set "
                        "'power': the paper's partial-label methods)")
    p.add_argument("--weighting", metavar="W[,W…]",
                   help="task weightings crossed with the methods (each against its control "
                        "under the same weighting, and against SL with equal weights); SL "
                        "with each weighting is also compared with SL")
    p.add_argument("--regimes", help="partial-label regimes (default: the dataset's first)")
    p.add_argument("--seeds", default=DEFAULT_SEEDS, help=f"default {DEFAULT_SEEDS}")
    p.add_argument("--profile", help="profile name or .json (default: the dataset's)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--no-run", action="store_true", help="only analyse the records there are")
    p.add_argument("--out", help="also write the result as Markdown")
    add_folder_options(p)
    p.set_defaults(func=cmd_power)
