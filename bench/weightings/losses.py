"""The supervised loss of Eq. 1 as a per-image, per-task matrix, and its reductions.

Everything a weighting sees starts from the loss matrix :math:`L \\in \\mathbb{R}^{B \\times K}`,
:math:`L_{nt} = L^t(\\hat y^t(x_n), y^t_n)`, and the label mask :math:`m \\in \\{0,1\\}^{B \\times K}`
(:math:`m_{nt} = 1` iff image :math:`n` is labelled for task :math:`t`, i.e.
:math:`t \\in \\mathcal T_n`). Each image's labelled-task losses are reduced by the protocol's
``loss_reduction`` (:func:`reduce_tasks`): ``official`` sums them (the official MTPSL scripts),
``paper`` averages them (:math:`1/|\\mathcal T_n|`, Eqs. 1–4 as written); the images are then
averaged. With image weights :math:`\\rho_n = 1` (official) or :math:`1/|\\mathcal T_n|` (paper)
the supervised loss splits into per-task losses

.. math::
    \\ell_t = \\frac1B \\sum_n \\rho_n m_{nt} L_{nt}, \\qquad
    \\mathcal L_{\\text{Eq.1}} = \\sum_t \\ell_t,

which is what a weighting weighs (:class:`TaskLosses`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

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


def image_weights(mask: torch.Tensor, reduction: str, dtype: torch.dtype) -> torch.Tensor:
    """:math:`\\rho_n` ``[B]``: 1 (``official``) or :math:`1/|\\mathcal T_n|` (``paper``)."""
    m = mask.to(dtype)
    if reduction == "official":
        return torch.ones(mask.shape[0], dtype=dtype, device=mask.device)
    if reduction == "paper":
        return 1.0 / m.sum(1).clamp_min(1)
    raise ValueError(f"unknown loss reduction {reduction!r}; choose from {REDUCTIONS}")


@dataclass
class TaskLosses:
    """One batch's supervised losses, as a weighting sees them.

    ``matrix`` is :func:`loss_matrix` (``[B, K]``, zero where unlabelled), ``mask`` the label
    mask. A task is *present* when at least one image of the batch is labelled for it; an absent
    task has no loss, no gradient and no weight in this step.
    """

    matrix: torch.Tensor
    mask: torch.Tensor
    reduction: str

    @property
    def present(self) -> torch.Tensor:
        """``[K]`` bool: tasks with at least one label in the batch."""
        return self.mask.any(0)

    def present_indices(self) -> list[int]:
        return [int(k) for k in self.present.nonzero().flatten()]

    def per_task(self) -> torch.Tensor:
        """:math:`\\ell_t` ``[K]`` (module docstring), with the graph; 0 for absent tasks."""
        rho = image_weights(self.mask, self.reduction, self.matrix.dtype)
        m = self.mask.to(self.matrix.dtype)
        return (rho[:, None] * m * self.matrix).sum(0) / self.mask.shape[0]

    def per_label(self) -> torch.Tensor:
        """``[K]`` detached: each task's mean loss over its labelled images (0 when absent).

        The scale-free loss level that DWA and GradNorm compare across steps (it does not change
        with how many images of a batch happen to be labelled).
        """
        m = self.mask.to(self.matrix.dtype)
        return ((self.matrix.detach() * m).sum(0) / m.sum(0).clamp_min(1))

    def label_counts(self) -> torch.Tensor:
        """``[K]``: the number of labelled images per task."""
        return self.mask.sum(0)

    def weighted(self, weights: torch.Tensor) -> torch.Tensor:
        """:math:`\\sum_t w_t \\ell_t`, computed per image as Eq. 1 is (``weights`` ``[K]``)."""
        return reduce_tasks(self.matrix * weights.view(1, -1), self.mask, self.reduction).mean()

    def unweighted(self) -> torch.Tensor:
        """:math:`\\sum_t \\ell_t`: Eq. 1 with the protocol's reduction."""
        return reduce_tasks(self.matrix, self.mask, self.reduction).mean()
