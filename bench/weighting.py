"""Supervised loss of Eq. 1 and its task weighting, separate from any architecture.

Everything works on the per-image, per-task loss matrix :math:`L \\in \\mathbb{R}^{B \\times K}`,
:math:`L_{nt} = L^t(\\hat y^t(x_n), y^t_n)`, and the label mask :math:`m \\in \\{0,1\\}^{B \\times K}`
(:math:`m_{nt} = 1` iff image :math:`n` is labelled for task :math:`t`, i.e. :math:`t \\in \\mathcal T_n`).

* :class:`UniformWeighting` (Eq. 1):
  :math:`\\mathcal L = \\frac1B \\sum_n \\frac{1}{|\\mathcal T_n|} \\sum_{t \\in \\mathcal T_n} L_{nt}`.
* :class:`UncertaintyWeighting` (Kendall et al. 2018, as implemented in MTAN / MTPSL with
  :math:`s_t = \\log \\sigma_t^2` learned):
  :math:`\\mathcal L = \\frac1B \\sum_n \\frac{1}{|\\mathcal T_n|} \\sum_{t \\in \\mathcal T_n}
  \\big(\\tfrac12 e^{-s_t} L_{nt} + \\tfrac12 s_t\\big)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench.tasks import Task


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
        col = preds[task.name].new_zeros(b)
        if rows.numel():
            col = col.index_put((rows,), task.per_image_loss(preds[task.name][rows],
                                                             labels[task.name][rows]))
        columns.append(col)
    return torch.stack(columns, dim=1)


class UniformWeighting(nn.Module):
    """Eq. 1: average over each image's labelled tasks, then over images."""

    def forward(self, losses: torch.Tensor, mask: torch.Tensor,
                logsigma: torch.Tensor | None = None) -> torch.Tensor:
        m = mask.to(losses.dtype)
        per_image = (losses * m).sum(1) / m.sum(1).clamp_min(1)
        return per_image.mean()


class UncertaintyWeighting(nn.Module):
    """Homoscedastic uncertainty weighting with the network's learned log-variances ([K])."""

    def forward(self, losses: torch.Tensor, mask: torch.Tensor,
                logsigma: torch.Tensor | None = None) -> torch.Tensor:
        if logsigma is None:
            raise ValueError("uncertainty weighting needs the network's logsigma")
        m = mask.to(losses.dtype)
        s = logsigma.view(1, -1)
        weighted = 0.5 * torch.exp(-s) * losses + 0.5 * s
        per_image = (weighted * m).sum(1) / m.sum(1).clamp_min(1)
        return per_image.mean()


WEIGHTINGS = ("uniform", "uncertainty")


def build_weighting(name: str) -> nn.Module:
    if name == "uniform":
        return UniformWeighting()
    if name == "uncertainty":
        return UncertaintyWeighting()
    raise ValueError(f"unknown weighting {name!r}; choose from {WEIGHTINGS}")
