"""One mapping network per ordered task pair (Direct-Map, Perceptual-Map; Zamir et al. 2020).

:class:`PairwiseMaps` holds K(K−1) whole networks :math:`m^{s\\to t}` of the method's backbone
(:meth:`~bench.nets.arch.Architecture.pair_network`: SegNets, or ResNet-ASPPs on PASCAL-Context;
encoder-decoders, as the paper says for these two baselines), each taking task ``s``'s encoded
prediction (:meth:`~bench.tasks.Task.encode_prediction`, as for the joint mapping) and
predicting in task ``t``'s label space with ``t``'s head and activation. They have the width of
the main network (so at CPU profiles they are as small as it is). The SegNet ones normalise per
image (:class:`~bench.nets.norm.PerImageBatchNorm2d`), so mapping a batch of rows equals mapping
them one at a time. Each network runs once per step over all rows of its pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench.nets.arch import Architecture, get_architecture
from bench.tasks import Task


def pair_name(s: Task, t: Task) -> str:
    return f"{s.name}_to_{t.name}"


class PairwiseMaps(nn.ModuleDict):
    """``{"s_to_t": SegNet}`` for every ordered pair of distinct tasks."""

    def __init__(self, tasks: Sequence[Task], width: float,
                 architecture: Architecture | None = None) -> None:
        arch = architecture or get_architecture(None)
        super().__init__({pair_name(s, t): arch.pair_network(s, t, width)
                          for s in tasks for t in tasks if s is not t})
        self.tasks = list(tasks)

    def pairs(self) -> list[tuple[int, int, Task, Task]]:
        return [(i, j, s, t) for i, s in enumerate(self.tasks) for j, t in enumerate(self.tasks)
                if i != j]

    def forward_pair(self, s: Task, t: Task, x: torch.Tensor,
              params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """:math:`m^{s\\to t}(x)` in t's label space; ``params`` overrides the weights."""
        net = self[pair_name(s, t)]
        if params is None:
            return net(x)[0][t.name]
        return torch.func.functional_call(net, params, (x,))[0][t.name]

    def frozen(self, s: Task, t: Task) -> dict[str, torch.Tensor]:
        """Parameters of :math:`m^{s\\to t}` detached (buffers as they are): use as constants."""
        net = self[pair_name(s, t)]
        out = {k: v.detach() for k, v in net.named_parameters()}
        out.update(dict(net.named_buffers()))
        return out
