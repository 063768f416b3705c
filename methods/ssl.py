"""Semi-supervised baseline: random-crop consistency on the unlabelled tasks (Eq. 2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from bench.metadata import MethodInfo
from bench.method.base import PartialLabelMethod, TrainingViews
from bench.method.crosstask import CONSISTENCY_SPACE
from bench.registry import register_method
from bench.tasks import Task


def random_boxes(n: int, height: int, width: int, scales: Sequence[float],
                 device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random crop boxes ``(x1, y1, x2, y2)`` of size ``(H/s, W/s)`` and their scales ``s``."""
    scale = torch.tensor(scales, device=device)[torch.randint(len(scales), (n,), device=device)]
    h, w = (height / scale).floor(), (width / scale).floor()
    top = (torch.rand(n, device=device) * (height - h + 1)).floor()
    left = (torch.rand(n, device=device) * (width - w + 1)).floor()
    return torch.stack([left, top, left + w, top + h], dim=1), scale


def crop_resize(x: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Crop each row of ``x`` to its integer box and resize it to the full size, batched.

    Equals ``F.interpolate(x[n, :, y1:y2, x1:x2], size, mode='bilinear', align_corners=False)``
    per row: output pixel ``i`` samples crop coordinate ``(i + 0.5) · w / W − 0.5`` clamped to the
    crop, done for all rows at once with one ``grid_sample``.
    """
    b, _, h, w = x.shape
    boxes = boxes.to(x.dtype)

    def axis(lo: torch.Tensor, hi: torch.Tensor, size: int) -> torch.Tensor:
        length = (hi - lo)[:, None]
        i = torch.arange(size, device=x.device, dtype=x.dtype)[None]
        src = ((i + 0.5) * length / size - 0.5).clamp(min=0)
        src = torch.minimum(src, length - 1) + lo[:, None]
        return 2 * src / (size - 1) - 1  # grid_sample coordinates, align_corners=True

    gx = axis(boxes[:, 0], boxes[:, 2], w)
    gy = axis(boxes[:, 1], boxes[:, 3], h)
    grid = torch.stack([gx[:, None, :].expand(b, h, w), gy[:, :, None].expand(b, h, w)], dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


@register_method("ssl", MethodInfo(
    summary="", display="Semi-supervised Learning", short="SSL", paper_name="SSL", family="ssl",
    colour="#56B4E9", order=25, sets=("power",), search_space=CONSISTENCY_SPACE))
class SemiSupervised(PartialLabelMethod):
    """SSL: random-crop consistency (MSE) of the predictions of each image's unlabelled tasks (Eq. 2).

    .. math::
        \\mathcal L = \\frac1B \\sum_n \\Big( \\frac{1}{|\\mathcal T_n|}\\sum_{t\\in\\mathcal T_n} L^t
        + \\frac{1}{|\\mathcal U_n|}\\sum_{t\\in\\mathcal U_n}
          \\mathrm{MSE}\\big(e_r(\\hat y^t(x_n)),\\ \\hat y^t(e_r(x_n))\\big) \\Big)

    :math:`e_r` crops a random box (scale 1.2 or 1.5 of the image, as the scale-crop augmentation,
    at a random position) and resizes it to the image size; all images of the batch are cropped at
    once (one ``grid_sample``) and the crops go through the network in one more forward pass, only for
    images that have an unlabelled task. Choices the paper leaves open: the MSE compares class
    probabilities for segmentation; cropped depth is divided by the zoom factor, as the
    augmentation does to depth labels; both branches receive gradient (Π-model style).
    """

    @dataclass(frozen=True)
    class Options(PartialLabelMethod.Options):
        #: zoom factors of the random crops :math:`e_r`
        crop_scales: tuple[float, ...] = (1.2, 1.5)
        #: weight of the consistency term
        con_weight: float = 1.0
        #: epochs over which the consistency weight ramps up from 0 (0: none)
        rampup_epochs: float = 0.0

    def __init__(self, tasks: Sequence[Task], **kwargs: Any) -> None:
        super().__init__(tasks, **kwargs)
        self.crop_scales = tuple(float(c) for c in self.options.crop_scales)
        self.con_weight = float(self.options.con_weight)

    @property
    def rampup_epochs(self) -> float:
        return float(self.options.rampup_epochs)

    def extra_losses(self, views: TrainingViews) -> dict[str, torch.Tensor]:
        mask, image, preds = views.mask, views.main.image, views.main.preds
        rows = (~mask).any(1).nonzero().squeeze(1)
        if rows.numel() == 0:
            return {}
        h, w = image.shape[-2:]
        boxes, scale = random_boxes(rows.numel(), h, w, self.crop_scales, image.device)
        crop_preds = self.net(self.layout(crop_resize(image[rows], boxes)))[0]
        unlabelled = (~mask[rows]).to(image.dtype)
        per_image = image.new_zeros(rows.numel())
        for k, task in enumerate(self.tasks):
            if not unlabelled[:, k].any():
                continue
            full = task.follow_zoom(crop_resize(task.consistency_view(preds[task.name][rows]),
                                                boxes), scale)
            crop = task.consistency_view(crop_preds[task.name])
            mse = (full - crop).pow(2).flatten(1).mean(1)
            per_image = per_image + unlabelled[:, k] * mse
        if self.reduction == "paper":
            per_image = per_image / unlabelled.sum(1)
        weight = self.con_weight * self.consistency_scale
        return {"loss_ssl": weight * per_image.sum() / mask.shape[0]}
