"""Imbalance sweep: each primary metric and Δm against the share of images labelled for task 1.

The x value of a ``ratio:a:b…`` regime is :math:`100 \\cdot a / (a + b + …)`, the percentage of
training images that carry a label of the first task (the rest carry the other tasks' labels,
one per image). One line per method (mean over seeds, markers at the measured ratios) with a
shaded band of the same spread as the tables (± std, or the 95 % t confidence interval). The Δm
panel leaves out the baseline method (0 by construction).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.report.aggregate import DELTA, Summary, aggregate
from bench.report.bars import SPREAD_TEXT, axis_label
from bench.report.names import first_task_fraction
from bench.report.plotstyle import TEXT_WIDTH, paper_style


def sweep_frame(summary: Summary) -> pd.DataFrame:
    """The runs of ``ratio:`` regimes with an ``x`` column (percent labelled for task 1)."""
    runs = summary.runs.copy()
    runs["x"] = [first_task_fraction(str(r)) for r in runs["regime"]]
    runs = runs[runs["x"].notna()]
    runs["x"] = runs["x"].astype(float) * 100.0
    return runs


def has_sweep(summary: Summary) -> bool:
    """At least two distinct ratios: enough for a line."""
    return sweep_frame(summary)["x"].nunique() >= 2


def sweep_curves(runs: pd.DataFrame, column: str, interval: str
                 ) -> dict[str, pd.DataFrame]:
    """Per method: x, mean, spread, n of ``column`` at every ratio, sorted by x."""
    out: dict[str, pd.DataFrame] = {}
    for method, grp in runs.groupby("method", sort=False):
        rows = []
        for x, at in grp.groupby("x"):
            rows.append({"x": float(x), **aggregate(at[column].to_numpy(dtype=float), interval)})
        out[str(method)] = pd.DataFrame(rows).sort_values("x")
    return out


def sweep_figure(summary: Summary) -> Figure:
    """One panel per primary metric plus a Δm panel, one line per method."""
    runs = sweep_frame(summary)
    if runs["x"].nunique() < 2:
        raise ValueError("a sweep needs runs of at least two ratio:a:b regimes")
    primaries = [m for m in summary.metrics if m.primary]
    names = summary.names
    panels = [(m.column, f"{m.task_title} {m.label}", axis_label(m)) for m in primaries]
    base = summary.baseline.method
    if runs[DELTA].notna().any():
        panels.append((DELTA, f"Δm vs {names.short(base)}", "Δm (%) ↑"))
    order = {m: i for i, m in enumerate(names.order())}
    methods = sorted(runs["method"].unique(), key=lambda m: (order.get(m, len(order)), m))
    first_task = primaries[0].task_title if primaries else "task 1"
    others = ", ".join(m.task_title.lower() for m in primaries[1:])
    with paper_style():
        fig = Figure(figsize=(TEXT_WIDTH, 2.2), layout="constrained")
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (column, title, ylabel) in zip(axes, panels, strict=True):
            curves = sweep_curves(runs, column, summary.interval)
            for method in methods:
                if column == DELTA and method == base:
                    continue
                c = curves.get(method)
                if c is None or c["mean"].isna().all():
                    continue
                color = names.colour(method)
                style = "--" if method == base else "-"
                ax.plot(c["x"], c["mean"], style, marker="o", markersize=2.5, color=color,
                        label=names.short(method), gid=method)
                band = c["spread"].to_numpy(dtype=float)
                if np.isfinite(band).any():
                    band = np.nan_to_num(band)
                    ax.fill_between(c["x"], c["mean"] - band, c["mean"] + band, color=color,
                                    alpha=0.18, linewidth=0)
            if column == DELTA:
                ax.axhline(0, color="black", linewidth=0.6)
            xs = sorted(runs["x"].unique())
            ax.set_xticks(xs, [f"{x:g}" for x in xs])
            ax.set_title(title)
            ax.set_ylabel(ylabel)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncol=min(len(labels), 8),
                   frameon=False, handlelength=1.6, columnspacing=1.0)
        n = sorted(runs.groupby(["method", "x"]).size().unique())
        n_text = f"{n[0]}" if len(n) == 1 else f"{n[0]}–{n[-1]}"
        band_text = f", band {SPREAD_TEXT[summary.interval]}" if n[-1] > 1 else ""
        fig.supxlabel(f"images labelled for {first_task.lower()} (%)"
                      + (f"; the others for {others}" if others else "")
                      + f" — {names.dataset_display}, mean over {n_text} "
                      f"seed{'s' if n[-1] != 1 else ''}{band_text}", fontsize=7)
    return fig
