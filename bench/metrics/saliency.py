"""Saliency metrics of Vandenhende et al.: IoU and max F-measure over probability thresholds.

For each image :math:`n` and threshold :math:`\\tau \\in \\{0.2, 0.25, …, 0.9\\}` (15 values) the
prediction :math:`P = \\{\\sigma(o) > \\tau\\}` is compared with the salient pixels :math:`G` over the
valid pixels: :math:`J_{n\\tau} = |P \\cap G| / |P \\cup G|` (1 when both are empty),
:math:`p_{n\\tau} = |P\\cap G| / (|P| + 10^{-12})`, :math:`r_{n\\tau} = |P\\cap G| / (|G| + 10^{-12})`.
Over the :math:`N` images of the split,

.. math::
    \\mathrm{IoU} = \\max_\\tau \\tfrac1N \\sum_n J_{n\\tau}, \\qquad
    \\mathrm{maxF} = \\max_\\tau
    \\frac{2 \\bar p_\\tau \\bar r_\\tau}{\\bar p_\\tau + \\bar r_\\tau + 10^{-12}},
    \\quad \\bar p_\\tau = \\tfrac1N \\sum_n p_{n\\tau},\\ \\bar r_\\tau = \\tfrac1N \\sum_n r_{n\\tau},

both in percent. The IoU is reported under the key ``mIoU`` (the paper's "Sal. (IoU)").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from bench.metrics.base import TaskMetric

#: thresholds of the reference evaluation: ``np.linspace(0.2, 0.9, 15)``
SALIENCY_THRESHOLDS = tuple(float(t) for t in np.linspace(0.2, 0.9, 15))


def saliency_stats(prob: torch.Tensor, label: torch.Tensor,
                   thresholds: Sequence[float] = SALIENCY_THRESHOLDS) -> np.ndarray:
    """Per image and threshold: ``[B, T, 4]`` = (IoU, precision, recall, has-valid-pixels).

    ``prob`` and ``label`` are ``[B, 1, H, W]``; label −1 marks pixels left out.
    """
    valid = label[:, 0] >= 0
    gt = (label[:, 0] > 0.5) & valid
    out = np.zeros((prob.shape[0], len(thresholds), 4))
    any_valid = valid.flatten(1).any(1).cpu().numpy()
    for j, tau in enumerate(thresholds):
        pred = (prob[:, 0] > tau) & valid
        inter = (pred & gt).flatten(1).sum(1).double()
        union = (pred | gt).flatten(1).sum(1).double()
        npred = pred.flatten(1).sum(1).double()
        ngt = gt.flatten(1).sum(1).double()
        iou = torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(inter))
        out[:, j, 0] = iou.cpu().numpy()
        out[:, j, 1] = (inter / (npred + 1e-12)).cpu().numpy()
        out[:, j, 2] = (inter / (ngt + 1e-12)).cpu().numpy()
    out[:, :, 3] = any_valid[:, None]
    return out


def saliency_scores(stats: np.ndarray) -> dict[str, float]:
    """IoU and maxF (percent) from the stacked per-image statistics ``[N, T, 4]``."""
    stats = stats[stats[:, 0, 3] > 0]
    if len(stats) == 0:
        return {"mIoU": float("nan"), "maxF": float("nan")}
    iou = stats[:, :, 0].mean(0)
    prec, rec = stats[:, :, 1].mean(0), stats[:, :, 2].mean(0)
    f = 2 * prec * rec / (prec + rec + 1e-12)
    return {"mIoU": float(iou.max() * 100), "maxF": float(f.max() * 100)}


class SaliencyMetric(TaskMetric):
    """IoU and maxF of saliency over the split (images without valid pixels left out)."""

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        prob, label = self.predictions_and_labels(data_batch, data_samples)
        prob, label = prob.float(), label.float()
        for row in saliency_stats(prob, label):
            self.results.append(row)

    def compute_metrics(self, results: list) -> dict[str, float]:
        return saliency_scores(np.stack(results))
