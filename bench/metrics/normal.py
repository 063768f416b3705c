"""Surface normals: angle :math:`\\theta = \\arccos(\\mathrm{clip}(\\hat n \\cdot n, -1, 1))` in degrees
over the valid pixels (label not all-zero); mean, median and the percentage of pixels with
:math:`\\theta` below 11.25°, 22.5° and 30°. The median comes from a histogram with 0.01° bins
(exact to ±0.005°); the other numbers are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from bench.metrics.base import TaskMetric

ANGLE_BIN_DEG = 0.01
ANGLE_BINS = int(round(180 / ANGLE_BIN_DEG))


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
