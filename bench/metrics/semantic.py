"""Semantic segmentation: one confusion matrix :math:`C` over all valid pixels of the split.

:math:`\\mathrm{IoU}_c = C_{cc} / (\\sum_j C_{cj} + \\sum_i C_{ic} - C_{cc})`; mIoU is the mean over
the classes present in the ground truth or the predictions (absent classes are undefined, not
0), pixel accuracy :math:`\\sum_c C_{cc} / \\sum C`; both in percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from bench.metrics.base import TaskMetric


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
