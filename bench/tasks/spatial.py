"""Crop, resize and flip of dense tensors ``[..., H, W]``: what augmentations do to any map."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class CropParams:
    """A scale-crop window: zoom factor ``scale``, top-left corner and size in pixels."""

    scale: float
    top: int
    left: int
    height: int
    width: int


def crop(x: torch.Tensor, p: CropParams) -> torch.Tensor:
    """The window ``p`` of ``x`` (``[C, H, W]`` or ``[H, W]``)."""
    return x[..., p.top:p.top + p.height, p.left:p.left + p.width]


def resize(x: torch.Tensor, size: tuple[int, int], mode: str,
           align_corners: bool | None = None) -> torch.Tensor:
    """``[C, H, W]`` → ``[C, *size]`` (a copy when the size already matches)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x.clone()
    kw = {"align_corners": align_corners} if mode == "bilinear" else {}
    return F.interpolate(x[None], size=size, mode=mode, **kw)[0]


def crop_resize(x: torch.Tensor, p: CropParams, size: tuple[int, int], mode: str
                ) -> torch.Tensor:
    """Crop window ``p`` and resize it back to ``size`` (bilinear with ``align_corners=True``)."""
    return resize(crop(x, p), size, mode, align_corners=True)
