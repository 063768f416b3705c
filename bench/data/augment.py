"""Training-time augmentation of the MTAN / MTPSL protocols, driven by an explicit RNG.

:class:`RandomScaleCrop` picks a scale ``s`` from ``scales``, crops a random window of size
``(H/s, W/s)`` and resizes it back to ``(H, W)``: the image and normals bilinearly
(``align_corners=True``), labels and depth with nearest neighbour; depth is divided by ``s``
because zooming in by ``s`` brings the scene ``s`` times closer. (The official Cityscapes code
applies the same division to its inverse-depth labels; the harness follows it for comparability.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from bench.tasks import DepthTask, NormalTask, SemanticTask, Task


@dataclass(frozen=True)
class CropParams:
    scale: float
    top: int
    left: int
    height: int
    width: int


class RandomScaleCrop:
    """Random scale-crop (scales 1.0 / 1.2 / 1.5 by default)."""

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
        height, width = image.shape[-2:]
        p = self.sample(rng, height, width)
        flip = self.flip and bool(rng.random() < 0.5)
        out_image = _resize(_crop(image, p), (height, width), "bilinear")
        out_labels = {}
        for task in tasks:
            y = labels[task.name]
            if isinstance(task, SemanticTask):
                z = _resize(_crop(y[None].float(), p), (height, width), "nearest")[0].to(y.dtype)
            elif isinstance(task, DepthTask):
                z = _resize(_crop(y, p), (height, width), "nearest") / p.scale
            elif isinstance(task, NormalTask):
                z = _resize(_crop(y, p), (height, width), "bilinear")
            else:  # pragma: no cover
                raise TypeError(f"no augmentation rule for {task!r}")
            out_labels[task.name] = z
        if flip:
            out_image = out_image.flip(-1)
            out_labels = {k: _flip_label(v, k, tasks) for k, v in out_labels.items()}
        return out_image, out_labels


def _crop(x: torch.Tensor, p: CropParams) -> torch.Tensor:
    return x[..., p.top:p.top + p.height, p.left:p.left + p.width]


def _resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x.clone()
    kw = {"align_corners": True} if mode == "bilinear" else {}
    return F.interpolate(x[None], size=size, mode=mode, **kw)[0]


def _flip_label(y: torch.Tensor, name: str, tasks: Sequence[Task]) -> torch.Tensor:
    task = next(t for t in tasks if t.name == name)
    y = y.flip(-1)
    if isinstance(task, NormalTask):  # mirror the x component of the normal
        y = y.clone()
        y[0] = -y[0]
    return y


def resize_sample(image: torch.Tensor, labels: dict[str, torch.Tensor], tasks: Sequence[Task],
                  size: tuple[int, int]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Resize a sample to ``size`` (image bilinear, labels nearest neighbour)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image, labels
    image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
    out = {}
    for task in tasks:
        y = labels[task.name]
        if isinstance(task, SemanticTask):
            out[task.name] = F.interpolate(y[None, None].float(), size=size)[0, 0].to(y.dtype)
        else:
            out[task.name] = F.interpolate(y[None], size=size)[0]
    return image, out
