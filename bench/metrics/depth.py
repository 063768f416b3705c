"""Depth: :math:`\\mathrm{aErr} = \\sum |\\max(\\hat d, 10^{-9}) - d| / n`,
:math:`\\mathrm{rErr} = \\sum |\\max(\\hat d, 10^{-9}) - d| / d / n` over the :math:`n` valid pixels
(label ``!= 0``) of the split: predictions are clamped at 1e-9 first, as the official MTPSL
``DepthMeter`` does (only positive depths are possible).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from bench.metrics.base import TaskMetric


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
