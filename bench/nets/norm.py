"""Per-image batch normalisation for networks that the official code runs one image at a time.

The official MTPSL code calls its mapping network once per (image, task pair), so its batch-norm
layers always see a batch of one: each image is normalised with its own statistics. To batch all
(image, pair) rows into one call without changing the maths, :class:`PerImageBatchNorm2d`
normalises each row with its own spatial statistics in training mode
(:math:`\\hat x = \\gamma (x - \\mu_r) / \\sqrt{\\sigma_r^2 + \\epsilon} + \\beta`, per row r and channel)
and with the running statistics in eval mode. Its parameters and buffers are those of
``nn.BatchNorm2d`` (same names, so official checkpoints load); the running statistics are updated
with the mean of the rows' statistics (the official code updates them once per call instead).

In a data-parallel run (:func:`bench.engine.distributed.convert_batchnorm`) each process maps only
its own rows, so a layer *defers* its updates (:meth:`PerImageBatchNorm2d.defer_statistics`): it
keeps the rows and statistics of each call of the step, and
:func:`sync_running_statistics` applies them at the end of the step with
the mean over the rows of every process (:func:`combine_statistics`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

#: the statistics of one call (or one :func:`one_statistics_update` block): its number of rows,
#: the mean of the rows' means and the mean of their (unbiased) variances, per channel
Statistics = tuple[int, torch.Tensor, torch.Tensor]


def combine_statistics(parts: list[Statistics]) -> Statistics:
    """The statistics of all rows of ``parts`` (the row-weighted mean of their means)."""
    rows = sum(n for n, _, _ in parts)
    mean = sum(m * (n / rows) for n, m, _ in parts)
    var = sum(v * (n / rows) for n, _, v in parts)
    return rows, mean, var  # type: ignore[return-value]


class PerImageBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training-mode statistics are computed per image (row) of the batch."""

    #: while :func:`one_statistics_update` is active: the statistics of every call, applied to
    #: the running statistics once at its end
    _pending: list[Statistics] | None = None
    #: in a data-parallel run (:meth:`defer_statistics`): the statistics of each call (each
    #: :func:`one_statistics_update` block) of the step, which
    #: :func:`sync_running_statistics` applies
    _deferred: list[Statistics] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        held = self._pending if self._pending is not None else self._deferred
        if held is not None:
            mean, var = torch.zeros_like(self.running_mean), torch.zeros_like(self.running_var)
            out = F.instance_norm(x, mean, var, self.weight, self.bias, use_input_stats=True,
                                  momentum=1.0, eps=self.eps)  # mean, var ← the rows' means
            held.append((x.shape[0], mean, var))
            return out
        if self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                               use_input_stats=True, momentum=self.momentum or 0.1, eps=self.eps)

    def defer_statistics(self) -> None:
        """Hold back the running-statistics updates until they are applied explicitly
        (:meth:`take_deferred`, :meth:`update_running_statistics`)."""
        if self._deferred is None:
            self._deferred = []

    @property
    def deferring(self) -> bool:
        """Whether its running-statistics updates are held back (:meth:`defer_statistics`)."""
        return self._deferred is not None

    def take_deferred(self) -> list[Statistics]:
        """The statistics of the calls since the last take (one entry per call), emptied."""
        calls = self._deferred or []
        if self._deferred is not None:
            self._deferred = []
        return calls

    def update_running_statistics(self, mean: torch.Tensor, var: torch.Tensor) -> None:
        """One momentum update of the running statistics with a call's ``mean`` and ``var``."""
        momentum = self.momentum or 0.1
        with torch.no_grad():
            self.running_mean.mul_(1 - momentum).add_(mean.to(self.running_mean.dtype),
                                                      alpha=momentum)
            self.running_var.mul_(1 - momentum).add_(var.to(self.running_var.dtype),
                                                     alpha=momentum)
            if self.num_batches_tracked is not None:
                self.num_batches_tracked.add_(1)

    def _apply_pending(self, pending: list[Statistics]) -> None:
        if not pending:
            return
        combined = combine_statistics(pending)
        if self._deferred is not None:
            self._deferred.append(combined)  # the block counts as one call
        else:
            self.update_running_statistics(combined[1], combined[2])


@contextmanager
def one_statistics_update(module: nn.Module) -> Iterator[None]:
    """Calls of ``module`` in the block (e.g. on chunks of one batch's rows) update the running
    statistics of its :class:`PerImageBatchNorm2d` layers once, at the end, with the mean over
    all their rows: what a single call on every row does."""
    norms = [m for m in module.modules() if isinstance(m, PerImageBatchNorm2d) and m.training]
    for m in norms:
        m._pending = []
    try:
        yield
    finally:
        for m in norms:
            pending, m._pending = m._pending, None
            m._apply_pending(pending)


def sync_running_statistics(module: nn.Module) -> None:
    """Apply the deferred running-statistics updates of the per-image batch norms of ``module``
    (:func:`bench.engine.distributed.convert_batchnorm`) with the rows of every process; a
    no-op without such layers.

    Every process must call it at the same point of every training step (collective). Per
    layer, the k-th call of the step on each process (the processes may make different numbers
    of calls, or none) forms one update with the mean of the statistics over all their rows,
    weighted by rows; slots without rows anywhere update nothing.
    """
    norms = [m for m in module.modules()
             if isinstance(m, PerImageBatchNorm2d) and m.deferring]
    if not norms:
        return
    calls = [m.take_deferred() for m in norms]
    size = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    device = norms[0].running_mean.device
    slots = torch.tensor([len(c) for c in calls], device=device)
    if size > 1:
        dist.all_reduce(slots, op=dist.ReduceOp.MAX)
    parts: list[torch.Tensor] = []
    for m, made, k in zip(norms, calls, slots.tolist(), strict=True):
        for i in range(k):
            if i < len(made):
                rows, mean, var = made[i]
                parts.append(torch.cat([mean.new_tensor([float(rows)]), mean * rows,
                                        var * rows]).to(device, torch.float64))
            else:
                parts.append(torch.zeros(1 + 2 * m.num_features, device=device,
                                         dtype=torch.float64))
    if not parts:
        return
    flat = torch.cat(parts)
    if size > 1:
        dist.all_reduce(flat)
    host = flat.cpu()  # one device synchronisation for the row counts
    offset = 0
    for m, k in zip(norms, slots.tolist(), strict=True):
        c = m.num_features
        for _ in range(k):
            rows = float(host[offset])
            if rows > 0:
                m.update_running_statistics(flat[offset + 1:offset + 1 + c] / rows,
                                            flat[offset + 1 + c:offset + 1 + 2 * c] / rows)
            offset += 1 + 2 * c
