"""Report commands of the CLI: ``bench table``, ``bench report``, ``bench check``.

Records in, tables / figures / verdicts out; nothing here trains. Every user error is a
:class:`~bench.errors.BenchError` (exit status 2, message without traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from bench.cli.args import results_root, table_console
from bench.cli.selection import add_selection_options, request_from_args
from bench.errors import BenchError

if TYPE_CHECKING:
    from bench.report.query import TableRequest


def table_title(dataset: str, profile: str | None) -> str:
    return f"{dataset}" + (f" · profile {profile}" if profile else "")


def print_table(dataset: str, results: Path, *, methods: list[str] | None = None,
                regimes: list[str] | None = None, profile: str | None = None,
                baseline: str = "stl", interval: str = "std", all_metrics: bool = False) -> None:
    """The rich table printed at the end of ``bench run`` (a message instead of an error)."""
    from bench.report.query import TableRequest, build_summary
    from bench.report.terminal import render_rich
    from bench.report.view import build_view

    console = table_console()
    request = TableRequest(dataset, Path(results), methods=methods, regimes=regimes,
                           profile=profile or "any", baseline=baseline, interval=interval)
    try:
        summary, records = build_summary(request)
    except BenchError as exc:
        console.print(f"No table: {exc.message}", highlight=False, markup=False)
        return
    warn_unreadable(records.problems)
    render_rich(build_view(summary, all_metrics=all_metrics), console,
                table_title(dataset, profile))


def warn_unreadable(problems: list[tuple[Path, str]]) -> None:
    """A warning on stderr naming every record file left out because it cannot be read."""
    if not problems:
        return
    err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
    what = "record file" if len(problems) == 1 else "record files"
    err.print(f"[bold yellow]warning:[/] {len(problems)} {what} could not be read and "
              f"{'is' if len(problems) == 1 else 'are'} left out:")
    for path, problem in problems:
        err.print(f"  {path}: {problem}", markup=False)
    err.print("Rerunning `bench run` with the same settings redoes those runs (keeping each "
              "unreadable file as record.unreadable-N.json).", markup=False)


def table_request(args: argparse.Namespace) -> TableRequest:
    """The selection of a reading command (the flags of ``bench run``): which records to read.

    Nothing is read from the data: methods and weightings are checked against the registries
    (names no longer registered are kept when records carry them), seeds, regimes and every
    ``--set`` are checked as ``bench run`` checks them; the runs are then chosen from the
    records alone.
    """
    from bench.config.profiles import check_override_keys, find_profile, parse_overrides
    from bench.config.rows import cross_weightings, parse_weightings
    from bench.errors import UnknownNameError
    from bench.grid.request import parse_list, parse_seeds
    from bench.records.store import check_results_folder
    from bench.registry import expand_methods
    from bench.report.query import TableRequest

    grid = request_from_args(args)
    check_results_folder(grid.results, write=False)
    weightings = parse_weightings(grid.weighting)
    methods = None
    if grid.methods is not None:
        try:
            methods = expand_methods(grid.methods)
        except UnknownNameError:
            methods = parse_list(grid.methods, "--methods", "sl,xtc")
        if weightings:
            methods = cross_weightings(methods, weightings)[0]
    overrides = None
    if grid.sets:
        overrides = parse_overrides(list(grid.sets))
        check_override_keys(overrides)
    profile = grid.profile
    if profile and profile.endswith(".json"):
        profile = find_profile(profile).id  # a profile file: its runs carry its id
    return TableRequest(grid.dataset, grid.results, methods=methods,
                        regimes=parse_list(grid.regimes, "--regimes", "onelabel,full"),
                        profile=profile, baseline=args.baseline or "stl",
                        baseline_explicit=args.baseline is not None, interval=args.interval,
                        weightings=weightings, seeds=parse_seeds(grid.seeds), overrides=overrides)


def cmd_table(args: argparse.Namespace) -> int:
    from bench.report.formats import infer_format, to_csv, to_markdown, write_text
    from bench.report.latex import to_latex
    from bench.report.paper import paper_datasets
    from bench.report.query import build_summary
    from bench.report.terminal import render_rich, render_text
    from bench.report.view import build_view

    out = Path(args.out) if args.out else None
    fmt = infer_format(args.format, out)
    if out is not None and out.is_dir():
        raise BenchError(f"--out {out} is a folder.", "Give a file name, e.g. --out table.tex.")
    if args.paper and args.dataset not in paper_datasets():
        raise BenchError(f"--paper: the paper reports no numbers for '{args.dataset}'.",
                         f"Published numbers exist for: {', '.join(paper_datasets())}.")
    summary, records = build_summary(table_request(args))
    warn_unreadable(records.problems)
    view = build_view(summary, all_metrics=args.all_metrics, paper=args.paper)
    profile = None if args.profile == "any" else (summary.runs["profile"].iloc[0]
                                                  if len(summary.runs) else None)
    title = table_title(summary.dataset, profile)
    if fmt == "rich":
        if out is None:
            render_rich(view, table_console(), title)
            return 0
        text = render_text(view, title)
    elif fmt == "markdown":
        text = to_markdown(view)
    elif fmt == "latex":
        text = to_latex(view, profile=profile, with_spread=not args.no_spread)
    else:
        text = to_csv(view)
    if out is None:
        sys.stdout.write(text)
    else:
        write_text(text, out)
        Console(stderr=True, emoji=False).print(f"Wrote {out}", highlight=False)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.records.store import scan_records
    from bench.report.suite import ReportOptions, write_report

    request = table_request(args)  # the selection, and a results folder that can hold runs
    out = Path(args.out) if args.out else results_root(args) / "reports" / args.dataset
    options = ReportOptions(all_metrics=args.all_metrics,
                            qualitative=not args.no_qualitative, images=args.images,
                            qualitative_regime=args.qualitative_regime,
                            latex_png=not args.no_pdf)
    console = Console(stderr=True, emoji=False, highlight=False)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"Cannot create the report folder {out}: {exc.strerror or exc}.",
                         "Give --out a folder that can be created and written to.") from None
    warn_unreadable(scan_records(results_root(args), args.dataset).problems)
    try:
        index = write_report(request, out, options, log=console.print)
    except OSError as exc:
        raise BenchError(f"Cannot write the report to {out}: {exc.strerror or exc}"
                         + (f" ({exc.filename})" if exc.filename else "") + ".",
                         "Give --out a folder that can be written to.") from None
    console.print(f"Wrote the report of {args.dataset} to {index.parent} (index: {index})")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from bench.report.check import CheckOptions, parse_tolerances, render_check, run_check

    against = Path(args.against) if args.against else results_root(args) / "reference"
    options = CheckOptions(tolerances=parse_tolerances(args.tolerance or []), alpha=args.alpha,
                           test=args.test, fail_on_incomparable=args.strict,
                           all_metrics=args.all_metrics, allow_missing=args.allow_missing)
    result = run_check(table_request(args), against, options)
    render_check(result, table_console())
    return 1 if result.failed(options) else 0


def _selection(p: argparse.ArgumentParser, methods_help: str) -> None:
    """The selection flags of ``bench run`` (which runs), then the table's own."""
    add_selection_options(p, methods_help=methods_help,
                          regimes_help="comma list (default: every regime with runs)",
                          seeds_help="only these seeds (default: every seed with runs)")
    p.set_defaults(profile=None)
    p.add_argument("--baseline", help="Δm baseline METHOD or METHOD@REGIME (default: stl, same "
                                      "regime, else full)")
    p.add_argument("--interval", choices=("std", "ci"), default="std",
                   help="spread over seeds: std, or half-width of the 95%% t confidence "
                        "interval (default std)")


def add_report_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("table", help="comparison table of finished runs (mean ± spread, Δm)")
    _selection(p, "methods or rows (default: every method with runs)")
    p.add_argument("--format", choices=("rich", "markdown", "latex", "csv"),
                   help="output format (default: from --out's suffix .tex/.md/.csv/.txt, else "
                        "rich)")
    p.add_argument("--out", help="write to this file instead of the terminal")
    p.add_argument("--paper", action="store_true",
                   help="add the paper's published numbers beside the measured ones")
    p.add_argument("--all-metrics", action="store_true", help="every metric, not only primary")
    p.add_argument("--no-spread", action="store_true", help="LaTeX: means only, no ± spread")
    p.set_defaults(func=cmd_table)

    p = sub.add_parser("report", help="every table and figure of a dataset, with an index.md")
    _selection(p, "methods or rows (default: every method with runs)")
    p.add_argument("--out", help="folder (default: RESULTS/reports/DATASET)")
    p.add_argument("--all-metrics", action="store_true", help="bar charts of every metric")
    p.add_argument("--images", type=int, default=3, help="test images in the qualitative "
                                                        "figure (default 3, at most 4)")
    p.add_argument("--qualitative-regime", help="regime of the qualitative figure (default: "
                                                "onelabel, else the first partial one)")
    p.add_argument("--no-qualitative", action="store_true",
                   help="skip the qualitative and mapped-output figures")
    p.add_argument("--no-pdf", action="store_true",
                   help="do not compile the LaTeX tables to PDF / PNG")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("check", help="compare runs with reference records; exit 1 on a regression")
    _selection(p, "method(s) to check, comma list (required; --method is the same flag)")
    p.add_argument("--against", help="reference results folder (default: RESULTS/reference)")
    p.add_argument("--tolerance", action="append", metavar="[KEY=]VALUE[%]",
                   help="allowed change before a significant difference counts: 'VALUE%%' "
                        "relative to the reference mean, 'VALUE' absolute; KEY a metric "
                        "(semantic/mIoU), a task (depth) or dm; repeatable (default 2%% for "
                        "metrics, 1 point for Δm)")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="significance level of the test over seeds (default 0.05)")
    p.add_argument("--test", choices=("welch", "mannwhitney"), default="welch",
                   help="two-sample test over seeds (default welch: Welch's t-test)")
    p.add_argument("--all-metrics", action="store_true",
                   help="compare every metric, not only each task's primary one")
    p.add_argument("--strict", action="store_true",
                   help="also exit 1 when a cell is not comparable or missing")
    p.add_argument("--allow-missing", action="store_true",
                   help="pass a check that compared no cell at all (default: exit 1, since such "
                        "a check cannot fail)")
    p.set_defaults(func=cmd_check)
