"""Edge detection metric: the optimal dataset F-measure (odsF) of the BSDS boundary benchmark.

For each image and threshold :math:`\\tau_k = k/100`, :math:`k = 1…99`, the predicted edge map
:math:`\\{\\sigma(o) \\ge \\tau_k\\}` is thinned to one-pixel width (MATLAB's
``bwmorph(·, 'thin')`` as pyEdgeEval ports it, on all thresholds at once:
:mod:`bench.metrics.edge_thinning`) and matched one-to-one to the ground-truth edge pixels, allowing a
distance of at most ``max_dist`` × the image diagonal (0.0075 on PASCAL-Context, seism's
setting); this is pyEdgeEval's port of the BSDS
``correspondPixels`` (no MATLAB). Per image and threshold it yields the matched ground-truth
pixels :math:`c^r`, all ground-truth pixels :math:`s^r`, the matched predicted pixels :math:`c^p`
and all predicted pixels :math:`s^p`. Summed over the split,
:math:`R_k = \\sum c^r / \\sum s^r`, :math:`P_k = \\sum c^p / \\sum s^p`, and

.. math:: \\mathrm{odsF} = \\max_{\\tau} \\frac{2 P(\\tau) R(\\tau)}{P(\\tau) + R(\\tau)}

with :math:`P, R` linearly interpolated between neighbouring thresholds (101 steps each), in
percent. Pixels whose label is missing (−1) are neither ground truth nor counted as predictions.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from bench.metrics.base import TaskMetric
from bench.metrics.edge_thinning import thin_stack


@lru_cache(maxsize=1)
def _pyedgeeval() -> tuple[Any, Any, Any]:
    # pyEdgeEval prints a note about .mat support on import; keep it off the console
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from pyEdgeEval._lib import correspond_pixels
        from pyEdgeEval.common.metrics import compute_rec_prec_f1, interpolated_max_scores
    return correspond_pixels, compute_rec_prec_f1, interpolated_max_scores


def thresholds_of(count: int) -> np.ndarray:
    """``count`` thresholds evenly inside (0, 1): 0.01 … 0.99 for 99."""
    return np.linspace(1.0 / (count + 1), count / (count + 1), count)


def edge_counts(prob: torch.Tensor, label: torch.Tensor, max_dist: float,
                thresholds: int) -> np.ndarray:
    """``[4, T]`` = (matched gt, all gt, matched predicted, all predicted) of one image.

    ``prob`` and ``label`` are ``[1, H, W]`` (or ``[H, W]``); label −1 = missing. The same
    computation as pyEdgeEval's ``evaluate_boundaries_threshold`` (thinning on, NMS off), with
    the thresholded maps thinned together (:func:`bench.metrics.edge_thinning.thin_stack`; a map equal
    to the previous threshold's is thinned once). Every threshold still calls the BSDS matcher,
    as the reference does: its assignment is randomised, so its counts may differ by a pixel
    from call to call, and the reference's odsF is the best over those calls.
    """
    correspond, _, _ = _pyedgeeval()
    lab = label.detach().cpu().numpy().reshape(label.shape[-2:])
    pred = prob.detach().cpu().double().numpy().reshape(prob.shape[-2:])
    valid = lab >= 0
    pred = np.where(valid, pred, 0.0)
    gt = (lab > 0.5) & valid
    maps = pred[None] >= thresholds_of(thresholds)[:, None, None]
    new = np.ones(len(maps), dtype=bool)  # differs from the previous threshold's map
    new[1:] = (maps[1:] != maps[:-1]).any(axis=(1, 2))
    thinned = thin_stack(maps[new])[np.cumsum(new) - 1]
    counts = np.zeros((4, len(maps)), dtype=np.float64)
    counts[3] = thinned.sum(axis=(1, 2))
    if gt.any():  # without ground truth every predicted pixel is a false positive
        counts[1] = gt.sum()
        for k, edges in enumerate(thinned):
            matched_pred, matched_gt, _, _ = correspond(edges, gt, max_dist=max_dist)
            counts[0, k], counts[2, k] = (matched_gt > 0).sum(), (matched_pred > 0).sum()
    return counts


def ods_f(counts: np.ndarray, thresholds: int) -> float:
    """odsF (percent) of counts summed over a split (``[4, T]``)."""
    _, prf, interpolated = _pyedgeeval()
    rec, prec, _ = prf(counts[0], counts[1], counts[2], counts[3])
    _, _, _, best = interpolated(thresholds_of(thresholds), rec, prec)
    return float(best) * 100


def f_measure_at_best(counts: np.ndarray) -> float:
    """F-measure (percent) of one image at its best threshold (no interpolation)."""
    _, prf, _ = _pyedgeeval()
    _, _, f = prf(counts[0], counts[1], counts[2], counts[3])
    return float(np.max(f)) * 100


class EdgeMetric(TaskMetric):
    """odsF over the split, from per-image match counts at every threshold."""

    def __init__(self, task: str, max_dist: float = 0.0075, thresholds: int = 99,
                 **kwargs: Any) -> None:
        super().__init__(task, **kwargs)
        self.max_dist = max_dist
        self.thresholds = thresholds

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        labels = data_batch["labels"][self.task]
        for sample, label in zip(data_samples, labels, strict=True):
            self.results.append(edge_counts(sample[self.task], label, self.max_dist,
                                            self.thresholds))

    def compute_metrics(self, results: list) -> dict[str, float]:
        return {"odsF": ods_f(np.sum(results, axis=0), self.thresholds)}
