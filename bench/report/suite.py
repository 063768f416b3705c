"""``bench report``: every table and figure of one dataset in one folder, with an ``index.md``.

Written under ``OUT`` (default ``results/reports/DATASET``)::

    table.md, table.csv, table.tex (+ table.pdf, table.png when pdflatex / pdftoppm exist)
    table_paper.tex/.md (…)          measured beside published numbers, when the paper has some
    bars_<task>_<metric>.png/.pdf    grouped bars per regime, error bars over seeds; bars_dm
    sweep.png/.pdf                   imbalance sweep, when ratio:a:b runs exist
    curves_<regime>.png/.pdf         validation metric per epoch, per method
    qualitative.png/.pdf             input, ground truth and predictions (Fig. 4 style)
    mapped_<method>.png/.pdf         mapped outputs of the task-pair mapping (Fig. 3 style)
    index.md                         links to all of the above, with the table inline, and
                                     where each run's experiment-tracker data is

Everything is drawn from the records and the files beside them (``visuals.npz``): no model is
loaded and no data read. A figure that cannot be drawn (no figure data, no runs of a kind) is
skipped with a line in ``index.md`` saying why; a bad selection is an error before anything is
written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.records.tracking import tracker_lines
from bench.report.aggregate import DELTA, Summary
from bench.report.frame import RecordSet
from bench.report.query import TableRequest, build_summary


@dataclass
class ReportOptions:
    all_metrics: bool = False
    qualitative: bool = True
    images: int = 3
    qualitative_regime: str | None = None
    latex_png: bool = True


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower() or "x"


class _Index:
    """Collects the sections of ``index.md``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def link(self, path: Path) -> str:
        return f"[{path.name}]({path.relative_to(self.out).as_posix()})"

    def figure(self, title: str, paths: list[Path]) -> None:
        png = next(p for p in paths if p.suffix == ".png")
        self.add(f"### {title}", "", f"![{title}]({png.relative_to(self.out).as_posix()})", "",
                 "Files: " + ", ".join(self.link(p) for p in paths), "")


def write_report(request: TableRequest, out: Path, options: ReportOptions,
                 log: Callable[[str], None] = print) -> Path:
    """Write the report of ``request.dataset`` to ``out``; return the path of ``index.md``."""
    from bench.report.bars import bar_columns, bar_figure
    from bench.report.curves import curve_regimes, curves_figure
    from bench.report.formats import to_csv, to_markdown, write_text
    from bench.report.latex import compile_latex, pdflatex_available, render_png, to_latex
    from bench.report.names import regime_display
    from bench.report.paper import paper_datasets
    from bench.report.plotstyle import NothingToDraw, close, save_figure
    from bench.report.sweep import has_sweep, sweep_figure
    from bench.report.view import build_view

    summary, records = build_summary(request)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    index = _Index(out)
    profile = str(summary.runs["profile"].iloc[0]) if summary.runs["profile"].nunique() == 1 else None
    index.add(f"# {summary.names.dataset_display}: report", "",
              f"{len(summary.runs)} finished runs" + (f", profile `{profile}`" if profile else "")
              + f", results `{request.results}`. Regenerate with "
              f"`bench report --dataset {summary.dataset}`.", "")

    # -- tables ----------------------------------------------------------------------------------
    view = build_view(summary, all_metrics=options.all_metrics)
    md = to_markdown(view)
    files = [write_text(md, out / "table.md"), write_text(to_csv(view), out / "table.csv")]
    tex = to_latex(view, profile=profile)
    files.append(write_text(tex, out / "table.tex"))
    index.add("## Tables", "", md, "")
    if summary.dataset in paper_datasets():
        pview = build_view(summary, all_metrics=options.all_metrics, paper=True)
        ptex = to_latex(pview, profile=profile, label=f"tab:{_slug(summary.dataset)}-paper")
        files.append(write_text(ptex, out / "table_paper.tex"))
        files.append(write_text(to_markdown(pview), out / "table_paper.md"))
    if options.latex_png and pdflatex_available():
        for stem in [p.stem for p in files if p.suffix == ".tex"]:
            try:
                pdf = compile_latex((out / f"{stem}.tex").read_text(encoding="utf-8"),
                                    out / f"{stem}.pdf")
                files.append(pdf)
                files.append(render_png(pdf, out / f"{stem}.png"))
            except BenchError as exc:
                index.add(f"*{stem}.tex: not rendered ({exc.message})*", "")
    elif options.latex_png:
        index.add("*LaTeX not rendered to PDF/PNG: pdflatex is not installed.*", "")
    if (out / "table.png").is_file():
        index.add("The LaTeX table, compiled:", "", "![table](table.png)", "")
    index.add("Files: " + ", ".join(index.link(p) for p in files), "")
    log(f"  tables: {', '.join(p.name for p in files)}")

    # -- figures ---------------------------------------------------------------------------------
    index.add("## Figures", "")

    def draw(title: str, make: Callable[[], Any], name: str) -> None:
        """One figure in the index, or a line saying why it is left out."""
        try:
            fig = make()
        except NothingToDraw as exc:
            index.add(f"*{title}: left out, {exc.message}.*", "")
            log(f"  {title}: left out, {exc.message}")
            return
        index.figure(title, save_figure(fig, out / name))
        close(fig)

    for column in bar_columns(summary, options.all_metrics):
        draw(f"Bars: {column}", lambda c=column: bar_figure(summary, c),
             "bars_dm" if column == DELTA else f"bars_{_slug(column)}")
    if has_sweep(summary):
        draw("Imbalance sweep", lambda: sweep_figure(summary), "sweep")
    for regime in curve_regimes(summary, records):
        draw(f"Validation curves, {regime_display(regime)}",
             lambda r=regime: curves_figure(summary, records, r), f"curves_{_slug(regime)}")
    if options.qualitative:
        _qualitative(summary, records, options, index, out)
        _mapped(summary, records, options, index, out)
    log(f"  figures: {sum(1 for _ in out.glob('*.png'))} PNG files")

    _trackers(summary, index)
    if summary.notes:
        index.add("## Notes", "", *[f"- {n}" for n in summary.notes], "")
    path = out / "index.md"
    path.write_text("\n".join(index.lines), encoding="utf-8")
    return path


def _trackers(summary: Summary, index: _Index) -> None:
    """Where the runs sent to experiment trackers (``bench run --track``) are watched."""
    rows = []
    for run in summary.runs.sort_values(["regime", "method", "seed"]).itertuples():
        lines = tracker_lines(Path(run.path)) if run.path else []
        if lines:
            rows.append(f"- {run.method} · {run.regime} · seed {run.seed} (`{run.run_id}`): "
                        + "; ".join(lines))
    if rows:
        index.add("## Experiment trackers", "",
                  "Runs sent to trackers with `bench run --track`; the records stay the source "
                  "of every number above.", "", *rows, "")


def _qualitative(summary: Summary, records: RecordSet, options: ReportOptions, index: _Index,
                 out: Path) -> None:
    from bench.report.plotstyle import close, save_figure
    from bench.report.qualitative import qualitative_figure

    notes: list[str] = []
    try:
        fig = qualitative_figure(summary, records.by_run_id(), regime=options.qualitative_regime,
                                 images=options.images, notes=notes)
    except BenchError as exc:
        index.add(f"*Qualitative figure skipped: {exc.message}*", "")
        return
    index.figure("Qualitative comparison", save_figure(fig, out / "qualitative"))
    index.add(*[f"- {n}" for n in notes], "")
    close(fig)


def _mapped(summary: Summary, records: RecordSet, options: ReportOptions, index: _Index,
            out: Path) -> None:
    from bench.report.mapped import mapped_figure
    from bench.report.plotstyle import close, save_figure
    from bench.report.qualitative import pick_regime

    runs = summary.runs
    by_id = records.by_run_id()
    try:
        regime = pick_regime(summary, options.qualitative_regime)
    except BenchError:
        return
    for method in summary.names.mapped():
        chosen = runs[(runs["method"] == method) & (runs["regime"] == regime)]
        if chosen.empty:
            continue
        record = by_id[str(chosen.sort_values("seed").iloc[0]["run_id"])]
        try:
            fig = mapped_figure(record, summary.names)
        except BenchError as exc:
            index.add(f"*Mapped outputs of {method} skipped: {exc.message}*", "")
            continue
        index.figure(f"Mapped outputs of {method} ({regime})",
                     save_figure(fig, out / f"mapped_{_slug(method)}"))
        close(fig)
