"""Evaluation metrics: one :class:`TaskMetric` per task, accumulated over the whole split.

:mod:`.base` (the prefixed ``BaseMetric``), :mod:`.semantic` (mIoU, pixel accuracy),
:mod:`.depth` (absolute and relative error), :mod:`.normal` (angle errors), :mod:`.parts`
(human parts on images with people), :mod:`.saliency` (IoU, max F), :mod:`.edge` (odsF, with
the batched thinning of :mod:`.edge_thinning`).
"""

from bench.metrics.base import TaskMetric, build_metrics, metric_key
from bench.metrics.depth import DEPTH_MIN, DepthMetric, depth_stats_per_image
from bench.metrics.normal import (
    ANGLE_BIN_DEG,
    ANGLE_BINS,
    NormalMetric,
    histogram_median,
    normal_angles,
    normal_scores,
    normal_stats_per_image,
)
from bench.metrics.semantic import SemanticMetric, confusion_per_image, semantic_scores

__all__ = ["ANGLE_BINS", "ANGLE_BIN_DEG", "DEPTH_MIN", "DepthMetric", "NormalMetric",
           "SemanticMetric", "TaskMetric", "build_metrics", "confusion_per_image",
           "depth_stats_per_image", "histogram_median", "metric_key", "normal_angles",
           "normal_scores", "normal_stats_per_image", "semantic_scores"]
