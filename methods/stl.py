"""Single-task learning: one independent network per task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from bench.errors import BenchError
from bench.metadata import MethodInfo
from bench.method.base import PartialLabelMethod
from bench.nets.arch import Architecture, get_architecture
from bench.registry import register_method
from bench.tasks import Task
from bench.weightings import parse_spec


class SingleTaskNets(nn.ModuleDict):
    """One single-task network per task; ``forward`` returns every task's prediction (no feature)."""

    def __init__(self, tasks: Sequence[Task], width: float,
                 architecture: Architecture | None = None,
                 pretrained: str | None = None) -> None:
        arch = architecture or get_architecture(None)
        super().__init__({t.name: arch.network([t], width, pretrained) for t in tasks})

    def forward(self, image: torch.Tensor) -> tuple[dict[str, torch.Tensor], None]:
        return {name: net(image)[0][name] for name, net in self.items()}, None


@register_method("stl", MethodInfo(
    summary="STL: one single-task SegNet per task, each trained on that task's labels only",
    display="STL", short="STL", paper_name="STL", family="stl", colour="#8c8c8c", order=10,
    in_partial=False, in_full=True, weighted=False))
class SingleTaskLearning(PartialLabelMethod):
    """STL: one single-task SegNet per task, each trained on that task's labels only.

    For task :math:`t` the network :math:`h^t \\circ f^t` minimises
    :math:`\\frac{1}{|\\mathcal N_t|} \\sum_{n \\in \\mathcal N_t} L^t(\\hat y^t(x_n), y^t_n)` over the
    images :math:`\\mathcal N_t` of the batch labelled for :math:`t`; it only ever sees those images
    (its batch-norm statistics too). The networks share nothing, so one optimiser over all of
    them equals separate training (Adam is per-parameter, and a network without labelled images in
    a batch gets no gradient and no update). Baseline of Δm. Tasks are not weighted against each
    other (they share no parameter), so the only weighting is ``equal`` (``bench run`` leaves
    STL out of other weightings and rejects an explicit ``stl+W``), and the loss reduction has no
    effect (each network averages over its own labelled images).
    """

    def __init__(self, tasks: Sequence[Task], **kwargs: Any) -> None:
        weighting = kwargs.get("weighting", "equal")
        if parse_spec(weighting)[0] != "equal":
            raise BenchError(f"STL trains independent networks: weighting "
                             f"{parse_spec(weighting)[0]!r} has no meaning for it.",
                             "Run STL with the equal weighting (the default).")
        super().__init__(tasks, **kwargs)

    def build_network(self, width: float) -> nn.Module:
        return SingleTaskNets(self.tasks, width, self.architecture, self.pretrained)

    def loss(self, image: torch.Tensor, labels: dict[str, torch.Tensor], mask: torch.Tensor,
             view2: dict[str, Any] | None) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        total = image.new_zeros(())
        for k, task in enumerate(self.tasks):
            rows = mask[:, k].nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            pred = self.net[task.name](image[rows])[0][task.name]
            loss = task.per_image_loss(pred, labels[task.name][rows]).mean()
            total = total + loss
            out[f"sup_{task.name}"] = loss.detach()
        out["loss_sup"] = total
        return out
