"""Training-time augmentation of the MTAN / MTPSL protocols, driven by an explicit RNG.

:class:`RandomScaleCrop` picks a scale ``s`` from ``scales``, crops a random window of size
``(H/s, W/s)`` and resizes it back to ``(H, W)``: the image bilinearly (``align_corners=True``),
each label as its task says (:meth:`~bench.tasks.Task.follow_crop`: class maps and depth with
nearest neighbour, depth divided by ``s``; normals bilinearly), then optionally mirrors everything
(:meth:`~bench.tasks.Task.follow_flip`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from bench.tasks import Task
from bench.tasks.spatial import CropParams, crop_resize


class RandomScaleCrop:
    """Random scale-crop (scales 1.0 / 1.2 / 1.5 by default) and optional horizontal flip."""

    def __init__(self, scales: Sequence[float] = (1.0, 1.2, 1.5), flip: bool = False) -> None:
        self.scales = tuple(scales)
        self.flip = flip

    def sample(self, rng: np.random.Generator, height: int, width: int) -> CropParams:
        s = float(self.scales[int(rng.integers(len(self.scales)))])
        h, w = int(height / s), int(width / s)
        top = int(rng.integers(0, height - h + 1))
        left = int(rng.integers(0, width - w + 1))
        return CropParams(s, top, left, h, w)

    def __call__(self, rng: np.random.Generator, image: torch.Tensor,
                 labels: dict[str, torch.Tensor], tasks: Sequence[Task]
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        size = (int(image.shape[-2]), int(image.shape[-1]))
        p = self.sample(rng, *size)
        flip = self.flip and bool(rng.random() < 0.5)
        out_image = crop_resize(image, p, size, "bilinear")
        out_labels = {t.name: t.follow_crop(labels[t.name], p, size) for t in tasks}
        if flip:
            out_image = out_image.flip(-1)
            out_labels = {t.name: t.follow_flip(out_labels[t.name]) for t in tasks}
        return out_image, out_labels


def resize_sample(image: torch.Tensor, labels: dict[str, torch.Tensor], tasks: Sequence[Task],
                  size: tuple[int, int]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Resize a sample to ``size`` (image bilinear, labels as their task says)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image, labels
    image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
    return image, {t.name: t.resize(labels[t.name], size) for t in tasks}
