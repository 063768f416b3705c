"""Mapped outputs of the cross-task method for one image, like the paper's Fig. 3.

For a trained ``xtc``-family run (anything with a :class:`~bench.nets.mapping.CrossTaskMapping`
in ``model.mapping``) and one validation image, each row is one ordered task pair (s, t):

    pair | ŷ^s (prediction of s) | m^{s→st}(ŷ^s) | y^t (label of t) | m^{t→st}(y^t) | cos

The mapped columns are the intermediate feature map of the mapping (the paper shows "the output
of the mapping function's last second layer"; here the deepest encoder stage, before its pooling,
whose shorter side is still ≥ 8 pixels, so the map stays readable at CPU sizes). A C-channel map
is drawn as RGB by projecting its pixels onto their first three principal components; the two
maps of a row share one projection (fitted on both), so equal colours mean equal features. The
last column is the per-pixel cosine similarity of the two maps (1 = the joint space agrees).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from bench.errors import BenchError
from bench.report.names import method_display, task_short
from bench.report.plotstyle import TEXT_WIDTH, paper_style
from bench.report.qualitative import _blank, _show, depth_range

MIN_SIDE = 8


def stage_outputs(mapping: Any, inputs: list[torch.Tensor | None], input_task: torch.Tensor,
                  pair: torch.Tensor) -> list[torch.Tensor]:
    """Output of every encoder stage of the mapping (before pooling), for the given rows."""
    captured: list[torch.Tensor] = []
    hooks = [block.register_forward_hook(lambda _m, _i, out: captured.append(out.detach()))
             for block in mapping.mapfns.conv_block_enc]
    try:
        mapping(inputs, input_task, pair)
    finally:
        for h in hooks:
            h.remove()
    return captured


def pick_stage(stages: list[torch.Tensor], min_side: int = MIN_SIDE) -> int:
    """Deepest stage whose shorter side is ≥ ``min_side`` (else the first)."""
    ok = [i for i, s in enumerate(stages) if min(s.shape[-2:]) >= min_side]
    return ok[-1] if ok else 0


def pca_rgb(maps: list[np.ndarray]) -> list[np.ndarray]:
    """``[C, h, w]`` maps → ``[h, w, 3]`` images in [0, 1] through one shared 3-component PCA."""
    c = maps[0].shape[0]
    pixels = np.concatenate([m.reshape(c, -1).T for m in maps])
    centred = pixels - pixels.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    basis = vt[:3].T if vt.shape[0] >= 3 else np.pad(vt.T, ((0, 0), (0, 3 - vt.shape[0])))
    proj = centred @ basis
    lo, hi = np.percentile(proj, 1, axis=0), np.percentile(proj, 99, axis=0)
    proj = np.clip((proj - lo) / np.maximum(hi - lo, 1e-8), 0, 1)
    out, start = [], 0
    for m in maps:
        n = m.shape[1] * m.shape[2]
        out.append(proj[start:start + n].reshape(m.shape[1], m.shape[2], 3))
        start += n
    return out


def mapped_pairs(model: Any, image: torch.Tensor, labels: dict[str, torch.Tensor]
                 ) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Predictions of one image and, per ordered pair, both mapped maps and their cosine map."""
    from bench.nets.mapping import pair_index

    tasks = list(model.tasks)
    k = len(tasks)
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(0)  # the Gumbel sample of a segmentation prediction
        preds = model.predict_tensors(image[None])
        rows = []
        for si, s in enumerate(tasks):
            for ti, t in enumerate(tasks):
                if si == ti:
                    continue
                pair = pair_index(torch.tensor([si]), torch.tensor([ti]), k)
                src = [None] * k
                tgt = [None] * k
                src[si] = s.encode_prediction(preds[s.name])
                tgt[ti] = t.encode_label(labels[t.name][None])
                a = stage_outputs(model.mapping, src, torch.tensor([si]), pair)
                b = stage_outputs(model.mapping, tgt, torch.tensor([ti]), pair)
                stage = pick_stage(a)
                fa, fb = a[stage][0], b[stage][0]
                cos = torch.nn.functional.cosine_similarity(fa, fb, dim=0, eps=1e-12)
                rows.append({"s": s, "t": t, "source": fa.numpy(), "target": fb.numpy(),
                             "cos": cos.numpy(), "stage": stage})
    return {k_: v[0] for k_, v in preds.items()}, rows


def mapped_figure(run_dir: Path, *, image_index: int | None = None,
                  data_root: Path | None = None) -> Figure:
    """The figure of the module docstring for the run in ``run_dir``."""
    from bench.engine.load import load_run_model, validation_set

    model, record = load_run_model(Path(run_dir))
    if not hasattr(model, "mapping") or not hasattr(model.mapping, "mapfns"):
        raise BenchError(f"Run {run_dir} ({record['spec']['method']}) has no joint task-pair "
                         "mapping to draw.", "Pick a run of xtc or one of its variants.")
    dataset = validation_set(record, data_root)
    index = len(dataset) // 2 if image_index is None else int(image_index)
    sample = dataset[index]
    preds, rows = mapped_pairs(model, sample["image"], sample["labels"])
    ncols = 6
    h, w = sample["image"].shape[-2:]
    cell = TEXT_WIDTH / ncols
    titles = ["task pair", "prediction ŷˢ", "mapped m(ŷˢ)", "label yᵗ", "mapped m(yᵗ)",
              "cos(m(ŷˢ), m(yᵗ))"]
    with paper_style():
        fig = Figure(figsize=(TEXT_WIDTH, cell * h / w * len(rows) + 0.7), layout="constrained")
        grid = fig.subplots(len(rows), ncols, squeeze=False)
        im = None
        for r, row in enumerate(rows):
            s, t = row["s"], row["t"]
            for ax in grid[r]:
                _blank(ax)
            grid[r][0].text(0.5, 0.5, f"s: {task_short(s.name)}\nt: {task_short(t.name)}",
                            ha="center", va="center", fontsize=7, transform=grid[r][0].transAxes)
            _show(grid[r][1], s, preds[s.name], depth_range(sample["labels"][s.name].numpy()))
            _show(grid[r][3], t, sample["labels"][t.name],
                  depth_range(sample["labels"][t.name].numpy()))
            rgb_a, rgb_b = pca_rgb([row["source"], row["target"]])
            grid[r][2].imshow(rgb_a, interpolation="nearest")
            grid[r][4].imshow(rgb_b, interpolation="nearest")
            im = grid[r][5].imshow(row["cos"], cmap="RdBu", vmin=-1, vmax=1,
                                   interpolation="nearest")
            grid[r][5].text(0.03, 0.97, f"mean {row['cos'].mean():.2f}", transform=grid[r][5].transAxes,
                            ha="left", va="top", fontsize=5.5,
                            bbox={"boxstyle": "square,pad=0.15", "facecolor": "white",
                                  "alpha": 0.8, "linewidth": 0})
            if r == 0:
                for ax, title in zip(grid[0], titles, strict=True):
                    ax.set_title(title, fontsize=6.5)
        if im is not None:
            fig.colorbar(im, ax=grid[:, 5].tolist(), shrink=0.6, label="cosine")
        fa = rows[0]["source"]
        fig.suptitle(f"{method_display(record['spec']['method'])}: task-pair mappings of "
                     f"validation image #{index} (stage {rows[0]['stage'] + 1} of the mapping "
                     f"encoder, {fa.shape[0]} channels at {fa.shape[1]}×{fa.shape[2]}, shown by "
                     "shared PCA)", fontsize=7)
    fig.mapped_rows = [(r["s"].name, r["t"].name, float(r["cos"].mean()))  # type: ignore[attr-defined]
                       for r in rows]
    return fig
