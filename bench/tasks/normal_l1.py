"""Surface normals with the L1 loss of Vandenhende et al. (PASCAL-Context's distilled normals)."""

from __future__ import annotations

import torch

from bench.registry import register_task
from bench.tasks.normal import NormalTask


@register_task("normal_l1")
class NormalL1Task(NormalTask):
    """Surface normals trained with L1 on the unit prediction; metrics as :class:`NormalTask`.

    Per pixel :math:`\\frac13 \\lVert \\hat n - n \\rVert_1` with :math:`\\hat n = o/\\lVert o\\rVert`,
    averaged over the valid pixels (label not all-zero): the reference's ``NormalsLoss(normalize=True,
    norm=1)``, a mean over valid elements. Loss weight 10.
    """

    def __init__(self, name: str = "normals", loss_weight: float = 10.0) -> None:
        super().__init__(name)
        self.loss_weight = float(loss_weight)

    def pixel_loss(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return (pred - label).abs().mean(1)
