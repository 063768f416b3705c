"""Common base of every method: an mmengine ``BaseModel`` around the multi-task network.

A method turns a batch (images, the labels the regime keeps, the label mask ``[B, K]``) into
losses. The base class owns the SegNet, the supervised term of Eq. 1 (through a task weighting,
see :mod:`bench.weighting`) and evaluation; subclasses add their own modules and loss terms by
overriding :meth:`PartialLabelMethod.extra_losses`, or the whole training step when they need
several optimisers (:meth:`train_step` with an mmengine ``OptimWrapperDict``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from mmengine.model import BaseModel
from torch import nn

from bench.nets import SegNet
from bench.tasks import SemanticTask, Task
from bench.weighting import build_weighting, loss_matrix


class PartialLabelMethod(BaseModel):
    """Multi-task SegNet trained on the labels each image keeps (Eq. 1)."""

    #: profile section that configures this method (``methods.<family>`` in a profile)
    family: ClassVar[str] = ""
    #: the data loader adds a second random scale-crop view (``batch['view2']``)
    needs_second_view: ClassVar[bool] = False
    #: regimes of the default grid: partial-label regimes of the dataset, and/or ``full``
    default_in_partial: ClassVar[bool] = True
    default_in_full: ClassVar[bool] = False
    #: position in tables and ``bench list``; whether ``--methods all`` includes it
    display_order: ClassVar[int] = 100
    in_all: ClassVar[bool] = True

    def __init__(self, tasks: Sequence[Task], width: float = 1.0,
                 weighting: str = "uniform") -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.task_names = [t.name for t in self.tasks]
        self.net = SegNet(self.tasks, width=width)
        self.weighting_name = weighting
        self.weighting = build_weighting(weighting)

    # -- mmengine entry points ------------------------------------------------------------------
    def forward(self, image: torch.Tensor, labels: dict[str, torch.Tensor] | None = None,
                label_mask: torch.Tensor | None = None, index: torch.Tensor | None = None,
                view2: dict[str, Any] | None = None, mode: str = "tensor") -> Any:
        if mode == "loss":
            assert labels is not None and label_mask is not None
            return self.loss(image, labels, label_mask.bool(), view2)
        if mode == "predict":
            return self.predict(image)
        return self.predict_tensors(image)

    def loss(self, image: torch.Tensor, labels: dict[str, torch.Tensor], mask: torch.Tensor,
             view2: dict[str, Any] | None) -> dict[str, torch.Tensor]:
        """Supervised term of Eq. 1 plus :meth:`extra_losses` (keys containing ``loss`` add up)."""
        if view2 is not None and self.needs_second_view:
            both, feats = self.net(torch.cat([image, view2["image"]]))
            b = image.shape[0]
            preds = {k: v[:b] for k, v in both.items()}
            preds2 = {k: v[b:] for k, v in both.items()}
            feature2 = feats[b:]
        else:
            preds, feature = self.net(image)
            preds2, feature2 = preds, feature
            view2 = {"image": image, "labels": labels}
        losses = self.supervised_losses(preds, labels, mask)
        losses.update(self.extra_losses(image, preds, labels, mask,
                                        view2["image"], preds2, view2["labels"], feature2))
        return losses

    def supervised_losses(self, preds: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                          mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """``loss_sup`` (Eq. 1 through the weighting) and per-task mean losses for the log."""
        matrix = loss_matrix(self.tasks, preds, labels, mask)
        out = {"loss_sup": self.weighting(matrix, mask, self.net.logsigma)}
        counts = mask.sum(0)
        for k, name in enumerate(self.task_names):
            if counts[k] > 0:
                out[f"sup_{name}"] = (matrix[:, k].sum() / counts[k]).detach()
        return out

    def extra_losses(self, image: torch.Tensor, preds: dict[str, torch.Tensor],
                     labels: dict[str, torch.Tensor], mask: torch.Tensor,
                     image2: torch.Tensor, preds2: dict[str, torch.Tensor],
                     labels2: dict[str, torch.Tensor], feature2: torch.Tensor
                     ) -> dict[str, torch.Tensor]:
        """Method-specific terms (none for SL). ``*2`` refer to the second view if requested."""
        return {}

    # -- evaluation -----------------------------------------------------------------------------
    def predict_tensors(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Batched predictions ``{task: [B, C, H, W]}`` (semantic: logits)."""
        return self.net(image)[0]

    @torch.no_grad()
    def predict(self, image: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Per-image predictions for the metrics: semantic class map, depth, normals."""
        preds = self.predict_tensors(image)
        out: dict[str, torch.Tensor] = {}
        for task in self.tasks:
            p = preds[task.name]
            out[task.name] = p.argmax(1) if isinstance(task, SemanticTask) else p
        return [{k: v[i] for k, v in out.items()} for i in range(image.shape[0])]

    # -- optimisation ---------------------------------------------------------------------------
    @classmethod
    def optim_group_defaults(cls, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Optimiser groups besides ``net`` (for these options) and their default settings.

        A profile overrides them under ``methods.<family>.optim.<group>``.
        """
        return {}

    def optim_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per optimiser group; ``net`` gets the profile's main optimiser."""
        return {"net": [p for p in self.parameters() if p.requires_grad]}
