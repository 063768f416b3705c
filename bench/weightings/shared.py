"""The shared parameters of a multi-task network, and each task's gradient of them.

Gradient weightings act on the *shared* parameters only (the SegNet encoder and shared decoder,
MTAN's shared network): their per-task gradients are the rows of the Jacobian :math:`J` that an
aggregator combines. Task-specific parameters (heads, MTAN's attention modules) get their own
task's gradient as usual. A network names its shared parameters with ``shared_parameters()`` and
the last shared layer (GradNorm's :math:`W`) with ``last_shared_parameters()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench.errors import BenchError


def _named(net: nn.Module, attribute: str, who: str) -> list[nn.Parameter]:
    getter = getattr(net, attribute, None)
    if getter is None:
        raise BenchError(f"The weighting '{who}' needs the network to name its shared parameters, "
                         f"but {type(net).__name__} has no {attribute}().",
                         "Use it with a SegNet or MTAN network, or add the method to the network.")
    return [p for p in getter() if p.requires_grad]


def shared_parameters(net: nn.Module, who: str = "") -> list[nn.Parameter]:
    """The parameters every task's loss reaches (network protocol ``shared_parameters()``)."""
    return _named(net, "shared_parameters", who)


def last_shared_parameters(net: nn.Module, who: str = "") -> list[nn.Parameter]:
    """The last shared layer's weights (GradNorm's :math:`W`)."""
    return _named(net, "last_shared_parameters", who)


def flat_gradients(loss: torch.Tensor, params: Sequence[nn.Parameter]) -> torch.Tensor:
    """:math:`\\nabla_\\theta \\ell` flattened over ``params`` (zeros where ``loss`` does not reach);
    the graph is kept for the next task."""
    grads = torch.autograd.grad(loss, list(params), retain_graph=True, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                      for g, p in zip(grads, params, strict=True)])


def task_jacobian(losses: Sequence[torch.Tensor], params: Sequence[nn.Parameter]) -> torch.Tensor:
    """:math:`J` ``[m, P]``: row :math:`i` is :math:`\\nabla_\\theta \\ell_i` (one backward each)."""
    return torch.stack([flat_gradients(loss, params) for loss in losses])


def add_flat_gradient(params: Sequence[nn.Parameter], flat: torch.Tensor) -> None:
    """Add a flat gradient vector to the ``.grad`` of ``params`` (in their order)."""
    offset = 0
    for p in params:
        n = p.numel()
        g = flat[offset:offset + n].view_as(p).to(p.dtype)
        p.grad = g.clone() if p.grad is None else p.grad + g
        offset += n
    if offset != flat.numel():
        raise ValueError(f"gradient of {flat.numel()} values for {offset} parameters")
