"""Grouped bar charts: one figure per task metric (and Δm), regimes on x, one bar per method.

Bar height is the mean over seeds, the error bar the same spread as the tables (std, or the 95 %
t confidence half-width). When every bar is far from zero the y axis is zoomed onto the bars (a
note under the plot says so), otherwise it starts at zero.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from bench.report.aggregate import DELTA, Summary
from bench.report.frame import MetricInfo
from bench.report.names import arrow, regime_display
from bench.report.plotstyle import (
    COLUMN_WIDTH,
    TEXT_WIDTH,
    NothingToDraw,
    legend_above,
    paper_style,
)

SPREAD_TEXT = {"std": "± std", "ci": "95 % CI"}


def metric_of(summary: Summary, column: str) -> MetricInfo:
    for m in summary.metrics:
        if m.column == column:
            return m
    raise KeyError(column)


def axis_label(m: MetricInfo) -> str:
    return f"{m.label}{f' ({m.unit})' if m.unit else ''} {arrow(m.higher_is_better)}"


def bar_title(summary: Summary, column: str) -> str:
    names = summary.names
    if column == DELTA:
        return f"{names.dataset_display}: Δm vs {names.method(summary.baseline.method)}"
    m = metric_of(summary, column)
    better = "higher" if m.higher_is_better else "lower"
    return f"{names.dataset_display}: {m.task_title} {m.label} ({better} is better)"


def bar_figure(summary: Summary, column: str) -> Figure:
    """Bars of ``column`` (a ``task/metric`` or ``Δm``) per regime and method.

    For Δm the baseline method itself is left out (its Δm is 0 by construction).
    """
    table = summary.table
    rows = [r for r in table.index if not (column == DELTA and r[1] == summary.baseline.method)]
    if column == DELTA and not table[(DELTA, "n")].sum():
        raise NothingToDraw(f"Δm needs runs of its baseline {summary.baseline}, and there are "
                            "none")
    rows = [r for r in rows if int(table.loc[r, (column, "n")]) > 0]
    if not rows:
        raise NothingToDraw(f"no run besides the Δm baseline {summary.baseline}" if column == DELTA
                            else f"no run has a value of {column}")
    regimes = list(dict.fromkeys(r for r, _ in rows))
    methods = list(dict.fromkeys(m for _, m in rows))
    n_bars = len(rows)
    width_in = COLUMN_WIDTH if n_bars <= 16 else TEXT_WIDTH
    seeds = sorted({int(table.loc[r, (column, "n")]) for r in rows})
    with paper_style():
        fig = Figure(figsize=(width_in, 2.3), layout="constrained")
        ax = fig.add_subplot()
        slot = 0.8 / max(max(sum(1 for r in rows if r[0] == g) for g in regimes), 1)
        lows, highs = [], []
        for gi, regime in enumerate(regimes):
            here = [m for m in methods if (regime, m) in rows]
            for bi, method in enumerate(here):
                mean = float(table.loc[(regime, method), (column, "mean")])
                err = float(table.loc[(regime, method), (column, "spread")])
                x = gi + (bi - (len(here) - 1) / 2) * slot
                ax.bar(x, mean, width=slot * 0.92, color=summary.names.colour(method),
                       yerr=err if math.isfinite(err) else None, capsize=1.5,
                       error_kw={"elinewidth": 0.6, "capthick": 0.6},
                       label=summary.names.short(method), gid=f"{regime}|{method}")
                e = err if math.isfinite(err) else 0.0
                if math.isfinite(mean):
                    lows.append(mean - e)
                    highs.append(mean + e)
        ax.set_xticks(range(len(regimes)), [regime_display(r) for r in regimes])
        ax.grid(axis="x", visible=False)
        if column == DELTA:
            ax.axhline(0, color="black", linewidth=0.6)
            ax.set_ylabel(f"Δm vs {summary.names.short(summary.baseline.method)} (%) ↑")
        else:
            ax.set_ylabel(axis_label(metric_of(summary, column)))
        zoomed = _zoom(ax, lows, highs) if column != DELTA else False
        legend_above(ax, bar_title(summary, column), ncol=6 if width_in > COLUMN_WIDTH else 4)
        n_text = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}"
        note = f"mean over {n_text} seed{'s' if seeds[-1] != 1 else ''}"
        if seeds[-1] > 1:
            note += f", error bars {SPREAD_TEXT[summary.interval]}"
        if zoomed:
            note += "; y axis does not start at 0"
        fig.supxlabel(f"label regime ({note})", fontsize=6.5)
    return fig


def _zoom(ax, lows: list[float], highs: list[float]) -> bool:  # noqa: ANN001
    """Zoom the y axis onto the bars when they all sit far above zero; True if zoomed."""
    if not lows:
        return False
    lo, hi = float(np.min(lows)), float(np.max(highs))
    if lo <= 0 or (hi - lo) > 0.5 * hi:
        return False
    pad = 0.15 * max(hi - lo, 1e-9 * hi)
    ax.set_ylim(lo - pad, hi + pad)
    return True


def bar_columns(summary: Summary, all_metrics: bool = False) -> list[str]:
    """Columns that get a bar chart: every primary metric (or all metrics), then Δm (a figure
    that :func:`bar_figure` leaves out, saying why, when Δm has no baseline runs)."""
    return [m.column for m in summary.metrics if all_metrics or m.primary] + [DELTA]
