"""GradNorm (Chen, Badrinarayanan, Lee, Rabinovich, ICML 2018)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bench.metadata import WeightingInfo
from bench.registry import register_weighting
from bench.weightings.base import Weighting
from bench.weightings.losses import TaskLosses
from bench.weightings.shared import flat_gradients, last_shared_parameters


def gradnorm_gradient(weights: torch.Tensor, norms: torch.Tensor, ratios: torch.Tensor,
                      alpha: float) -> torch.Tensor:
    """:math:`\\partial L_{\\text{grad}} / \\partial w` for the tasks of one step (all ``[m]``).

    ``norms`` are :math:`\\|\\nabla_W \\ell_t\\|`, so :math:`G_t = w_t \\|\\nabla_W \\ell_t\\|`;
    ``ratios`` are :math:`\\tilde L_t = \\ell_t(\\tau)/\\ell_t(0)`. With
    :math:`r_t = \\tilde L_t / \\mathrm{mean}_j \\tilde L_j`, the target
    :math:`c_t = \\bar G\\, r_t^{\\alpha}` held constant and
    :math:`L_{\\text{grad}} = \\sum_t |G_t - c_t|`:
    :math:`\\partial L_{\\text{grad}} / \\partial w_t = \\mathrm{sign}(G_t - c_t)\\,
    \\|\\nabla_W \\ell_t\\|`.
    """
    g = weights * norms
    target = g.mean() * (ratios / ratios.mean()) ** alpha
    return torch.sign(g - target) * norms


@register_weighting("gradnorm", WeightingInfo(
    summary="GradNorm: weights learned to balance the tasks' gradient norms at the last shared "
            "layer, alpha = 1.5 (Chen et al. 2018)", display="GradNorm", paper_name="GradNorm",
    colour="#CC79A7", order=30, task_gradients=True))
class GradNorm(Weighting):
    """GradNorm (Chen et al. 2018), asymmetry :math:`\\alpha = 1.5`.

    The network minimises :math:`\\mathcal L = \\sum_t w_t \\ell_t` with the current weights;
    then the weights take one step on

    .. math::
        L_{\\text{grad}} = \\sum_t \\big| G_t - \\bar G\\, r_t^{\\alpha} \\big|, \\quad
        G_t = \\|\\nabla_W w_t \\ell_t\\|_2, \\quad
        r_t = \\frac{\\tilde L_t}{\\mathrm{mean}_j \\tilde L_j}, \\quad
        \\tilde L_t = \\frac{\\ell_t(\\tau)}{\\ell_t(0)},

    (:func:`gradnorm_gradient`; :math:`\\bar G r_t^\\alpha` held constant), with Adam
    (``lr`` 0.025, β = (0.9, 0.999)), and are renormalised to :math:`\\sum_t w_t = K`.
    :math:`W` is the last shared layer (the shared decoder's last convolution).

    Partial labels: :math:`\\ell_t(\\tau)` is task t's mean loss over its labelled images
    (:meth:`TaskLosses.per_label`) and :math:`\\ell_t(0)` its value the first time the task had
    labels; only the tasks present in the batch enter :math:`L_{\\text{grad}}` and
    :math:`\\bar G`, and only their weights move. Weights, initial losses and Adam's moments are
    buffers (saved in checkpoints).
    """

    task_gradients = True

    @dataclass(frozen=True)
    class Options(Weighting.Options):
        alpha: float = 1.5
        lr: float = 0.025

    def __init__(self, num_tasks: int, reduction: str = "official",
                 task_names: tuple[str, ...] = (), **options: Any) -> None:
        super().__init__(num_tasks, reduction, task_names, **options)
        alpha, lr = self.options.alpha, self.options.lr
        if alpha < 0 or lr <= 0:
            raise ValueError(f"GradNorm needs alpha >= 0 and lr > 0, got alpha={alpha}, lr={lr}")
        self.alpha = float(alpha)
        self.lr = float(lr)
        self.register_buffer("weights", torch.ones(num_tasks))
        self.register_buffer("initial", torch.zeros(num_tasks))
        self.register_buffer("exp_avg", torch.zeros(num_tasks))
        self.register_buffer("exp_avg_sq", torch.zeros(num_tasks))
        self.register_buffer("steps", torch.zeros(num_tasks))

    def loss(self, losses: TaskLosses, net: nn.Module) -> torch.Tensor:
        weights = self.weights.to(losses.matrix.dtype) * losses.present
        self.remember(weights)
        return losses.weighted(weights)

    def backward(self, losses: TaskLosses, total: torch.Tensor, extra: torch.Tensor | None,
                 net: nn.Module, params: list[nn.Parameter]) -> None:
        present = losses.present_indices()
        layer = last_shared_parameters(net, "gradnorm")
        per_task = losses.per_task()
        norms = torch.stack([flat_gradients(per_task[k], layer).norm() for k in present]) \
            if present else None
        total.backward()
        if norms is not None:
            self.update(present, norms.detach(), losses.per_label())

    @torch.no_grad()
    def update(self, present: list[int], norms: torch.Tensor, levels: torch.Tensor) -> None:
        """One Adam step of the present tasks' weights on :math:`L_{\\text{grad}}`, renormalised."""
        idx = torch.tensor(present, dtype=torch.long, device=self.weights.device)
        levels = levels.to(self.weights)
        unset = self.initial[idx] <= 0
        self.initial[idx] = torch.where(unset, levels[idx], self.initial[idx])
        ratios = levels[idx] / self.initial[idx].clamp_min(1e-12)
        grad = gradnorm_gradient(self.weights[idx], norms.to(self.weights), ratios, self.alpha)
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        self.steps[idx] += 1
        self.exp_avg[idx] = beta1 * self.exp_avg[idx] + (1 - beta1) * grad
        self.exp_avg_sq[idx] = beta2 * self.exp_avg_sq[idx] + (1 - beta2) * grad * grad
        m_hat = self.exp_avg[idx] / (1 - beta1 ** self.steps[idx])
        v_hat = self.exp_avg_sq[idx] / (1 - beta2 ** self.steps[idx])
        self.weights[idx] = (self.weights[idx] - self.lr * m_hat / (v_hat.sqrt() + eps)).clamp_min(1e-3)
        self.weights.mul_(self.num_tasks / self.weights.sum())
