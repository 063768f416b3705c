"""Data parallelism over several processes (``torch.distributed``; gloo on the CPU, nccl on GPUs).

One global batch of ``train.batch_size`` images is split into equal contiguous shards, one per
process (:class:`bench.engine.build.EpochSampler` with ``rank``/``world``), so the processes
together see exactly the batches one process would. Three things make a step equal to the
one-process step on the whole batch, up to float rounding:

* **Gradients are averaged** over the processes after every backward, for every optimiser group
  (:func:`distributed_wrappers`): each process's loss is the mean over its shard of per-image
  sums, so the average of the shards' gradients is the gradient of the mean over the global
  batch. A parameter that received no gradient on any process keeps ``None`` (Adam then leaves
  it alone, as one process would); one used on some processes only gets the average with zeros.
* **Batch norm uses the statistics of the global batch** (:class:`GlobalBatchNorm2d`, which
  :func:`convert_batchnorm` puts in place of every plain ``BatchNorm2d``); its running
  statistics are updated with them. The per-image batch norm of the mappings needs nothing:
  each row is normalised on its own, and its running statistics get the mean over all rows.
* The supervised and cross-task terms are means over images of per-image sums
  (:mod:`bench.weighting`, :func:`methods.crosstask.reduce_rows`).

This does not hold for terms that couple the images of a batch or draw random numbers per
row: Contrastive- and Discriminator-Loss take their negatives from the process's own shard,
the negative controls draw partners from it, and the Gumbel samples of segmentation predictions
(XTC, Direct-/Perceptual-Map) are drawn per process. Those runs are the same method with a
different draw, not the same numbers.

Why not mmengine's ``MMDistributedDataParallel``/``MMSeparateDistributedDataParallel``: the
first calls ``optim_wrapper.update_params`` (which an ``OptimWrapperDict`` of several groups does
not implement) and bypasses the methods' own ``train_step``; the second replaces the method's
children by DDP modules in place, which breaks attribute access (``net.logsigma``), the frozen
``functional_call`` of the discriminator and the checkpoint keys. Plain DDP also needs
``find_unused_parameters`` (a mapping input layer whose task has no row in a shard) and cannot
follow the discriminator's second backward. Averaging after each backward works for every
method; what it gives up is DDP's overlap of communication with the backward.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if world_size() > 1 else 0


def average_gradients(params: list[torch.Tensor]) -> None:
    """Average the gradients of ``params`` over the processes (no-op in one process)."""
    size = world_size()
    if size == 1 or not params:
        return
    device = params[0].device
    used = torch.tensor([float(p.grad is not None) for p in params], device=device)
    dist.all_reduce(used)
    chosen = [p for p, u in zip(params, used.tolist(), strict=True) if u > 0]
    if not chosen:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in chosen]
    flat = _flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat.div_(size)
    for p, g in zip(chosen, _unflatten_dense_tensors(flat, grads), strict=True):
        p.grad = g.view_as(p).clone() if p.grad is None else p.grad.copy_(g)


def wrapper_params(wrapper: OptimWrapper) -> list[torch.Tensor]:
    return [p for group in wrapper.optimizer.param_groups for p in group["params"]]


class DistributedGradients:
    """Mixin of an optimiser wrapper: its ``backward`` averages its group's gradients."""

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        super().backward(loss, **kwargs)  # type: ignore[misc]
        self.average_gradients()

    def average_gradients(self) -> None:
        average_gradients(wrapper_params(self))  # type: ignore[arg-type]


_CLASSES: dict[type, type] = {}


def distributed_wrappers(optim_wrapper: OptimWrapper) -> OptimWrapper:
    """Make every wrapper (one, or each of an :class:`OptimWrapperDict`) average its gradients
    after a backward (in place; a no-op in one process). :func:`methods.base.joint_step`
    averages the other groups of a joint backward through :meth:`average_gradients`."""
    if world_size() == 1:
        return optim_wrapper
    wrappers = (list(optim_wrapper.values()) if isinstance(optim_wrapper, OptimWrapperDict)
                else [optim_wrapper])
    for w in wrappers:
        cls = type(w)
        if not issubclass(cls, DistributedGradients):
            if cls not in _CLASSES:
                _CLASSES[cls] = type(f"Distributed{cls.__name__}", (DistributedGradients, cls), {})
            w.__class__ = _CLASSES[cls]
    return optim_wrapper


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """``BatchNorm2d`` whose training statistics are those of the global batch of all processes.

    Two differentiable all-reduces (sum, then the sum of squared deviations); their backward
    sums the gradients of every process, as ``torch.nn.SyncBatchNorm`` does (which runs on GPUs
    only). In one process, or in eval mode, it is ``BatchNorm2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or world_size() == 1:
            return super().forward(x)
        c = x.shape[1]
        count = torch.tensor([x.numel() / c], device=x.device, dtype=x.dtype)
        total = dist_nn.all_reduce(torch.cat([x.sum((0, 2, 3)), count]))
        n = total[c]
        mean = total[:c] / n
        centred = x - mean.view(1, c, 1, 1)
        var = dist_nn.all_reduce(centred.square().sum((0, 2, 3))) / n
        if self.track_running_stats:
            momentum = self.momentum if self.momentum is not None else 0.1
            with torch.no_grad():
                self.running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
                self.running_var.mul_(1 - momentum).add_(var.detach() * (n / (n - 1)),
                                                         alpha=momentum)
                self.num_batches_tracked.add_(1)
        y = centred * torch.rsqrt(var + self.eps).view(1, c, 1, 1)
        if self.affine:
            y = y * self.weight.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)
        return y


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every plain ``nn.BatchNorm2d`` of ``module`` (not its subclasses, e.g. the
    per-image one) by a :class:`GlobalBatchNorm2d` with the same parameters and buffers."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            new = GlobalBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats)
            new.load_state_dict(child.state_dict())
            new.to(child.weight.device if child.affine else child.running_mean.device)
            if child.affine:
                new.weight, new.bias = child.weight, child.bias  # the same Parameters
            setattr(module, name, new)
        else:
            convert_batchnorm(child)
    return module
