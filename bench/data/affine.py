"""Random flip, rotation and scaling about the image centre (Vandenhende et al.'s PASCAL protocol).

:class:`RandomScaleRotate` mirrors the sample with probability 0.5, then rotates its content by
an angle :math:`\\theta \\sim U(-20°, 20°)` and scales it by :math:`s \\sim U(0.75, 1.25)` about the
centre :math:`c = (W/2, H/2)`: pixel :math:`p` (x right, y down) moves to
:math:`p' = s R_\\theta (p - c) + c` with :math:`R_\\theta = [[\\cos\\theta, \\sin\\theta],
[-\\sin\\theta, \\cos\\theta]]` (OpenCV's ``getRotationMatrix2D``, counter-clockwise as displayed).
The image is resampled bilinearly with black outside; each label as its task says
(:attr:`~bench.tasks.Task.crop_mode`), its values follow the rotation and the zoom
(:meth:`~bench.tasks.Task.follow_rotation`, :meth:`~bench.tasks.Task.follow_zoom`), and pixels
that come from outside the image are missing (the task's blank label; the reference fills them
with 0, which for class maps would mean "background").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from bench.tasks import Task


class RandomScaleRotate:
    """Flip (p = 0.5), then rotate by U(−20°, 20°) and scale by U(0.75, 1.25) about the centre."""

    def __init__(self, rotation_deg: float = 20.0, scales: tuple[float, float] = (0.75, 1.25),
                 flip: bool = True) -> None:
        self.rotation_deg = float(rotation_deg)
        self.scales = (float(scales[0]), float(scales[1]))
        self.flip = flip

    def __call__(self, rng: np.random.Generator, image: torch.Tensor,
                 labels: dict[str, torch.Tensor], tasks: Sequence[Task]
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        flip = self.flip and bool(rng.random() < 0.5)
        angle = float(np.radians(rng.uniform(-self.rotation_deg, self.rotation_deg)))
        scale = float(rng.uniform(*self.scales))
        if flip:
            image = image.flip(-1)
            labels = {t.name: t.follow_flip(labels[t.name]) for t in tasks}
        return warp_sample(image, labels, tasks, angle, scale)


def source_grid(height: int, width: int, angle: float, scale: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """For every output pixel, its source position as a ``grid_sample`` grid ``[1, H, W, 2]``
    (``align_corners=True``) and whether that position lies inside the image ``[H, W]``."""
    cx, cy = width / 2.0, height / 2.0
    c, s = np.cos(angle), np.sin(angle)
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64),
                            torch.arange(width, dtype=torch.float64), indexing="ij")
    # inverse of p' = s R (p - c) + c:  p = R^T (p' - c) / s + c
    dx, dy = (xs - cx) / scale, (ys - cy) / scale
    sx = c * dx - s * dy + cx
    sy = s * dx + c * dy + cy
    inside = (sx >= -0.5) & (sx <= width - 0.5) & (sy >= -0.5) & (sy <= height - 0.5)
    gx = 2 * sx / max(width - 1, 1) - 1
    gy = 2 * sy / max(height - 1, 1) - 1
    return torch.stack([gx, gy], dim=-1)[None].float(), inside


def warp(x: torch.Tensor, grid: torch.Tensor, mode: str) -> torch.Tensor:
    """Resample ``[C, H, W]`` (or ``[H, W]``) at ``grid`` (zeros outside)."""
    flat = x.float()[None] if x.dim() == 3 else x.float()[None, None]
    out = F.grid_sample(flat, grid, mode=mode, padding_mode="zeros", align_corners=True)
    return (out[0] if x.dim() == 3 else out[0, 0]).to(x.dtype)


def warp_sample(image: torch.Tensor, labels: dict[str, torch.Tensor], tasks: Sequence[Task],
                angle: float, scale: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The sample with its content rotated by ``angle`` (radians) and scaled by ``scale``."""
    height, width = int(image.shape[-2]), int(image.shape[-1])
    grid, inside = source_grid(height, width, angle, scale)
    out_image = warp(image, grid, "bilinear")
    out_labels = {}
    for t in tasks:
        moved = warp(labels[t.name], grid, t.crop_mode)
        moved = t.follow_zoom(t.follow_rotation(moved, angle), scale)
        out_labels[t.name] = torch.where(inside, moved, t.blank_label(moved))
    return out_image, out_labels
