"""Semantic edges: weighted binary cross-entropy and the optimal dataset F-measure (odsF)."""

from __future__ import annotations

from typing import Any

import torch

from bench.registry import register_task
from bench.tasks.base import MetricSpec
from bench.tasks.binary import BinaryTask

#: positive weight of the edge loss (Vandenhende et al.: ``edge_w = 0.95``)
EDGE_POSITIVE_WEIGHT = 0.95
#: matching tolerance of the boundary benchmark on PASCAL-Context, as a fraction of the image
#: diagonal (seism ``maxDist``)
EDGE_MAX_DIST = 0.0075
#: number of probability thresholds 0.01, 0.02, …, 0.99 (as the reference evaluation)
EDGE_THRESHOLDS = 99


@register_task("edge")
class EdgeTask(BinaryTask):
    """Binary semantic edges: BCE with fixed positive weight 0.95, loss weight 50, odsF.

    Per pixel :math:`-0.95\\,y \\log\\sigma(o) - 0.05\\,(1-y) \\log(1-\\sigma(o))`, averaged over the
    image (Vandenhende et al.'s ``BalancedCrossEntropyLoss(pos_weight=0.95)``). The metric is the
    optimal dataset F-measure of the BSDS boundary benchmark, computed with pyEdgeEval
    (:mod:`bench.metrics.edge`).
    """

    title = "Edge"
    abbrev = "Edge"

    def __init__(self, name: str = "edge", loss_weight: float = 50.0,
                 positive: float = EDGE_POSITIVE_WEIGHT, max_dist: float = EDGE_MAX_DIST,
                 thresholds: int = EDGE_THRESHOLDS) -> None:
        self.name = name
        self.loss_weight = float(loss_weight)
        self.positive = float(positive)
        self.max_dist = float(max_dist)
        self.thresholds = int(thresholds)
        self.metrics = (MetricSpec("odsF", "odsF", True, 2, "%"),)
        self.primary = "odsF"

    def positive_weight(self, label: torch.Tensor) -> torch.Tensor:
        return torch.full((label.shape[0], 1, 1), self.positive, device=label.device)

    def build_metric(self) -> Any:
        from bench.metrics.edge import EdgeMetric

        return EdgeMetric(self.name, max_dist=self.max_dist, thresholds=self.thresholds)

    def score_per_image(self, pred: torch.Tensor, label: torch.Tensor) -> list[float]:
        """F-measure (%) of each image at its best threshold (the image's oisF)."""
        from bench.metrics.edge import edge_counts, f_measure_at_best

        probs = torch.sigmoid(pred.float())
        return [f_measure_at_best(edge_counts(p, lab, self.max_dist, self.thresholds))
                for p, lab in zip(probs, label, strict=True)]
