"""Equal weights: Eq. 1 of the paper, every labelled task of an image with weight 1."""

from __future__ import annotations

import torch
from torch import nn

from bench.metadata import WeightingInfo
from bench.registry import register_weighting
from bench.weightings.base import Weighting
from bench.weightings.losses import TaskLosses


@register_weighting("equal", WeightingInfo(
    summary="equal task weights (Eq. 1): the sum of the labelled tasks' losses", display="Equal",
    colour="#0072B2", order=0))
class EqualWeighting(Weighting):
    """Equal weights (Eq. 1):

    .. math::
        \\mathcal L = \\frac1B \\sum_n \\rho_n \\sum_{t \\in \\mathcal T_n} L_{nt}
                    = \\sum_t \\ell_t,

    :math:`\\rho_n = 1` (``official`` loss reduction) or :math:`1/|\\mathcal T_n|` (``paper``).
    """

    def loss(self, losses: TaskLosses, net: nn.Module) -> torch.Tensor:
        self.remember(losses.present.to(losses.matrix.dtype))
        return losses.unweighted()
