"""Mapped outputs of a joint task-pair mapping for one image, like the paper's Fig. 3.

For a run of a method whose metadata says it has a joint task-pair mapping
(``MethodInfo.mapped_figure``), each row is one ordered task pair (s, t)::

    pair | ŷ^s (prediction of s) | m^{s→st}(ŷ^s) | y^t (label of t) | m^{t→st}(y^t) | cos

The run rendered these at its end (``visuals.npz``, see :mod:`bench.engine.visuals`): the mapped
columns are an intermediate map of the mapping, drawn as RGB through a PCA shared by the two maps
of a row (equal colours mean equal features); the last column is their per-pixel cosine
similarity (1 = the joint space agrees). The figure is drawn from the record's files alone.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from bench.errors import BenchError
from bench.records.record import Record
from bench.report.names import Names
from bench.report.plotstyle import TEXT_WIDTH, paper_style
from bench.report.qualitative import blank, read_visuals

TITLES = ("task pair", "prediction ŷˢ", "mapped m(ŷˢ)", "label yᵗ", "mapped m(yᵗ)",
          "cos(m(ŷˢ), m(yᵗ))")


def mapped_rows(record: Record) -> list[tuple[str, str, float]]:
    """(source task, target task, mean cosine similarity) of every pair the run rendered."""
    arrays = read_visuals(record)
    if "pairs" not in arrays:
        raise BenchError(f"run {record.path} ({record.method}) rendered no task-pair mapping")
    return [(str(s), str(t), float(c.mean())) for (s, t), c in zip(arrays["pairs"],
                                                                  arrays["pair/cos"],
                                                                  strict=True)]


def mapped_figure(record: Record, names: Names) -> Figure:
    """The figure of the module docstring for the run of ``record``."""
    arrays = read_visuals(record)
    if "pairs" not in arrays:
        raise BenchError(f"run {record.path} ({record.method}) rendered no task-pair mapping",
                         "Only methods with a joint task-pair mapping (xtc and its variants) "
                         "have one.")
    abbrev = {t.name: t.abbrev for t in record.tasks}
    pairs = arrays["pairs"]
    h, w = arrays["pair/prediction"].shape[1:3]
    cell = TEXT_WIDTH / len(TITLES)
    with paper_style():
        fig = Figure(figsize=(TEXT_WIDTH, cell * h / w * len(pairs) + 0.7), layout="constrained")
        grid = fig.subplots(len(pairs), len(TITLES), squeeze=False)
        im = None
        for r, (s, t) in enumerate(pairs):
            for ax in grid[r]:
                blank(ax)
            grid[r][0].text(0.5, 0.5, f"s: {abbrev.get(s, s)}\nt: {abbrev.get(t, t)}",
                            ha="center", va="center", fontsize=7, transform=grid[r][0].transAxes)
            grid[r][1].imshow(arrays["pair/prediction"][r], interpolation="nearest")
            grid[r][2].imshow(arrays["pair/source"][r], interpolation="nearest")
            grid[r][3].imshow(arrays["pair/label"][r], interpolation="nearest")
            grid[r][4].imshow(arrays["pair/target"][r], interpolation="nearest")
            cos = arrays["pair/cos"][r]
            im = grid[r][5].imshow(cos, cmap="RdBu", vmin=-1, vmax=1, interpolation="nearest")
            grid[r][5].text(0.03, 0.97, f"mean {cos.mean():.2f}", transform=grid[r][5].transAxes,
                            ha="left", va="top", fontsize=5.5,
                            bbox={"boxstyle": "square,pad=0.15", "facecolor": "white",
                                  "alpha": 0.8, "linewidth": 0})
            if r == 0:
                for ax, title in zip(grid[0], TITLES, strict=True):
                    ax.set_title(title, fontsize=6.5)
        if im is not None:
            fig.colorbar(im, ax=grid[:, 5].tolist(), shrink=0.6, label="cosine")
        src = arrays["pair/source"][0]
        fig.suptitle(f"{names.method(record.row)}: task-pair mappings of test image "
                     f"#{int(arrays['pair_image'])} (stage {int(arrays['pair/stage'][0]) + 1} of "
                     f"the mapping encoder, {int(arrays['pair/channels'][0])} channels at "
                     f"{src.shape[0]}×{src.shape[1]}, shown by shared PCA)", fontsize=7)
    return fig
