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

from bench.cli.args import table_console
from bench.cli.probe import markdown as probe_markdown
from bench.cli.probe import render as render_probe
from bench.cli.selection import add_selection_options, request_from_args
from bench.errors import BenchError, interrupted_exit_code, interrupted_word
from bench.grid.request import build_grid, select
from bench.launch.base import LaunchContext
from bench.records.store import check_results_folder
from bench.report.aggregate import select_runs
from bench.report.formats import write_text
from bench.report.frame import load_records
from bench.report.power import MARGIN_FRACTION, Comparison, Effect, PowerResult, analyse, verdicts
from bench.report.probe import probe_rows, probe_runs
from bench.report.stats import TESTS
from bench.studies.power import DEFAULT_SEEDS, power_specs, study_methods, study_regimes


def cmd_power(args: argparse.Namespace) -> int:
    from bench.launch.local import LocalLauncher

    t0 = time.perf_counter()
    console = Console(stderr=True, emoji=False)
    request = request_from_args(args)
    results = request.results
    if args.out and Path(args.out).is_dir():
        raise BenchError(f"--out {args.out} is a folder.", "Give a file name, e.g. --out power.md.")
    if args.no_run:
        check_results_folder(results, write=False)
        selection = select(request)
        specs = power_specs(selection)
    else:
        launcher = LocalLauncher(jobs=args.jobs)
        grid = build_grid(request, train=True, specs=power_specs)
        selection, specs = grid.selection, grid.specs
        console.print(f"[bold]power study[/] on {args.dataset}: {len(grid.runs)} runs "
                      f"({len(grid.runs) - grid.todo} already finished), profile {grid.profile}")
        try:
            counts = launcher.launch(grid.runs, LaunchContext(results, console, "power"))
        except KeyboardInterrupt as exc:
            console.print(f"[yellow]{interrupted_word(exc)}.[/] "
                          "Finished runs are kept; run the same command again to resume.")
            return interrupted_exit_code(exc)
        if counts.get("failed"):
            console.print(f"[red]{counts['failed']} runs failed[/]; the study uses the others.")
    profile = specs[0].profile
    regimes, methods = study_regimes(selection), study_methods(selection)
    records = load_records(results, args.dataset)
    if not records.records:
        raise BenchError(f"No records of {args.dataset} under {results}.")
    frame = records.frame[records.frame["seed"].isin(selection.seeds)]
    selected, notes = select_runs(frame, profile=profile)
    result = analyse(records, selected, regimes, methods, args.test, args.equivalence_margin)
    result.notes = [*selection.notes, *result.notes, *notes]
    studied = sorted({c.a.method for c in result.comparisons} | {c.b.method for c in
                                                                 result.comparisons})
    probes = probe_rows(probe_runs(records, frame, profile=profile, methods=studied,
                                   regimes=regimes), records.names.order())
    wall = time.perf_counter() - t0
    out = table_console()
    render(result, out, f"Power study: {args.dataset}, profile {profile}, seeds "
                        f"{','.join(map(str, selection.seeds))}")
    if probes:
        render_probe(probes, out, "Collapse probe of the study's cross-task runs")
    out.print(f"Wall time of this command: {wall:.0f} s ({wall / 60:.1f} min).", highlight=False)
    if args.out:
        text = markdown(result, wall)
        if probes:
            text += "\nCollapse probe of the study's cross-task runs:\n\n" + probe_markdown(probes)
        write_text(text, Path(args.out))
        console.print(f"Wrote {args.out}", highlight=False)
    if not result.effects:
        out.print("Nothing was compared: no comparison of the study has runs on both sides "
                  f"(profile {profile}, regimes {', '.join(regimes)}, seeds "
                  f"{','.join(map(str, selection.seeds))}). Run the study without --no-run, or "
                  "select the runs there are (--profile, --regimes, --methods); "
                  "--allow-missing lets a study that compares nothing pass.", highlight=False)
        return 0 if args.allow_missing else 1
    return 0


def cell(result: PowerResult, comparison: Comparison, column: str) -> Text:
    e = result.effect(comparison, column)
    if e is None or not math.isfinite(e.delta):
        return Text("—", style="dim")
    style = ("green" if e.delta > 0 else "red") if e.significant else ""
    return Text(effect_text(e), style=style)


def effect_text(e: Effect) -> str:
    """``δ [low, high] p=…`` (the Holm-adjusted p), and for a difference that is not
    significant the smallest detectable one (``mde``) and the TOST verdict (``≡`` equivalent
    within the margin)."""
    ci = f" [{e.low:+.3g}, {e.high:+.3g}]" if math.isfinite(e.low) else ""
    p = f" p={e.p_holm:.2g}" if math.isfinite(e.p_holm) else ""
    text = f"{e.delta:+.3g}{ci}{p}"
    if not e.significant and math.isfinite(e.detectable):
        text += f" mde {e.detectable:.2g}"
        if math.isfinite(e.equivalence_p):
            text += f" {'≡' if e.equivalent else '≢?'} ±{e.margin:.2g} p={e.equivalence_p:.2g}"
    return text


def legend(result: PowerResult) -> str:
    test = ("a paired t-test over the seeds both sides ran (a seed fixes the label mask and "
            "the initialisation)" if result.test == "paired" else "Welch's t-test over seeds")
    return (f"Cells: δ = a − b, signed so that δ > 0 means a is better, its 95 % confidence "
            f"interval and p-value from {test}, p Holm-adjusted over the study's "
            f"{result.tests} tests; green/red: p < 0.05. Where not significant: mde, the "
            f"smallest |δ| detectable at 80 % power; ≡ (equivalent) or ≢? (not shown "
            f"equivalent) within ± {result.margin_fraction:g} × the positive control's |δ| "
            f"(TOST p). n: runs of a/b (pairs when paired). Δm of every run against the mean of "
            f"SL with full labels.")


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
        table.add_row(f"{comp.kind}: {comp.a} vs {comp.b}", runs_text(result, comp),
                      *[cell(result, comp, c) for c, _ in result.columns])
    console.print(table)
    console.print(legend(result), highlight=False)
    for line in verdicts(result):
        console.print(line, highlight=False)
    for note in result.notes:
        console.print(f"Note: {note}", highlight=False)


def runs_text(result: PowerResult, comp: Comparison) -> str:
    first = result.effect(comp, result.columns[0][0])
    return f"{first.n_a}/{first.n_b}" if first else "—"


def markdown(result: PowerResult, wall: float) -> str:
    head = ["comparison (a vs b)", "n", *[h for _, h in result.columns]]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join([":--", "--:"] + ["--:"] * len(
        result.columns)) + " |"]
    for comp in result.comparisons:
        cells = [f"{comp.kind}: {comp.a} vs {comp.b}", runs_text(result, comp)]
        for c, _ in result.columns:
            e = result.effect(comp, c)
            if e is None or not math.isfinite(e.delta):
                cells.append("—")
                continue
            text = effect_text(e)
            cells.append(f"**{text}**" if e.significant else text)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(legend(result))
    lines.append("")
    lines += [f"- {line}" for line in verdicts(result)]
    lines += [f"- Note: {note}" for note in result.notes]
    lines.append(f"- Wall time: {wall:.0f} s.")
    return "\n".join(lines) + "\n"


def margin_fraction(text: str) -> float:
    """``--equivalence-margin``: a fraction in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction in (0, 1], e.g. 0.41")
    return value


def add_power_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("power", help="controls and methods over seeds: what the benchmark "
                                     "separates (effects, CIs, paired or Welch p, Holm, "
                                     "power, equivalence)")
    add_selection_options(
        p, methods_default="power",
        methods_help="methods to test against their controls and SL (default: the set 'power': "
                     "the paper's partial-label methods)",
        regimes_help="partial-label regimes (default: the dataset's first)",
        seeds_help=f"comma list of integers (default {DEFAULT_SEEDS})")
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--no-run", action="store_true", help="only analyse the records there are")
    p.add_argument("--out", help="also write the result as Markdown (parent folders are made)")
    p.add_argument("--test", choices=TESTS, default="paired",
                   help="paired t-test over the seeds both sides ran (default: a seed fixes the "
                        "label mask and the initialisation) or Welch's t-test")
    p.add_argument("--equivalence-margin", type=margin_fraction, default=MARGIN_FRACTION,
                   metavar="FRACTION",
                   help="TOST margin as a fraction of the positive control's |δ| on the same "
                        f"column (default {MARGIN_FRACTION}: the share of the one-label gap the "
                        "paper's method closes on NYUv2)")
    p.add_argument("--allow-missing", action="store_true",
                   help="exit 0 when no comparison has runs on both sides (default: exit 1)")
    p.set_defaults(func=cmd_power, seeds=DEFAULT_SEEDS)
