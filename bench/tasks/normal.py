"""Surface normals: cosine loss over valid pixels (all-zero label = missing), angle errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.registry import register_task
from bench.tasks.base import MISSING_GREY, MetricSpec, Task


@register_task("normal")
class NormalTask(Task):
    """Surface normals: cosine loss over valid pixels (all-zero label = missing); angle errors."""

    title = "Surface Normal"
    abbrev = "Norm."
    crop_mode = "bilinear"

    def __init__(self, name: str = "normal") -> None:
        self.name = name
        self.channels = 3
        self.metrics = (
            MetricSpec("mean", "mErr", False, 2, "°"),
            MetricSpec("median", "medErr", False, 2, "°"),
            MetricSpec("within11.25", "11.25°", True, 2, "%"),
            MetricSpec("within22.5", "22.5°", True, 2, "%"),
            MetricSpec("within30", "30°", True, 2, "%"),
        )
        self.primary = "mean"

    # -- labels ---------------------------------------------------------------------------------
    def valid_mask(self, label: torch.Tensor) -> torch.Tensor:
        return (label != 0).any(1)

    def blank_label(self, label: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(label)

    def check_array(self, array: np.ndarray, hw: tuple[int, int]) -> str | None:
        if array.shape != (*hw, 3):
            return f"shape {array.shape}, expected {(*hw, 3)} (H×W×3)."
        if not np.isfinite(array).all():
            return "normals must be finite."
        # squared length per pixel, component-wise in float64 (8× faster than np.linalg.norm
        # over the last axis, and no tiny component underflows to "missing")
        wide = array.astype(np.float64)
        x, y, z = wide[..., 0], wide[..., 1], wide[..., 2]
        squared = x * x + y * y + z * z
        valid = squared > 0
        if valid.any() and np.abs(np.sqrt(squared[valid]) - 1).max() > 0.05:
            return "normals must be unit vectors (or all-zero where missing)."
        return None

    def describe_array(self) -> str:
        return "H×W×3 unit normals, all-zero = missing"

    def follow_flip(self, label: torch.Tensor) -> torch.Tensor:
        """Mirrored map with the x component of every normal negated."""
        out = label.flip(-1).clone()
        out[0] = -out[0]
        return out

    def follow_rotation(self, label: torch.Tensor, angle: float) -> torch.Tensor:
        """In-plane components rotated with the image content (x right, y down):
        :math:`n_x' = n_x \\cos a + n_y \\sin a`, :math:`n_y' = -n_x \\sin a + n_y \\cos a`,
        :math:`n_z` unchanged (Vandenhende et al.'s ``ScaleNRotate``)."""
        c, s = float(np.cos(angle)), float(np.sin(angle))
        out = label.clone()
        out[0] = label[0] * c + label[1] * s
        out[1] = -label[0] * s + label[1] * c
        return out

    def random_label(self, batch: int, height: int, width: int,
                     generator: torch.Generator) -> torch.Tensor:
        return F.normalize(torch.randn(batch, 3, height, width, generator=generator), dim=1)

    # -- predictions and losses -----------------------------------------------------------------
    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        """Unit-length normals: :math:`\\hat n = o / \\lVert o \\rVert`."""
        return F.normalize(raw, dim=1, eps=1e-12)

    def pixel_loss(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """:math:`1 - \\hat n \\cdot n` per pixel."""
        return 1.0 - (pred * label).sum(1)

    def prediction_distance(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """:math:`1 - a \\cdot b` per pixel."""
        return 1.0 - (pred * target).sum(1)

    # -- metrics --------------------------------------------------------------------------------
    def build_metric(self) -> Any:
        from bench.metrics.normal import NormalMetric

        return NormalMetric(self.name)

    def score_per_image(self, pred: torch.Tensor, label: torch.Tensor) -> list[float]:
        """Mean angle error (°) of each image over its valid pixels."""
        from bench.metrics.normal import normal_stats_per_image

        sums, _ = normal_stats_per_image(pred.float(), label.float())
        return [s[0] / s[1] if s[1] else float("nan") for s in sums.cpu().numpy()]

    # -- cross-task mapping inputs --------------------------------------------------------------
    def encode_prediction(self, pred: torch.Tensor) -> torch.Tensor:
        """:math:`(n + 1) / 2` (official code)."""
        return (pred + 1.0) / 2.0

    def encode_label(self, label: torch.Tensor) -> torch.Tensor:
        return (label + 1.0) / 2.0

    # -- figures --------------------------------------------------------------------------------
    def visualise(self, value: torch.Tensor, reference: torch.Tensor) -> np.ndarray:
        """:math:`(n + 1) / 2` as RGB; all-zero (missing) pixels grey."""
        arr = value.detach().cpu().numpy()
        rgb = np.clip((np.moveaxis(arr, 0, -1) + 1.0) / 2.0, 0, 1)
        rgb[~np.any(arr != 0, axis=0)] = MISSING_GREY
        return rgb
