"""Supervised loss of Eq. 1 and its task weighting, separate from any architecture.

Everything works on the per-image, per-task loss matrix :math:`L \\in \\mathbb{R}^{B \\times K}`,
:math:`L_{nt} = L^t(\\hat y^t(x_n), y^t_n)`, and the label mask :math:`m \\in \\{0,1\\}^{B \\times K}`
(:math:`m_{nt} = 1` iff image :math:`n` is labelled for task :math:`t`, i.e. :math:`t \\in \\mathcal T_n`).
Each image's labelled-task losses are reduced by the protocol's ``loss_reduction``
(:func:`reduce_tasks`): ``official`` sums them (the official MTPSL scripts), ``paper`` averages them
(:math:`1/|\\mathcal T_n|`, Eqs. 1–4 as written); the images are then averaged.

* :class:`UniformWeighting` (Eq. 1):
  :math:`\\mathcal L = \\frac1B \\sum_n \\rho_n \\sum_{t \\in \\mathcal T_n} L_{nt}` with
  :math:`\\rho_n = 1` (official) or :math:`1/|\\mathcal T_n|` (paper).
* :class:`UncertaintyWeighting` (Kendall et al. 2018, as implemented in MTAN / MTPSL with
  :math:`s_t = \\log \\sigma_t^2` learned):
  :math:`\\mathcal L = \\frac1B \\sum_n \\rho_n \\sum_{t \\in \\mathcal T_n}
  \\big(\\tfrac12 e^{-s_t} L_{nt} + \\tfrac12 s_t\\big)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench.tasks import Task

REDUCTIONS = ("official", "paper")


def loss_matrix(tasks: Sequence[Task], preds: dict[str, torch.Tensor],
                labels: dict[str, torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """:math:`L \\odot m`, ``[B, K]``: each task's loss on the images labelled for it, else 0.

    A task is evaluated only on its labelled rows (one batched call per task, no loop over
    images); a task with no labelled image in the batch contributes no graph at all, so its head
    gets no gradient (``None``) and Adam leaves it untouched, as in the official code.
    """
    b = mask.shape[0]
    columns = []
    for k, task in enumerate(tasks):
        rows = mask[:, k].nonzero().squeeze(1)
        col = torch.zeros(b, dtype=torch.float32, device=mask.device)
        if rows.numel():  # float32 also under autocast, where a task's loss may come in bf16
            loss = task.per_image_loss(preds[task.name][rows], labels[task.name][rows])
            col = col.index_put((rows,), loss.float())
        columns.append(col)
    return torch.stack(columns, dim=1)


def reduce_tasks(per_task: torch.Tensor, mask: torch.Tensor, reduction: str) -> torch.Tensor:
    """Per image ``[B]``: the sum (``official``) or mean (``paper``) over its labelled tasks."""
    m = mask.to(per_task.dtype)
    total = (per_task * m).sum(1)
    if reduction == "official":
        return total
    if reduction == "paper":
        return total / m.sum(1).clamp_min(1)
    raise ValueError(f"unknown loss reduction {reduction!r}; choose from {REDUCTIONS}")


class UniformWeighting(nn.Module):
    """Eq. 1: every labelled task of an image with the same weight, then the mean over images."""

    def __init__(self, reduction: str = "official") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, losses: torch.Tensor, mask: torch.Tensor,
                logsigma: torch.Tensor | None = None) -> torch.Tensor:
        return reduce_tasks(losses, mask, self.reduction).mean()


class UncertaintyWeighting(nn.Module):
    """Homoscedastic uncertainty weighting with the network's learned log-variances ([K])."""

    def __init__(self, reduction: str = "official") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, losses: torch.Tensor, mask: torch.Tensor,
                logsigma: torch.Tensor | None = None) -> torch.Tensor:
        if logsigma is None:
            raise ValueError("uncertainty weighting needs the network's logsigma")
        s = logsigma.view(1, -1)
        weighted = 0.5 * torch.exp(-s) * losses + 0.5 * s
        return reduce_tasks(weighted, mask, self.reduction).mean()


WEIGHTINGS = ("uniform", "uncertainty")


def build_weighting(name: str, reduction: str = "official") -> nn.Module:
    if name == "uniform":
        return UniformWeighting(reduction)
    if name == "uncertainty":
        return UncertaintyWeighting(reduction)
    raise ValueError(f"unknown weighting {name!r}; choose from {WEIGHTINGS}")
