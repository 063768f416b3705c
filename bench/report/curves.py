"""Training curves: the validation metric after every epoch, per method, from records' history.

One figure per regime, one panel per task's primary metric; one line per method (mean over its
seeds at each epoch) with a band of the table's spread (± std, or the 95 % t confidence interval)
where several seeds reached that epoch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.report.aggregate import Summary, aggregate
from bench.report.bars import SPREAD_TEXT, axis_label
from bench.report.frame import RecordSet
from bench.report.names import regime_display
from bench.report.plotstyle import COLUMN_WIDTH, TEXT_WIDTH, NothingToDraw, paper_style


def history_frame(summary: Summary, records: RecordSet) -> pd.DataFrame:
    """One row per (run, epoch): regime, method, seed, epoch and every validation metric."""
    by_id = records.by_run_id()
    rows: list[dict[str, Any]] = []
    for run in summary.runs.itertuples():
        record = by_id.get(run.run_id)
        for entry in (record.history if record is not None else []):
            rows.append({"regime": run.regime, "method": run.method, "seed": run.seed,
                         "epoch": int(entry["epoch"]), **(entry.get("metrics") or {})})
    return pd.DataFrame(rows)


def curve_regimes(summary: Summary, records: RecordSet) -> list[str]:
    """Regimes with some history, in table order."""
    hist = history_frame(summary, records)
    if hist.empty:
        return []
    present = set(hist["regime"])
    return [r for r in dict.fromkeys(r for r, _ in summary.table.index) if r in present]


def curves_figure(summary: Summary, records: RecordSet, regime: str) -> Figure:
    """Validation metric vs epoch for every method of one regime."""
    hist = history_frame(summary, records)
    hist = hist[hist["regime"] == regime] if not hist.empty else hist
    if hist.empty:
        raise NothingToDraw(f"no run of regime {regime} has a per-epoch history")
    primaries = [m for m in summary.metrics if m.primary and m.column in hist.columns
                 and hist[m.column].notna().any()]
    if not primaries:
        raise NothingToDraw(f"no run of regime {regime} was validated during training (its "
                            "profile holds no validation split out)")
    order = {m: i for i, m in enumerate(summary.names.order())}
    methods = sorted(hist["method"].unique(), key=lambda m: (order.get(m, len(order)), m))
    width = TEXT_WIDTH if len(primaries) > 1 else COLUMN_WIDTH
    with paper_style():
        fig = Figure(figsize=(width, 2.1), layout="constrained")
        axes = fig.subplots(1, max(len(primaries), 1), squeeze=False)[0]
        for ax, m in zip(axes, primaries, strict=False):
            for method in methods:
                runs = hist[hist["method"] == method]
                rows = [{"epoch": e, **aggregate(g[m.column].to_numpy(dtype=float),
                                                 summary.interval)}
                        for e, g in runs.groupby("epoch")]
                c = pd.DataFrame(rows).sort_values("epoch")
                color = summary.names.colour(method)
                ax.plot(c["epoch"], c["mean"], marker="o" if len(c) < 15 else None,
                        markersize=2.5, color=color, label=summary.names.short(method),
                        gid=method)
                band = c["spread"].to_numpy(dtype=float)
                if np.isfinite(band).any():
                    band = np.nan_to_num(band)
                    ax.fill_between(c["epoch"], c["mean"] - band, c["mean"] + band, color=color,
                                    alpha=0.18, linewidth=0)
            ax.set_title(f"{m.task_title} {m.label}")
            ax.set_ylabel(axis_label(m))
            ax.xaxis.get_major_locator().set_params(integer=True)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncol=min(len(labels), 8),
                   frameon=False, handlelength=1.6, columnspacing=1.0)
        n = int(hist.groupby(["method", "epoch"]).size().max())
        band_text = f", band {SPREAD_TEXT[summary.interval]}" if n > 1 else ""
        fig.supxlabel(f"epoch — validation metrics, {summary.names.dataset_display}, "
                      f"regime ‘{regime_display(regime)}’, mean over seeds{band_text}",
                      fontsize=7)
    return fig
