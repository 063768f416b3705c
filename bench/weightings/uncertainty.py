"""Homoscedastic uncertainty weighting (Kendall, Gal, Cipolla, CVPR 2018)."""

from __future__ import annotations

import torch
from torch import nn

from bench.errors import BenchError
from bench.metadata import WeightingInfo
from bench.registry import register_weighting
from bench.weightings.base import Weighting
from bench.weightings.losses import TaskLosses, reduce_tasks


@register_weighting("uncertainty", WeightingInfo(
    summary="learned homoscedastic uncertainty per task (Kendall et al. 2018)",
    display="Uncertainty", paper_name="Uncertainty", colour="#6A3D9A", order=10))
class UncertaintyWeighting(Weighting):
    """Uncertainty weighting (Kendall et al. 2018), as MTAN and MTPSL implement it.

    With the learned log-variances :math:`s_t = \\log \\sigma_t^2` (the network's ``logsigma``,
    initialised to −0.5; they train with the network's optimiser):

    .. math::
        \\mathcal L = \\frac1B \\sum_n \\rho_n \\sum_{t \\in \\mathcal T_n}
        \\Big(\\tfrac12 e^{-s_t} L_{nt} + \\tfrac12 s_t\\Big).

    A task without labels in the batch contributes neither its loss nor its :math:`s_t` term.
    The log-variances are network parameters (``net.logsigma``, the key of the MTAN/MTPSL
    checkpoints), so they are saved and resumed with the network.
    """

    def loss(self, losses: TaskLosses, net: nn.Module) -> torch.Tensor:
        logsigma = getattr(net, "logsigma", None)
        if logsigma is None:
            raise BenchError(f"Uncertainty weighting needs the network's logsigma; "
                             f"{type(net).__name__} has none.")
        s = logsigma.view(1, -1)
        self.remember(0.5 * torch.exp(-logsigma.detach()) * losses.present)
        weighted = 0.5 * torch.exp(-s) * losses.matrix + 0.5 * s
        return reduce_tasks(weighted, losses.mask, self.reduction).mean()
