"""A format-independent table: rows, columns with directions, cells with ranks, footer lines.

Every output format (rich, Markdown, LaTeX, CSV) renders the same :class:`TableView`, so they
agree on what is shown, on the best / second-best marks and on the lines under the table.

Ranking: within each regime and each measured column (task metrics and Δm), the cells are compared
on their means *rounded as displayed*; the best value (highest where ↑, lowest where ↓) is rank 1
(bold), the next distinct value rank 2 (underlined). Tied cells share a rank. Rank 1 needs at least
two rows with a value in the regime, rank 2 at least three (with two rows, the second is simply
the worst). Published paper values are never ranked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.report.aggregate import DELTA, Summary
from bench.report.frame import MetricInfo
from bench.report.names import Names, arrow
from bench.report.paper import CITATION, paper_values

PAPER_PREFIX = "paper:"
#: mark of rows whose epoch was selected on the test split (``train.selection=best-test``)
TEST_SELECTED = "†"
#: mark of rows whose hyper-parameters ``bench tune`` chose
TUNED = "‡"
REDUCTION_TEXT = {
    "official": "official (each image's task losses and pair terms summed, as the official "
                "MTPSL scripts)",
    "paper": "paper (each image's task losses and pair terms averaged, as Eqs. 1–4 are written)",
    "unrecorded": "not recorded (runs of an earlier harness)",
}
SELECTION_TEXT = {
    "last": "last epoch",
    "best-val": "epoch with the best validation metrics",
    "best-test": f"epoch with the best test metrics ({TEST_SELECTED}, as the official scripts; "
                 "optimistic, for reproducing them only)",
}


@dataclass(frozen=True)
class Column:
    """One column of values."""

    key: str  # record metric column ("semantic/mIoU"), DELTA, or "paper:<metric column>"
    task: str | None  # None for Δm
    label: str  # short metric label ("mIoU", "aErr")
    higher_is_better: bool
    decimals: int
    kind: str  # "metric" | "delta" | "paper"
    task_title: str = ""  # "Segmentation"
    task_abbrev: str = ""  # "Seg."

    @property
    def arrow(self) -> str:
        return arrow(self.higher_is_better)

    def header(self) -> str:
        """Plain-text header with direction: ``Seg. mIoU ↑``, ``Δm (%) ↑``, ``paper``."""
        if self.kind == "delta":
            return f"{DELTA} (%) {self.arrow}"
        if self.kind == "paper":
            return "paper"
        return f"{self.task_abbrev or self.task or ''} {self.label} {self.arrow}"


@dataclass
class Cell:
    """Mean over seeds, spread (std or CI half-width; NaN if undefined), seeds, rank in regime."""

    mean: float
    spread: float = float("nan")
    n: int = 0
    rank: int | None = None
    source: str = ""  # where a paper value comes from ("Table 2")

    def text(self, decimals: int, with_spread: bool = True, sep: str = " ± ") -> str:
        return format_value(self.mean, self.spread if with_spread else float("nan"), decimals,
                            sep)


@dataclass
class TableView:
    """What a table shows, independent of its format."""

    names: Names
    rows: list[tuple[str, str]]  # (regime, method)
    columns: list[Column]
    cells: dict[tuple[tuple[str, str], str], Cell]
    interval: str
    footer: list[str] = field(default_factory=list)
    metric_columns: list[Column] = field(default_factory=list)
    delta_metrics: list[Column] = field(default_factory=list)  # primary metric of each task
    baseline: str = ""  # "stl" or "stl@full"
    baseline_fixed: bool = False  # True: one regime for all rows; False: same regime, else full
    marks: dict[tuple[str, str], str] = field(default_factory=dict)  # row → "†"
    protocol: str = ""  # one sentence naming the protocol options of the rows
    setup: list[str] = field(default_factory=list)  # setup statements for the caption (encoder)

    def method_label(self, row: tuple[str, str], display: bool = True) -> str:
        """The row's method name (the paper's name if ``display``) with its mark, if any."""
        name = self.names.method(row[1]) if display else row[1]
        return name + self.marks.get(row, "")

    @property
    def dataset(self) -> str:
        return self.names.dataset.name

    def cell(self, row: tuple[str, str], column: Column) -> Cell:
        return self.cells.get((row, column.key), Cell(float("nan")))

    def row_n(self, row: tuple[str, str]) -> int:
        ns = [self.cell(row, c).n for c in self.columns if c.kind == "metric"]
        return max(ns) if ns else 0

    def regimes(self) -> list[str]:
        out: list[str] = []
        for regime, _ in self.rows:
            if regime not in out:
                out.append(regime)
        return out


def is_finite(value: float | None) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def fixed(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` digits; never ``-0.00``."""
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def format_value(mean: float, spread: float, decimals: int, sep: str = " ± ") -> str:
    """``12.35 ± 0.40``; just the mean when the spread is undefined; ``—`` when no mean."""
    if not is_finite(mean):
        return "—"
    text = fixed(mean, decimals)
    if is_finite(spread):
        text += f"{sep}{fixed(spread, decimals)}"
    return text


def metric_column(m: MetricInfo) -> Column:
    return Column(m.column, m.task, m.label, m.higher_is_better, m.decimals, "metric",
                  m.task_title, m.task_abbrev)


DELTA_COLUMN = Column(DELTA, None, DELTA, True, 2, "delta")


def rank_group(values: dict[tuple[str, str], float], decimals: int, higher_is_better: bool
               ) -> dict[tuple[str, str], int]:
    """Rank 1 / 2 of the rows of one regime for one column (see the module docstring)."""
    shown = {row: round(v, decimals) for row, v in values.items() if is_finite(v)}
    if len(shown) < 2:
        return {}
    distinct = sorted(set(shown.values()), reverse=higher_is_better)
    ranks = {row: 1 for row, v in shown.items() if v == distinct[0]}
    if len(shown) >= 3 and len(distinct) > 1:
        ranks.update({row: 2 for row, v in shown.items() if v == distinct[1]})
    return ranks


def footer_lines(summary: Summary, *, paper: bool,
                 tables: list[tuple[str, int]] | None = None) -> list[str]:
    """Lines printed under every table: statistic, Δm baseline and formula, metric per task."""
    if summary.interval == "std":
        spread = "± sample standard deviation over seeds"
    else:
        spread = "± half-width of the 95 % t confidence interval of the mean (t_{0.975,n−1}·s/√n)"
    lines = [f"Mean over n seeds {spread}; metrics on the test split.", protocol_text(summary),
             *tuning_lines(summary)]
    used = sorted({v for v in summary.baseline_used.values() if v})
    missing = sorted(r for r, v in summary.baseline_used.items() if not v)
    rule = ("fixed regime" if summary.baseline.regime else "same regime, else full")
    base = f"Δm baseline: {summary.baseline} ({rule}"
    base += f"; used: {', '.join(used)})" if used else ")"
    if missing:
        base += f"; no baseline for {', '.join(missing)}"
    lines.append(base + ". Δm = 1/K Σ_k s_k (M_k − B_k)/B_k × 100 with s_k = +1 where higher "
                        "is better, −1 where lower is better.")
    per_task = [f"{m.task}: {m.label} ({'higher' if m.higher_is_better else 'lower'} is better)"
                for m in summary.metrics if m.primary]
    lines.append("Metric per task in Δm: " + "; ".join(per_task) + ".")
    lines.append("Bold: best per regime and column; underlined: second best (on the rounded "
                 "means; ↑ higher is better, ↓ lower is better).")
    if paper:
        if tables:
            cited = {c: [t for c2, t in tables if c2 == c] for c, _ in tables}
            where = "; ".join(f"{c}, Table {', '.join(str(t) for t in ts)}"
                              for c, ts in sorted(cited.items(), key=lambda x: x[0] != CITATION))
            lines.append(f"paper: value published in the paper ({where}); — where it reports "
                         f"none.")
        else:
            lines.append(f"paper: the paper ({CITATION}) reports no number for these rows.")
    lines += summary.setup
    lines += [f"Note: {n}" for n in summary.notes]
    return lines


def protocol_text(summary: Summary) -> str:
    """The protocol options of the shown runs: loss reduction, epoch selection, validation."""
    runs = summary.runs

    def values(column: str, text: dict[str, str]) -> str:
        present = sorted(str(v) for v in runs[column].dropna().unique()) if column in runs else []
        return "; ".join(text.get(v, v) for v in present) or "—"

    fractions = sorted(runs["val_fraction"].unique()) if "val_fraction" in runs else []
    held = "; ".join(f"{f * 100:g} % of the training images held out, never trained on"
                     if f > 0 else "none (every training image trained on)" for f in fractions)
    return (f"Protocol — loss reduction: {values('loss_reduction', REDUCTION_TEXT)}. "
            f"Epoch selection: {values('selection', SELECTION_TEXT)}. "
            f"Validation split: {held or '—'}.")


def row_marks(summary: Summary) -> dict[tuple[str, str], str]:
    """``†`` for rows with a run whose epoch was selected on test, ``‡`` for tuned rows."""
    runs = summary.runs
    marks: dict[tuple[str, str], str] = {}
    for (regime, method), grp in runs.groupby(["regime", "method"]):
        mark = ""
        if "tuning" in grp and (grp["tuning"].fillna("") != "").any():
            mark += TUNED
        if "selection" in grp and (grp["selection"] == "best-test").any():
            mark += TEST_SELECTED
        if mark:
            marks[(str(regime), str(method))] = mark
    return marks


def tuning_lines(summary: Summary) -> list[str]:
    """One line naming the tuned rows and their budget (none when nothing was tuned)."""
    runs = summary.runs
    if "tuning" not in runs:
        return []
    tuned = runs[runs["tuning"].fillna("") != ""]
    if tuned.empty:
        return []
    budgets = sorted(set(tuned["tuning"]))
    methods = ", ".join(sorted(set(tuned["method"])))
    return [f"{TUNED} hyper-parameters chosen by bench tune (TPE + median pruning, score: "
            f"validation Δm against SL): {methods}; budget per method: {'; '.join(budgets)}."]


def build_view(summary: Summary, *, all_metrics: bool = False, paper: bool = False) -> TableView:
    """The rows, columns, cells (with ranks) and footer of a summary."""
    metrics = [m for m in summary.metrics if all_metrics or m.primary]
    metric_cols = [metric_column(m) for m in metrics]
    rows = summary.rows()
    cells: dict[tuple[tuple[str, str], str], Cell] = {}
    for col in [*metric_cols, DELTA_COLUMN]:
        for row in rows:
            stats = summary.table.loc[row]
            cells[(row, col.key)] = Cell(float(stats[(col.key, "mean")]),
                                         float(stats[(col.key, "spread")]),
                                         int(stats[(col.key, "n")]))
        for regime in dict.fromkeys(r for r, _ in rows):
            group = {row: cells[(row, col.key)].mean for row in rows if row[0] == regime}
            for row, rank in rank_group(group, col.decimals, col.higher_is_better).items():
                cells[(row, col.key)].rank = rank
    columns: list[Column] = []
    tables: set[tuple[str, int]] = set()
    published = paper_values(summary.dataset, summary.names.paper_methods()) if paper else {}
    for col in metric_cols:
        columns.append(col)
        if not paper:
            continue
        hits = {row: published[(row[0], row[1], col.key)] for row in rows
                if (row[0], row[1], col.key) in published}
        if not hits:
            continue
        pcol = Column(PAPER_PREFIX + col.key, col.task, col.label, col.higher_is_better,
                      col.decimals, "paper", col.task_title, col.task_abbrev)
        columns.append(pcol)
        for row, (value, table, citation) in hits.items():
            source = f"Table {table}" if citation == CITATION else f"{citation}, Table {table}"
            cells[(row, pcol.key)] = Cell(value, source=source)
            tables.add((citation, table))
    columns.append(DELTA_COLUMN)
    footer = footer_lines(summary, paper=paper, tables=sorted(tables))
    delta_metrics = [metric_column(m) for m in summary.metrics if m.primary]
    return TableView(summary.names, rows, columns, cells, summary.interval, footer, metric_cols,
                     delta_metrics, str(summary.baseline), bool(summary.baseline.regime),
                     row_marks(summary), protocol_text(summary), list(summary.setup))
