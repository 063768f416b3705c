"""Saliency: class-balanced binary cross-entropy, IoU and max F-measure over thresholds."""

from __future__ import annotations

from typing import Any

import torch

from bench.registry import register_task
from bench.tasks.base import MetricSpec
from bench.tasks.binary import BinaryTask


@register_task("saliency")
class SaliencyTask(BinaryTask):
    """Binary saliency (Vandenhende et al.): balanced BCE with the HED weight, IoU and maxF.

    The positive weight of image :math:`n` is its share of negative pixels,
    :math:`w_n = |Y_-| / (|Y_-| + |Y_+|)` over its valid pixels (the reference computes it over the
    batch; per image it does not depend on the batch composition). Loss weight 5.
    """

    title = "Saliency"
    abbrev = "Sal."

    def __init__(self, name: str = "saliency", loss_weight: float = 5.0) -> None:
        self.name = name
        self.loss_weight = float(loss_weight)
        self.metrics = (
            MetricSpec("mIoU", "IoU", True, 2, "%"),
            MetricSpec("maxF", "maxF", True, 2, "%"),
        )
        self.primary = "mIoU"

    def positive_weight(self, label: torch.Tensor) -> torch.Tensor:
        valid = (label[:, 0] >= 0).flatten(1)
        negative = ((label[:, 0] >= 0) & (label[:, 0] < 0.5)).flatten(1)
        w = negative.sum(1).float() / valid.sum(1).clamp_min(1).float()
        return w.view(-1, 1, 1)

    def build_metric(self) -> Any:
        from bench.metrics.saliency import SaliencyMetric

        return SaliencyMetric(self.name)

    def score_per_image(self, pred: torch.Tensor, label: torch.Tensor) -> list[float]:
        """IoU (%) of each image at the threshold 0.5."""
        from bench.metrics.saliency import saliency_stats

        stats = saliency_stats(torch.sigmoid(pred.float()), label.float(), (0.5,))
        return [float(s[0, 0]) * 100 if s[0, 3] else float("nan") for s in stats]
