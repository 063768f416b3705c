"""Qualitative grid like the paper's Fig. 4: input, ground truth and each method's predictions.

For the test images that every run rendered at its end (``visuals.npz``, see
:mod:`bench.engine.visuals`: evenly spaced over the split, so the choice is reproducible) the
grid has one block of columns per image — the input, then one column per task — and one row for
the ground truth plus one per method (its run with the lowest seed in the chosen regime). Each
prediction carries its per-image score in the upper-left corner (the task's primary metric of
that image). The figure is drawn from the records' files alone: no model, no data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from bench.errors import BenchError
from bench.records.record import Record, TaskEntry
from bench.report.aggregate import Summary
from bench.report.names import arrow, regime_display
from bench.report.plotstyle import TEXT_WIDTH, paper_style


@dataclass
class RunVisuals:
    """The figure data of one run (``visuals.npz``)."""

    method: str
    run_path: str
    arrays: dict[str, np.ndarray]

    @property
    def index(self) -> list[int]:
        return [int(i) for i in self.arrays["index"]]


def read_visuals(record: Record) -> dict[str, np.ndarray]:
    """The arrays of a run's ``visuals.npz``; a :class:`BenchError` saying why when absent."""
    name = record.artifacts.get("visuals")
    if not name or record.path is None:
        raise BenchError(f"run {record.path or record.run_id} has no figure data "
                         "(records written before visuals.npz existed, or unfinished runs)")
    path = Path(record.path) / name
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise BenchError(f"cannot read {path}: {exc}") from None


def pick_regime(summary: Summary, wanted: str | None) -> str:
    """``wanted``, else ``onelabel``, else the first partial regime, else the first one."""
    regimes = list(dict.fromkeys(r for r, _ in summary.table.index))
    if wanted:
        from bench.labels.regimes import parse_regime

        wanted = parse_regime(wanted).name
        if wanted not in regimes:
            raise BenchError(f"No runs in regime '{wanted}' for the qualitative figure.",
                             f"Regimes with runs: {', '.join(regimes)}.")
        return wanted
    if "onelabel" in regimes:
        return "onelabel"
    partial = [r for r in regimes if r != "full"]
    return (partial or regimes)[0]


def choose_runs(summary: Summary, regime: str) -> list[tuple[str, str]]:
    """(method, run_id) of the lowest seed of each method in ``regime``, in table order."""
    runs = summary.runs[summary.runs["regime"] == regime]
    out = []
    for method in dict.fromkeys(m for r, m in summary.table.index if r == regime):
        mine = runs[runs["method"] == method].sort_values("seed")
        if len(mine):
            out.append((method, str(mine.iloc[0]["run_id"])))
    return out


def gather(summary: Summary, records: dict[str, Record], regime: str,
           notes: list[str]) -> list[RunVisuals]:
    """The figure data of every chosen run (runs without any are noted and left out)."""
    out = []
    for method, run_id in choose_runs(summary, regime):
        record = records[run_id]
        try:
            out.append(RunVisuals(method, str(record.path), read_visuals(record)))
        except BenchError as exc:
            notes.append(f"qualitative: {method} left out ({exc.message})")
    if not out:
        raise BenchError(f"No run of regime '{regime}' has figure data (visuals.npz).",
                         "Runs that finish with status ok write it beside their record.")
    first = out[0].index
    same = [v for v in out if v.index == first]
    for v in out:
        if v.index != first:
            notes.append(f"qualitative: {v.method} left out (other test images)")
    return same


def blank(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.grid(False)


def primary(task: TaskEntry) -> Any:
    return next(m for m in task.metrics if m.key == task.primary)


def qualitative_figure(summary: Summary, records: dict[str, Record], *,
                       regime: str | None = None, images: int = 2,
                       notes: list[str] | None = None) -> Figure:
    """The grid (see the module docstring); ``notes`` collects methods that were left out.

    ``records`` maps run ids to records (``RecordSet.by_run_id()``).
    """
    notes = notes if notes is not None else []
    regime = pick_regime(summary, regime)
    runs = gather(summary, records, regime, notes)
    tasks = records[choose_runs(summary, regime)[0][1]].tasks
    ref = runs[0].arrays
    chosen = _spread(len(runs[0].index), images)
    h, w = ref["image"].shape[1:3]
    cols = len(chosen) * (1 + len(tasks))
    rows = 1 + len(runs)
    cell = TEXT_WIDTH / cols
    with paper_style():
        fig = Figure(figsize=(TEXT_WIDTH, cell * h / w * rows + 0.55), layout="constrained")
        fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
        grid = fig.subplots(rows, cols, squeeze=False)
        for block, i in enumerate(chosen):
            c0 = block * (1 + len(tasks))
            for r in range(rows):
                for c in range(1 + len(tasks)):
                    blank(grid[r][c0 + c])
            grid[0][c0].imshow(ref["image"][i])
            grid[0][c0].set_title(f"input #{runs[0].index[i]}", fontsize=6)
            for k, task in enumerate(tasks):
                ax = grid[0][c0 + 1 + k]
                ax.imshow(ref[f"label/{task.name}"][i], interpolation="nearest")
                m = primary(task)
                name = task.title if len(tasks) <= 3 else (task.abbrev or task.title)
                ax.set_title(f"{name}\n{m.label} {arrow(m.higher_is_better)}", fontsize=6)
            for r, run in enumerate(runs, start=1):
                grid[r][c0].text(0.5, 0.5, summary.names.short(run.method), ha="center",
                                 va="center", fontsize=6.5, transform=grid[r][c0].transAxes)
                for k, task in enumerate(tasks):
                    ax = grid[r][c0 + 1 + k]
                    ax.imshow(run.arrays[f"pred/{task.name}"][i], interpolation="nearest")
                    score = float(run.arrays[f"score/{task.name}"][i])
                    ax.text(0.03, 0.97, f"{score:.3g}" if np.isfinite(score) else "—",
                            transform=ax.transAxes, ha="left", va="top", fontsize=5.5,
                            bbox={"boxstyle": "square,pad=0.15", "facecolor": "white",
                                  "alpha": 0.8, "linewidth": 0})
            grid[0][c0].set_ylabel("ground truth", fontsize=6)
        fig.suptitle(f"{summary.names.dataset_display}, regime ‘{regime_display(regime)}’: "
                     "ground truth (top row) and predictions; per-image score in the corner",
                     fontsize=7)
    return fig


def _spread(available: int, wanted: int) -> list[int]:
    """``wanted`` positions evenly spread over ``available`` stored images."""
    return sorted({int(i) for i in np.linspace(0, available - 1, min(wanted, available)).round()})
