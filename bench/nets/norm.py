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

import torch
import torch.nn.functional as F
from torch import nn


class PerImageBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training-mode statistics are computed per image (row) of the batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        if self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                               use_input_stats=True, momentum=self.momentum or 0.1, eps=self.eps)
