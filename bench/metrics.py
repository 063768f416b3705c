"""Evaluation metrics as mmengine ``BaseMetric`` s, accumulated over the whole split.

``process`` turns each image of a batch into small sufficient statistics (a confusion matrix,
error sums and counts, an angle histogram); ``compute_metrics`` adds them up over the split and
only then divides, so the result does not depend on batch size or image order:

* semantic: one confusion matrix :math:`C` over all valid pixels;
  :math:`\\mathrm{IoU}_c = C_{cc} / (\\sum_j C_{cj} + \\sum_i C_{ic} - C_{cc})`, mIoU is the mean over
  the classes present in the ground truth or the predictions (absent classes are undefined, not
  0), pixel accuracy :math:`\\sum_c C_{cc} / \\sum C`; both in percent.
* depth: :math:`\\mathrm{aErr} = \\sum |\\max(\\hat d, 10^{-9}) - d| / n`,
  :math:`\\mathrm{rErr} = \\sum |\\max(\\hat d, 10^{-9}) - d| / d / n` over the :math:`n` valid
  pixels (label ``!= 0``) of the split: predictions are clamped at 1e-9 first, as the official
  MTPSL ``DepthMeter`` does (only positive depths are possible).
* normals: angle :math:`\\theta = \\arccos(\\mathrm{clip}(\\hat n \\cdot n, -1, 1))` in degrees over the
  valid pixels (label not all-zero); mean, median and the percentage of pixels with
  :math:`\\theta` below 11.25°, 22.5° and 30°. The median comes from a histogram with 0.01° bins
  (exact to ±0.005°); the other numbers are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

ANGLE_BIN_DEG = 0.01
ANGLE_BINS = int(round(180 / ANGLE_BIN_DEG))


class TaskMetric(BaseMetric):
    """A metric of one task: its scores are prefixed with the task's name (``semantic/mIoU``)."""

    def __init__(self, task: str, **kwargs: Any) -> None:
        super().__init__(prefix=task, **kwargs)
        self.task = task

    def predictions_and_labels(self, data_batch: Any, data_samples: Sequence[dict]
                               ) -> tuple[torch.Tensor, torch.Tensor]:
        """The task's predictions of the batch stacked ``[B, …]`` and its labels, on the
        predictions' device."""
        pred = torch.stack([s[self.task] for s in data_samples])
        return pred, data_batch["labels"][self.task].to(pred.device)


class SemanticMetric(TaskMetric):
    """mIoU and pixel accuracy from one confusion matrix over the split."""

    def __init__(self, task: str, num_classes: int, **kwargs: Any) -> None:
        super().__init__(task, **kwargs)
        self.num_classes = num_classes

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        pred, label = self.predictions_and_labels(data_batch, data_samples)
        for row in confusion_per_image(pred, label, self.num_classes):
            self.results.append(row.cpu().numpy())

    def compute_metrics(self, results: list) -> dict[str, float]:
        return semantic_scores(np.sum(results, axis=0))


def confusion_per_image(pred: torch.Tensor, label: torch.Tensor, n: int) -> torch.Tensor:
    """Confusion matrices ``[B, n, n]`` (rows: ground truth, columns: prediction)."""
    b = pred.shape[0]
    valid = (label >= 0) & (label < n)
    image = torch.arange(b, device=pred.device).view(b, 1, 1).expand_as(label)
    index = (image * n * n + label.long() * n + pred.long())[valid]
    return torch.bincount(index, minlength=b * n * n).view(b, n, n)


def semantic_scores(confusion: np.ndarray) -> dict[str, float]:
    """mIoU and pixel accuracy (percent) of a summed confusion matrix."""
    confusion = confusion.astype(np.float64)
    tp = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
    total = confusion.sum()
    return {
        "mIoU": float(np.nanmean(iou) * 100) if np.isfinite(iou).any() else float("nan"),
        "pixAcc": float(tp.sum() / total * 100) if total > 0 else float("nan"),
    }


class DepthMetric(TaskMetric):
    """Absolute and relative depth error over all valid pixels of the split."""

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        pred, label = self.predictions_and_labels(data_batch, data_samples)
        pred, label = pred.float(), label.float()
        for row in depth_stats_per_image(pred, label):
            self.results.append(row.cpu().numpy())

    def compute_metrics(self, results: list) -> dict[str, float]:
        abs_sum, rel_sum, count = np.sum(np.asarray(results, dtype=np.float64), axis=0)
        if count == 0:
            return {"absErr": float("nan"), "relErr": float("nan")}
        return {"absErr": abs_sum / count, "relErr": rel_sum / count}


#: predictions are clamped to at least this before the depth error (official ``DepthMeter``)
DEPTH_MIN = 1e-9


def depth_stats_per_image(pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """``[B, 3]``: sum of absolute errors, sum of relative errors, number of valid pixels.

    Predictions are clamped to at least :data:`DEPTH_MIN` first, as the official meter does.
    """
    pred = pred.clamp_min(DEPTH_MIN)
    valid = label != 0
    err = (pred - label).abs() * valid
    rel = err / torch.where(valid, label.abs(), torch.ones_like(label))
    return torch.stack(
        [err.flatten(1).double().sum(1), rel.flatten(1).double().sum(1),
         valid.flatten(1).sum(1).double()], dim=1)


class NormalMetric(TaskMetric):
    """Mean / median angular error and % of pixels within 11.25°, 22.5°, 30°."""

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        pred, label = self.predictions_and_labels(data_batch, data_samples)
        pred, label = pred.float(), label.float()
        sums, hist = normal_stats_per_image(pred, label)
        for s, h in zip(sums.cpu().numpy(), hist.cpu().numpy(), strict=True):
            self.results.append((s, h))

    def compute_metrics(self, results: list) -> dict[str, float]:
        sums = np.sum([r[0] for r in results], axis=0)
        hist = np.sum([r[1] for r in results], axis=0)
        return normal_scores(sums, hist)


def normal_angles(pred: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Angular error in degrees ``[B, H, W]`` and the valid mask ``[B, H, W]``."""
    valid = (label != 0).any(1)
    cos = (pred * label).sum(1).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos.double())), valid


def normal_stats_per_image(pred: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``[B, 5]`` (sum of angles, count, #<11.25°, #<22.5°, #<30°) and ``[B, bins]`` histogram."""
    angle, valid = normal_angles(pred, label)
    b = angle.shape[0]
    v = valid.double()
    sums = torch.stack([
        (angle * v).flatten(1).sum(1), v.flatten(1).sum(1),
        ((angle < 11.25) & valid).flatten(1).sum(1).double(),
        ((angle < 22.5) & valid).flatten(1).sum(1).double(),
        ((angle < 30.0) & valid).flatten(1).sum(1).double(),
    ], dim=1)
    bins = (angle / ANGLE_BIN_DEG).long().clamp(0, ANGLE_BINS - 1)
    image = torch.arange(b, device=angle.device).view(b, 1, 1).expand_as(bins)
    hist = torch.bincount((image * ANGLE_BINS + bins)[valid], minlength=b * ANGLE_BINS)
    return sums, hist.view(b, ANGLE_BINS).to(torch.int32)


def normal_scores(sums: np.ndarray, hist: np.ndarray) -> dict[str, float]:
    angle_sum, count, n11, n22, n30 = (float(x) for x in sums)
    if count == 0:
        nan = float("nan")
        return {"mean": nan, "median": nan, "within11.25": nan, "within22.5": nan, "within30": nan}
    return {
        "mean": angle_sum / count,
        "median": histogram_median(hist) if hist.sum() else float("nan"),
        "within11.25": n11 / count * 100,
        "within22.5": n22 / count * 100,
        "within30": n30 / count * 100,
    }


def histogram_median(hist: np.ndarray) -> float:
    """Median of values binned with width ``ANGLE_BIN_DEG`` (centre of the median bin)."""
    cum = np.cumsum(hist, dtype=np.int64)
    total = int(cum[-1])
    # lower median for even counts, like numpy on the binned values
    k = (total - 1) // 2
    lo = int(np.searchsorted(cum, k + 1))
    if total % 2 == 1:
        return (lo + 0.5) * ANGLE_BIN_DEG
    hi = int(np.searchsorted(cum, k + 2))
    return (lo + hi + 1) / 2 * ANGLE_BIN_DEG


def build_metrics(tasks: Sequence[Any]) -> list[BaseMetric]:
    """One metric per task (:meth:`bench.tasks.Task.build_metric`), in task order."""
    return [task.build_metric() for task in tasks]


def metric_key(task: str, metric: str) -> str:
    """The key under which mmengine reports ``metric`` of ``task`` (``'semantic/mIoU'``)."""
    return f"{task}/{metric}"
