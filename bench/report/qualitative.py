"""Qualitative grid like the paper's Fig. 4: input, ground truth and each method's predictions.

For a few validation images (evenly spaced over the split, so the choice is reproducible) the
grid has one block of columns per image — the input, then one column per task — and one row for
the ground truth plus one per method (its run with the lowest seed in the chosen regime, loaded
from ``model_final.pth``). Segmentation uses a fixed palette (ignored pixels black), depth a
colour map whose range comes from the image's valid ground truth (missing pixels grey), normals
``(n + 1) / 2`` as RGB (missing pixels grey). Each prediction carries its per-image score in the
upper-left corner: mIoU of that image (classes present in its ground truth or prediction), mean
absolute depth error, mean normal angle error, computed with :mod:`bench.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from bench.errors import BenchError
from bench.report.aggregate import Summary
from bench.report.names import arrow, dataset_display, method_short, regime_display, task_display
from bench.report.plotstyle import TEXT_WIDTH, paper_style

# NYUv2 13-class palette (as in common NYUv2 visualisations), Cityscapes 7-class palette
PALETTE_13 = np.array([
    [0, 0, 0], [0, 0, 1], [0.9137, 0.3490, 0.1882], [0, 0.8549, 0], [0.5843, 0, 0.9412],
    [0.8706, 0.9451, 0.0941], [1.0000, 0.8078, 0.8078], [0, 0.8784, 0.8980],
    [0.4157, 0.5333, 0.8000], [0.4588, 0.1137, 0.1608], [0.9412, 0.1373, 0.9216],
    [0, 0.6549, 0.6118], [0.9765, 0.5451, 0], [0.8824, 0.8980, 0.7608]])[1:]
PALETTE_7 = np.array([[128, 64, 128], [70, 70, 70], [250, 170, 30], [107, 142, 35],
                      [70, 130, 180], [220, 20, 60], [0, 0, 142]]) / 255.0
MISSING = 0.6  # grey of missing depth / normal labels
DEPTH_CMAP = matplotlib.colormaps["viridis"].with_extremes(bad=str(MISSING))


@dataclass
class Prediction:
    method: str
    run_path: str
    outputs: dict[str, torch.Tensor]  # task → [N, C, H, W] for the chosen images
    scores: dict[str, list[float]] = field(default_factory=dict)


def palette(num_classes: int) -> np.ndarray:
    """Fixed RGB colours (0–1) of ``num_classes`` classes."""
    if num_classes <= len(PALETTE_7) and num_classes != 13:
        return PALETTE_7[:num_classes]
    if num_classes <= len(PALETTE_13):
        return PALETTE_13[:num_classes]
    rng = np.random.default_rng(0)
    return np.vstack([PALETTE_13, rng.uniform(0.1, 0.95, (num_classes - len(PALETTE_13), 3))])


def colour_segmentation(label: np.ndarray, num_classes: int) -> np.ndarray:
    """Class map ``[H, W]`` → RGB; ignored (out-of-range) pixels black."""
    pal = palette(num_classes)
    valid = (label >= 0) & (label < num_classes)
    rgb = np.zeros((*label.shape, 3))
    rgb[valid] = pal[label[valid].astype(int)]
    return rgb


def colour_normals(normal: np.ndarray) -> np.ndarray:
    """Normals ``[3, H, W]`` → RGB ``(n + 1) / 2``; all-zero (missing) pixels grey."""
    rgb = np.clip((np.moveaxis(normal, 0, -1) + 1.0) / 2.0, 0, 1)
    rgb[~np.any(normal != 0, axis=0)] = MISSING
    return rgb


def depth_range(label: np.ndarray) -> tuple[float, float]:
    """2nd–98th percentile of the valid ground-truth depth (shared by the row's images)."""
    valid = label[label != 0]
    if valid.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(valid, [2, 98])
    return float(lo), float(hi if hi > lo else lo + 1e-6)


def image_rgb(image: torch.Tensor) -> np.ndarray:
    arr = np.moveaxis(image.detach().cpu().numpy(), 0, -1).astype(float)
    if arr.min() < 0 or arr.max() > 1:
        arr = (arr - arr.min()) / max(arr.max() - arr.min(), 1e-9)
    return np.clip(arr, 0, 1)


def per_image_scores(task: Any, pred: torch.Tensor, label: torch.Tensor) -> list[float]:
    """The task's primary metric for each image (mIoU %, depth aErr, normal mean error °)."""
    from bench.metrics import (
        confusion_per_image,
        depth_stats_per_image,
        normal_stats_per_image,
        semantic_scores,
    )
    from bench.tasks import DepthTask, NormalTask, SemanticTask

    if isinstance(task, SemanticTask):
        conf = confusion_per_image(pred.argmax(1), label, task.num_classes).cpu().numpy()
        return [semantic_scores(c)["mIoU"] for c in conf]
    if isinstance(task, DepthTask):
        stats = depth_stats_per_image(pred.float(), label.float()).cpu().numpy()
        return [s[0] / s[2] if s[2] else float("nan") for s in stats]
    if isinstance(task, NormalTask):
        sums, _ = normal_stats_per_image(pred.float(), label.float())
        return [s[0] / s[1] if s[1] else float("nan") for s in sums.cpu().numpy()]
    return [float("nan")] * pred.shape[0]


def pick_regime(summary: Summary, wanted: str | None) -> str:
    """``wanted``, else ``onelabel``, else the first partial regime, else the first one."""
    regimes = list(dict.fromkeys(r for r, _ in summary.table.index))
    if wanted:
        from bench.regimes import parse_regime

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
    """(method, run folder) of the lowest seed of each method in ``regime``, in table order."""
    runs = summary.runs[summary.runs["regime"] == regime]
    out = []
    for method in dict.fromkeys(m for r, m in summary.table.index if r == regime):
        mine = runs[runs["method"] == method].sort_values("seed")
        if len(mine) and isinstance(mine.iloc[0]["path"], str):
            out.append((method, mine.iloc[0]["path"]))
    return out


def gather(summary: Summary, regime: str, images: int, data_root: Path | None,
           notes: list[str]) -> tuple[dict[str, Any], list[Any], list[Prediction]]:
    """Load the validation images and every chosen run's predictions on them."""
    from bench.engine.load import load_run_model, validation_set

    predictions: list[Prediction] = []
    batch: dict[str, Any] | None = None
    tasks: list[Any] = []
    for method, path in choose_runs(summary, regime):
        try:
            model, record = load_run_model(Path(path))
        except BenchError as exc:
            notes.append(f"qualitative: {method} left out ({exc.message})")
            continue
        if batch is None:
            try:
                dataset = validation_set(record, data_root)
            except BenchError as exc:
                raise BenchError(f"Qualitative figure needs the validation images: {exc.message}",
                                 "Pass --data-root DIR (the folder that holds the dataset) or "
                                 "--no-qualitative.") from None
            picks = np.unique(np.linspace(0, len(dataset) - 1, images).round().astype(int))
            samples = [dataset[int(i)] for i in picks]
            batch = {"index": [int(i) for i in picks],
                     "image": torch.stack([s["image"] for s in samples]),
                     "labels": {k: torch.stack([s["labels"][k] for s in samples])
                                for k in samples[0]["labels"]}}
            tasks = list(model.tasks)
        with torch.no_grad():
            out = {k: v.detach().cpu() for k, v in model.predict_tensors(batch["image"]).items()}
        if any(v.shape[-2:] != batch["image"].shape[-2:] for v in out.values()):
            notes.append(f"qualitative: {method} left out (prediction size differs)")
            continue
        pred = Prediction(method, path, out)
        for task in tasks:
            pred.scores[task.name] = per_image_scores(task, out[task.name],
                                                      batch["labels"][task.name])
        predictions.append(pred)
    if batch is None or not predictions:
        raise BenchError(f"No run of regime '{regime}' has final weights to draw predictions.",
                         "Only runs that finished with status ok keep model_final.pth.")
    return batch, tasks, predictions


def _show(ax: Any, task: Any, tensor: torch.Tensor, depth_lim: tuple[float, float]) -> None:
    from bench.tasks import DepthTask, NormalTask, SemanticTask

    arr = tensor.detach().cpu().numpy()
    if isinstance(task, SemanticTask):
        label = arr.argmax(0) if arr.ndim == 3 else arr
        ax.imshow(colour_segmentation(label, task.num_classes), interpolation="nearest")
    elif isinstance(task, DepthTask):
        depth = arr[0] if arr.ndim == 3 else arr
        ax.imshow(np.ma.masked_equal(depth, 0), cmap=DEPTH_CMAP, vmin=depth_lim[0], vmax=depth_lim[1],
                  interpolation="nearest")
    elif isinstance(task, NormalTask):
        ax.imshow(colour_normals(arr), interpolation="nearest")


def _blank(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.grid(False)


def qualitative_figure(summary: Summary, *, regime: str | None = None, images: int = 2,
                       data_root: Path | None = None, notes: list[str] | None = None) -> Figure:
    """The grid (see the module docstring); ``notes`` collects methods that were left out."""
    notes = notes if notes is not None else []
    regime = pick_regime(summary, regime)
    batch, tasks, predictions = gather(summary, regime, images, data_root, notes)
    n_img = batch["image"].shape[0]
    h, w = batch["image"].shape[-2:]
    cols = n_img * (1 + len(tasks))
    rows = 1 + len(predictions)
    cell = TEXT_WIDTH / cols
    score_fmt = {t.name: t.primary_metric for t in tasks}
    with paper_style():
        fig = Figure(figsize=(TEXT_WIDTH, cell * h / w * rows + 0.55), layout="constrained")
        fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
        grid = fig.subplots(rows, cols, squeeze=False)
        for i in range(n_img):
            c0 = i * (1 + len(tasks))
            depth_lims = {t.name: depth_range(batch["labels"][t.name][i].numpy()) for t in tasks}
            for r in range(rows):
                for c in range(cols // n_img):
                    _blank(grid[r][c0 + c])
            grid[0][c0].imshow(image_rgb(batch["image"][i]))
            grid[0][c0].set_title(f"input #{batch['index'][i]}", fontsize=6)
            for k, task in enumerate(tasks):
                ax = grid[0][c0 + 1 + k]
                _show(ax, task, batch["labels"][task.name][i], depth_lims[task.name])
                m = score_fmt[task.name]
                ax.set_title(f"{task_display(task.name)}\n{m.label} {arrow(m.higher_is_better)}",
                             fontsize=6)
            for r, pred in enumerate(predictions, start=1):
                grid[r][c0].text(0.5, 0.5, method_short(pred.method), ha="center",
                                 va="center", fontsize=6.5, transform=grid[r][c0].transAxes)
                for k, task in enumerate(tasks):
                    ax = grid[r][c0 + 1 + k]
                    _show(ax, task, pred.outputs[task.name][i], depth_lims[task.name])
                    score = pred.scores[task.name][i]
                    ax.text(0.03, 0.97, f"{score:.3g}" if np.isfinite(score) else "—",
                            transform=ax.transAxes,
                            ha="left", va="top", fontsize=5.5,
                            bbox={"boxstyle": "square,pad=0.15", "facecolor": "white",
                                  "alpha": 0.8, "linewidth": 0})
            grid[0][c0].set_ylabel("ground truth", fontsize=6)
        fig.suptitle(f"{dataset_display(summary.dataset)}, regime ‘{regime_display(regime)}’: "
                     "ground truth (top row) and predictions; per-image score in the corner",
                     fontsize=7)
    fig.qualitative_runs = pd.DataFrame(  # type: ignore[attr-defined]
        [{"method": p.method, "run": p.run_path} for p in predictions])
    return fig
