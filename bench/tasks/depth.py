"""Depth (or inverse depth): L1 over valid pixels (label ``0`` = missing), absolute error."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bench.registry import register_task
from bench.tasks.base import MISSING_GREY, MetricSpec, Task


def depth_range(label: np.ndarray) -> tuple[float, float]:
    """2nd–98th percentile of the valid (non-zero) depth of a label: a figure's colour range."""
    valid = label[label != 0]
    if valid.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(valid, [2, 98])
    return float(lo), float(hi if hi > lo else lo + 1e-6)


@register_task("depth")
class DepthTask(Task):
    """Depth (or inverse depth): L1 over valid pixels (label ``0`` = missing); absolute error."""

    title = "Depth"
    abbrev = "Depth"

    def __init__(self, name: str = "depth", decimals: int = 4, inverse: bool = False) -> None:
        self.name = name
        self.inverse = inverse
        self.channels = 1
        self.metrics = (
            MetricSpec("absErr", "aErr", False, decimals),
            MetricSpec("relErr", "rErr", False, decimals),
        )
        self.primary = "absErr"

    # -- labels ---------------------------------------------------------------------------------
    def valid_mask(self, label: torch.Tensor) -> torch.Tensor:
        return label[:, 0] != 0

    def blank_label(self, label: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(label)

    def check_array(self, array: np.ndarray, hw: tuple[int, int]) -> str | None:
        if array.shape != (*hw, 1):
            return f"shape {array.shape}, expected {(*hw, 1)} (H×W×1)."
        if not np.isfinite(array).all() or (array < 0).any():
            return "depth must be finite and ≥ 0 (0 = missing)."
        return None

    def describe_array(self) -> str:
        what = "inverse depth" if self.inverse else "depth in metres"
        return f"H×W×1 {what}, 0 = missing"

    def follow_zoom(self, values: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
        """Depth divided by the zoom: zooming in by ``s`` brings the scene ``s`` times closer.

        (The official Cityscapes code divides its inverse-depth labels the same way; the harness
        follows it for comparability.) A tensor ``scale`` holds one zoom per image of a batch.
        """
        if isinstance(scale, torch.Tensor):
            scale = scale.view(-1, *([1] * (values.dim() - 1)))
        return values / scale

    def random_label(self, batch: int, height: int, width: int,
                     generator: torch.Generator) -> torch.Tensor:
        return torch.rand(batch, 1, height, width, generator=generator) * 5 + 0.1

    # -- predictions and losses -----------------------------------------------------------------
    def pixel_loss(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """:math:`|\\hat d - d|` per pixel."""
        return (pred - label).abs()[:, 0]

    def prediction_distance(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """:math:`|a - b|` per pixel."""
        return (pred - target).abs()[:, 0]

    # -- metrics --------------------------------------------------------------------------------
    def build_metric(self) -> Any:
        from bench.metrics.depth import DepthMetric

        return DepthMetric(self.name)

    def score_per_image(self, pred: torch.Tensor, label: torch.Tensor) -> list[float]:
        """Mean absolute error of each image over its valid pixels."""
        from bench.metrics.depth import depth_stats_per_image

        stats = depth_stats_per_image(pred.float(), label.float()).cpu().numpy()
        return [s[0] / s[2] if s[2] else float("nan") for s in stats]

    # -- cross-task mapping inputs --------------------------------------------------------------
    def encode_prediction(self, pred: torch.Tensor) -> torch.Tensor:
        """Depth divided by its per-image maximum (official code: ``pred / (pred.max() + 1e-12)``)."""
        peak = pred.flatten(1).amax(1).view(-1, 1, 1, 1)
        return pred / (peak + 1e-12)

    def encode_label(self, label: torch.Tensor) -> torch.Tensor:
        peak = label.flatten(1).amax(1).view(-1, 1, 1, 1)
        return label / (peak + 1e-12)

    # -- figures --------------------------------------------------------------------------------
    def visualise(self, value: torch.Tensor, reference: torch.Tensor) -> np.ndarray:
        """Viridis over the label's 2nd–98th percentile; missing (0) pixels grey."""
        import matplotlib

        arr = value.detach().cpu().numpy()
        depth = arr[0] if arr.ndim == 3 else arr
        lo, hi = depth_range(reference.detach().cpu().numpy())
        rgb = matplotlib.colormaps["viridis"](np.clip((depth - lo) / (hi - lo), 0, 1))[..., :3]
        rgb[depth == 0] = MISSING_GREY
        return rgb
