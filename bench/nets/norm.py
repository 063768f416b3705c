"""Per-image batch normalisation for networks that the official code runs one image at a time.

The official MTPSL code calls its mapping network once per (image, task pair), so its batch-norm
layers always see a batch of one: each image is normalised with its own statistics. To batch all
(image, pair) rows into one call without changing the maths, :class:`PerImageBatchNorm2d`
normalises each row with its own spatial statistics in training mode
(:math:`\\hat x = \\gamma (x - \\mu_r) / \\sqrt{\\sigma_r^2 + \\epsilon} + \\beta`, per row r and channel)
and with the running statistics in eval mode. Its parameters and buffers are those of
``nn.BatchNorm2d`` (same names, so official checkpoints load); the running statistics are updated
with the mean of the rows' statistics (the official code updates them once per call instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


class PerImageBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training-mode statistics are computed per image (row) of the batch."""

    #: while :func:`one_statistics_update` is active: (rows, mean of their means, mean of their
    #: variances) of every call, applied to the running statistics once at its end
    _pending: list[tuple[int, torch.Tensor, torch.Tensor]] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        if self._pending is not None:
            mean, var = torch.zeros_like(self.running_mean), torch.zeros_like(self.running_var)
            out = F.instance_norm(x, mean, var, self.weight, self.bias, use_input_stats=True,
                                  momentum=1.0, eps=self.eps)  # mean, var ← the rows' means
            self._pending.append((x.shape[0], mean, var))
            return out
        if self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                               use_input_stats=True, momentum=self.momentum or 0.1, eps=self.eps)

    def _apply_pending(self, pending: list[tuple[int, torch.Tensor, torch.Tensor]]) -> None:
        if not pending:
            return
        rows = sum(n for n, _, _ in pending)
        mean = sum(m * (n / rows) for n, m, _ in pending)
        var = sum(v * (n / rows) for n, _, v in pending)
        momentum = self.momentum or 0.1
        with torch.no_grad():
            self.running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
            self.running_var.mul_(1 - momentum).add_(var, alpha=momentum)
            if self.num_batches_tracked is not None:
                self.num_batches_tracked.add_(1)


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
