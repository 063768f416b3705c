"""Shared look of the report figures: paper column sizes, fonts, one colour per method, saving.

Figures are sized in inches for a two-column paper (CVPR: column 3.25 in, text 6.875 in) with
7–8 pt text, so they stay readable when pasted at 100 % width. Every method keeps its colour in
every figure: the one its metadata names (colour-blind-safe Okabe–Ito hues for the paper's
methods).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bench.errors import BenchError  # noqa: E402

COLUMN_WIDTH = 3.25
TEXT_WIDTH = 6.875

RC = {
    "font.size": 7, "axes.titlesize": 7.5, "axes.labelsize": 7, "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5, "legend.fontsize": 6.5, "axes.spines.top": False,
    "axes.spines.right": False, "axes.linewidth": 0.6, "lines.linewidth": 1.2,
    "xtick.major.width": 0.6, "ytick.major.width": 0.6, "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02, "pdf.fonttype": 42, "axes.grid": True, "grid.linewidth": 0.4,
    "grid.alpha": 0.4, "axes.axisbelow": True, "figure.dpi": 100,
}


class NothingToDraw(BenchError):
    """A figure has nothing to compare (every bar is the baseline, no run has a validation
    history…): the report says so and leaves it out."""


@contextmanager
def paper_style() -> Iterator[None]:
    """Temporarily apply the figure style (fonts, spines, grid)."""
    with plt.rc_context(RC):
        yield


def save_figure(fig: Figure, stem: Path, dpi: int = 300) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf``; return both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix in (".png", ".pdf"):
        path = stem.with_suffix(suffix)
        with plt.rc_context(RC):
            fig.savefig(path, dpi=dpi)
        paths.append(path)
    return paths


def legend_above(ax: Axes, title: str, ncol: int = 4) -> None:
    """A one-entry-per-label legend between the axes and its title (which is moved up)."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=False))
    ncol = max(1, min(len(unique), ncol))
    ax.legend(list(unique.values()), list(unique.keys()), loc="lower center",
              bbox_to_anchor=(0.5, 1.0), ncol=ncol, frameon=False, handlelength=1.2,
              columnspacing=0.9, borderaxespad=0.2)
    rows = math.ceil(len(unique) / ncol)
    ax.set_title(title, pad=4 + 10.5 * rows)


def close(fig: Figure) -> None:
    plt.close(fig)
