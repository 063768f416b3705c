"""Shared machinery of the cross-task methods: (image, task-pair) rows and their inputs.

A *row* is one ``(n, s, t)`` triple: image ``n`` of the batch, source task ``s`` whose prediction is
mapped, target task ``t`` whose label is mapped. For image ``n`` with labelled tasks
:math:`\\mathcal T_n` and unlabelled tasks :math:`\\mathcal U_n`, the rows are
:math:`s \\in \\mathcal U_n, t \\in \\mathcal T_n` (Eq. 3–4); an image with every label uses every
ordered pair :math:`s \\ne t` (the paper's fully supervised use, Sec. 4.2, and the official code's
``full`` mode). Rows are built with tensor operations, in the order (n, s, t), never with a
Python loop over images.

The cross-task terms are computed on a second random scale-crop of each image (official code), so
these methods set ``needs_second_view`` and receive that view's predictions, labels and feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from mmengine.optim import OptimWrapperDict

from bench.tasks import Task
from methods.base import PartialLabelMethod


def pair_rows(mask: torch.Tensor, *, all_pairs_when_full: bool = True
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(n, s, t)`` index tensors of every row of a batch with label mask ``[B, K]``."""
    b, k = mask.shape
    unlabelled = ~mask
    if all_pairs_when_full:
        full = mask.all(1, keepdim=True)
        source_ok = unlabelled | full
    else:
        source_ok = unlabelled
    valid = source_ok[:, :, None] & mask[:, None, :] & ~torch.eye(k, dtype=torch.bool,
                                                                 device=mask.device)[None]
    n, s, t = valid.nonzero(as_tuple=True)
    return n, s, t


def encode_rows(tasks: Sequence[Task], values: dict[str, torch.Tensor], images: torch.Tensor,
                task_of_row: torch.Tensor, *, labels: bool) -> list[torch.Tensor | None]:
    """Per task ``k``, the encoded inputs of the rows whose task is ``k`` (in row order).

    ``values`` are predictions (``labels=False``: :meth:`Task.encode_prediction`, e.g. a hard
    Gumbel-softmax sample per row) or labels (``labels=True``: :meth:`Task.encode_label`).
    """
    out: list[torch.Tensor | None] = []
    for k, task in enumerate(tasks):
        rows = (task_of_row == k).nonzero().squeeze(1)
        if rows.numel() == 0:
            out.append(None)
            continue
        x = values[task.name][images[rows]]
        out.append(task.encode_label(x) if labels else task.encode_prediction(x))
    return out


def mean_cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per row: :math:`1 - \\frac{1}{HW}\\sum_{p} \\cos(a_p, b_p)`, cosine over channels ``[R]``.

    The official code's ``1 - F.cosine_similarity(a, b, dim=1, eps=1e-12).mean()`` for one row.
    """
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1, eps=1e-12)
    return 1.0 - cos.flatten(1).mean(1)


class CrossTaskMethod(PartialLabelMethod):
    """Base of the methods that add a cross-task term computed on the second view."""

    needs_second_view = True
    default_in_partial = True
    default_in_full = False

    def __init__(self, tasks: Sequence[Task], width: float = 1.0, weighting: str = "uniform",
                 con_weight: float = 2.0) -> None:
        super().__init__(tasks, width=width, weighting=weighting)
        self.con_weight = float(con_weight)

    def train_step(self, data: Any, optim_wrapper: Any) -> dict[str, torch.Tensor]:
        """One joint step: a single backward, then every optimiser group steps (e.g. net, FiLM)."""
        if not isinstance(optim_wrapper, OptimWrapperDict):
            return super().train_step(data, optim_wrapper)
        data = self.data_preprocessor(data, True)
        losses = self._run_forward(data, mode="loss")
        total, log_vars = self.parse_losses(losses)
        wrappers = list(optim_wrapper.values())
        wrappers[0].backward(total)
        for w in wrappers:
            w.step()
        for w in wrappers:
            w.zero_grad()
        return log_vars


class ConditionalMappingMixin:
    """Methods mapping into joint pairwise spaces with :class:`CrossTaskMapping` (+ FiLM group)."""

    film_lr_default: ClassVar[dict[str, Any]] = {
        "optimizer": {"type": "Adam", "lr": 1e-3},
        "scheduler": {"type": "StepLR", "step_size": 30, "gamma": 0.5},
    }

    @classmethod
    def optim_group_defaults(cls, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {"film": cls.film_lr_default} if options.get("cond", True) else {}

    def optim_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        film = {id(p) for p in self.mapping.film_parameters()}  # type: ignore[attr-defined]
        net = [p for p in self.parameters() if p.requires_grad and id(p) not in film]  # type: ignore
        groups = {"net": net}
        if film:
            groups["film"] = self.mapping.film_parameters()  # type: ignore[attr-defined]
        return groups
