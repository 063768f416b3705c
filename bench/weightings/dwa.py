"""Dynamic Weight Average (Liu, Johns, Davison, CVPR 2019: MTAN)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bench.metadata import WeightingInfo
from bench.registry import register_weighting
from bench.weightings.base import Weighting
from bench.weightings.losses import TaskLosses


def dwa_weights(previous: torch.Tensor, before: torch.Tensor, present: torch.Tensor,
                temperature: float) -> torch.Tensor:
    """DWA's weights ``[K]`` from two epochs' mean losses (0 for absent tasks).

    :math:`r_t = \\bar L_t(e-1) / \\bar L_t(e-2)`, :math:`w_t = K' \\exp(r_t/T) /
    \\sum_{j \\in P} \\exp(r_j/T)` over the tasks :math:`P` present in the batch
    (:math:`K' = |P|`; with every task present this is MTAN's :math:`K\\,\\mathrm{softmax}(r/T)`).
    A task without a loss in one of the two epochs gets :math:`r_t = 1`.
    """
    ratio = previous / before
    ratio = torch.where(torch.isfinite(ratio) & (before > 0), ratio, torch.ones_like(ratio))
    logits = torch.where(present, ratio / temperature, torch.full_like(ratio, -torch.inf))
    weights = torch.softmax(logits, 0) * present.sum()
    return torch.where(present, weights, torch.zeros_like(weights))


@register_weighting("dwa", WeightingInfo(
    summary="Dynamic Weight Average: weights from the rate of change of each task's loss, "
            "T = 2 (Liu et al. 2019)", display="DWA", paper_name="DWA", colour="#009E73",
    order=20))
class DynamicWeightAverage(Weighting):
    """Dynamic Weight Average (Liu et al. 2019), temperature :math:`T = 2`:

    .. math::
        w_t(e) = K \\frac{\\exp(r_t(e-1)/T)}{\\sum_j \\exp(r_j(e-1)/T)}, \\qquad
        r_t(e-1) = \\frac{\\bar L_t(e-1)}{\\bar L_t(e-2)}, \\qquad
        \\mathcal L = \\sum_t w_t(e)\\, \\ell_t,

    with :math:`\\bar L_t(e)` the mean training loss of task :math:`t` over epoch :math:`e` and
    :math:`w_t = 1` in the first two epochs (MTAN's ``--weight dwa``). Partial labels:
    :math:`\\bar L_t(e)` is the mean over the images labelled for :math:`t` in that epoch, and the
    weights are spread over the tasks present in the batch (:func:`dwa_weights`), so an
    unlabelled task has no weight. The epoch sums and the two last epoch means are buffers
    (saved in checkpoints); the epoch comes from the runner (:meth:`begin_step`).
    """

    @dataclass(frozen=True)
    class Options(Weighting.Options):
        temperature: float = 2.0

    def __init__(self, num_tasks: int, reduction: str = "official",
                 task_names: tuple[str, ...] = (), **options: Any) -> None:
        super().__init__(num_tasks, reduction, task_names, **options)
        temperature = self.options.temperature
        if temperature <= 0:
            raise ValueError(f"DWA temperature must be positive, got {temperature}")
        self.temperature = float(temperature)
        self.register_buffer("epoch", torch.tensor(-1, dtype=torch.long))
        self.register_buffer("completed", torch.tensor(0, dtype=torch.long))
        self.register_buffer("epoch_sum", torch.zeros(num_tasks, dtype=torch.float64))
        self.register_buffer("epoch_count", torch.zeros(num_tasks, dtype=torch.float64))
        self.register_buffer("history", torch.zeros(2, num_tasks, dtype=torch.float64))

    def begin_step(self, epoch: int | None) -> None:
        """A new epoch closes the previous one: its mean losses enter the history."""
        if epoch is None or int(epoch) == int(self.epoch):
            return
        if int(self.epoch) >= 0:
            mean = self.epoch_sum / self.epoch_count.clamp_min(1)
            mean = torch.where(self.epoch_count > 0, mean, torch.full_like(mean, torch.nan))
            self.history.copy_(torch.stack([self.history[1], mean]))
            self.completed += 1
            self.epoch_sum.zero_()
            self.epoch_count.zero_()
        self.epoch.fill_(int(epoch))

    def current_weights(self, present: torch.Tensor) -> torch.Tensor:
        """This epoch's weights for the tasks ``present`` in the batch."""
        if int(self.completed) < 2:
            return present.to(torch.float64)
        return dwa_weights(self.history[1], self.history[0], present, self.temperature)

    def loss(self, losses: TaskLosses, net: nn.Module) -> torch.Tensor:
        counts = losses.label_counts().to(torch.float64)
        self.epoch_sum += losses.per_label().to(torch.float64) * counts
        self.epoch_count += counts
        weights = self.current_weights(losses.present).to(losses.matrix.dtype)
        self.remember(weights)
        return losses.weighted(weights)
