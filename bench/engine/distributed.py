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
  statistics are updated with them. The per-image batch norm of the mappings
  (:class:`~bench.nets.norm.PerImageBatchNorm2d`) normalises each row on its own, so its outputs
  need nothing; its running statistics must get the mean over *all* rows of the global batch,
  not over the process's own rows (which would also let the processes' buffers drift apart).
  :func:`convert_batchnorm` makes those layers defer their updates, and
  :func:`bench.nets.norm.sync_running_statistics` (called by
  :meth:`bench.method.base.PartialLabelMethod.update` at the end of every step) applies them
  with the rows of every process: the k-th call of a layer in the step on each process forms
  one update, as one process's k-th call would. This equals
  one process whenever the processes make the same calls (every method calls each mapping once
  per step, except Perceptual-Map, whose second call a process skips when its shard has no
  rows for the pair).
* The supervised and cross-task terms are means over images of per-image sums
  (:mod:`bench.weightings.losses`, :func:`bench.method.crosstask.reduce_rows`).

This does not hold for terms that couple the images of a batch or draw random numbers per
row: Contrastive- and Discriminator-Loss take their negatives from the process's own shard,
the negative controls draw partners from it, and the Gumbel samples of segmentation predictions
(XTC, Direct-/Perceptual-Map) are drawn per process. A segmentation prediction is a mapping
input whenever an image lacks the segmentation label *or has every label* (an image with every
label takes every ordered pair, segmentation → others included,
:func:`bench.method.crosstask.pair_rows`), so with segmentation among the tasks nearly every XTC
step draws. Rank 0 draws from the stream one process would, every other rank from its own
stream seeded from (seed, rank) (:class:`bench.engine.hooks.RunStateHook`, which also
checkpoints every stream); one process draws the rows of the whole batch from one stream. Those
runs are the same method with a different draw, not the same numbers. The same holds for the
task weightings that compute from the batch: DWA's loss ratios and its spread over the tasks
present, GradNorm's and the torchjd aggregators' per-task gradients are the process's shard's
(the equal and uncertainty weightings are linear in the per-image losses and stay equal).

``bench run --nproc N`` launches a run this way (:mod:`bench.launch.torchrun`).

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
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from bench.nets.norm import PerImageBatchNorm2d

#: the environment variables torchrun gives every process it starts
TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def world_size() -> int:
    """The number of processes of the data-parallel run (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if world_size() > 1 else 0


def is_main() -> bool:
    """Whether this process writes what the run leaves behind (rank 0, or the only process)."""
    return rank() == 0


def backend() -> str | None:
    """The process group's backend (``gloo``, ``nccl``), ``None`` without one."""
    return str(dist.get_backend()) if world_size() > 1 else None


def init_from_torchrun(timeout_s: float = 3600.0) -> torch.device:
    """Join the process group torchrun set up (its environment variables); return the device.

    One GPU per process (``cuda:LOCAL_RANK``, backend nccl) when CUDA is available, otherwise
    the CPU with gloo. mmengine's own ``init_dist('pytorch')`` cannot be used on a machine
    without CUDA (it calls ``torch.cuda.set_device`` unconditionally); the Runner finds the
    group initialised and uses it. ``timeout_s`` bounds a collective's wait, e.g. while rank 0
    alone writes a checkpoint.
    """
    import os
    from datetime import timedelta

    missing = [k for k in TORCHRUN_VARIABLES if k not in os.environ]
    if missing:
        raise RuntimeError(f"not started by torchrun: {', '.join(missing)} unset")
    local = int(os.environ["LOCAL_RANK"])
    if torch.cuda.is_available():
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        name = "nccl"
    else:
        device, name = torch.device("cpu"), "gloo"
    dist.init_process_group(name, timeout=timedelta(seconds=timeout_s))
    return device


def barrier() -> None:
    """Wait for every process (no-op in one process)."""
    if world_size() > 1:
        dist.barrier()


def broadcast_object(value: Any) -> Any:
    """Rank 0's ``value`` on every process (``value`` itself in one process)."""
    if world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(value: Any) -> list[Any]:
    """Every process's ``value``, in rank order (``[value]`` in one process)."""
    if world_size() == 1:
        return [value]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, value)
    return out


def rank_seed(seed: int, process: int, *salt: int) -> int:
    """The seed of process ``process``'s own random stream (:mod:`bench.engine.hooks`)."""
    import numpy as np

    return int(np.random.SeedSequence([int(seed), int(process), 0xD1CE, *salt])
               .generate_state(1)[0])


def average_log_values(values: dict[str, Any]) -> dict[str, float]:
    """A step's log values (``train_step``'s output) averaged over the processes.

    ``loss`` and every ``loss_*`` term is a mean over the shard's images, so their mean over the
    processes (a process without the term counts 0) is the global batch's value; other keys
    (per-task means over labelled images, weights) are averaged over the processes that report
    them, for the log only. In one process: the values as floats.
    """
    local = {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v)
             for k, v in values.items()}
    if world_size() == 1:
        return local
    parts = gather_objects(local)
    keys = sorted({k for p in parts for k in p})
    out = {}
    for key in keys:
        have = [p[key] for p in parts if key in p]
        out[key] = (sum(have) / len(parts) if key.startswith("loss")
                    else sum(have) / len(have))
    return out


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


def distributed_wrappers(optim_wrapper: Any) -> Any:
    """Make every wrapper (one, or each of an :class:`OptimWrapperDict` or of a dict of
    wrappers) average its gradients after a backward (in place; a no-op in one process).
    :func:`bench.method.base.joint_step` averages the other groups of a joint backward through
    :meth:`average_gradients`."""
    if world_size() == 1:
        return optim_wrapper
    wrappers = (list(optim_wrapper.values()) if isinstance(optim_wrapper,
                                                           (OptimWrapperDict, dict))
                else [optim_wrapper])
    for w in wrappers:
        cls = type(w)
        if not issubclass(cls, DistributedGradients):
            if cls not in _CLASSES:
                _CLASSES[cls] = type(f"Distributed{cls.__name__}", (DistributedGradients, cls), {})
            w.__class__ = _CLASSES[cls]
    return optim_wrapper


class _AllReduceSum(torch.autograd.Function):
    """Differentiable sum over the processes: the backward sums the gradients of every process
    (what ``torch.distributed.nn.functional.all_reduce`` did before its deprecation)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        out = grad.contiguous().clone()
        dist.all_reduce(out)
        return out


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """``x`` summed over the processes, differentiably (:class:`_AllReduceSum`)."""
    return _AllReduceSum.apply(x)


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
        total = all_reduce_sum(torch.cat([x.sum((0, 2, 3)), count]))
        n = total[c]
        mean = total[:c] / n
        centred = x - mean.view(1, c, 1, 1)
        var = all_reduce_sum(centred.square().sum((0, 2, 3))) / n
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
    """Make the batch norms of ``module`` data-parallel (in place; returns ``module``).

    Every plain ``nn.BatchNorm2d`` becomes a :class:`GlobalBatchNorm2d` with the same parameters
    and buffers; every per-image one (:class:`~bench.nets.norm.PerImageBatchNorm2d`) defers its
    running-statistics updates to :func:`bench.nets.norm.sync_running_statistics`. In one process both are
    what they were (the deferred updates are applied locally by the same call).
    """
    for m in module.modules():
        if isinstance(m, PerImageBatchNorm2d):
            m.defer_statistics()
    _global_batchnorm(module)
    return module


def _global_batchnorm(module: nn.Module) -> None:
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
            _global_batchnorm(child)
