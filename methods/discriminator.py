"""Discriminator-Loss: a CNN tells same-image from other-image pairs in the joint pairwise space."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapperDict
from torch import nn
from torch.func import functional_call

from bench.metadata import MethodInfo
from bench.method.base import TrainingViews, runner_epoch
from bench.method.crosstask import FILM_SPACE, JointMappingMethod
from bench.method.probe import negatives_probe
from bench.nets.segnet import init_weights
from bench.registry import register_method, register_method_variant
from bench.tasks import Task
from methods.contrastive import map_with_negatives


class PairDiscriminator(nn.Module):
    """Small CNN on a concatenated pair of mapped outputs → logit of "same image".

    ``[2C, h, w]`` → 3×3 conv (2C→C) → LeakyReLU(0.2) → 3×3 conv (C→C/2) → LeakyReLU → global
    average pool → linear → 1. No batch norm: positives and negatives must be scored
    independently of how many of each a batch holds.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = max(4, channels // 2)
        self.body = nn.Sequential(
            nn.Conv2d(2 * channels, channels, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(channels, hidden, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(hidden, 1))
        init_weights(self)

    def forward(self, a: torch.Tensor, b: torch.Tensor,
                pair_of_row: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of the pairs (``a[i]``, ``b[i]``) ``[N]``; or, given ``pair_of_row``, of every
        (``a[pair_of_row[r], j]``, ``b[r]``) with ``a [P, B, C, h, w]``, ``b [R, C, h, w]``,
        ``[R, B]``.

        The second form computes the first convolution of the concatenated pair as the sum of its
        two halves, :math:`W * [a; b] + c = W_a * a + (W_b * b + c)`, each half once per distinct
        input (``P·B`` sources, ``R`` targets) instead of once per pair (``R·B``).
        """
        if pair_of_row is None:
            return self.body(torch.cat([a, b], dim=1)).squeeze(1)
        first = self.body[0]
        c = b.shape[1]
        p, n_img = a.shape[:2]
        half_a = F.conv2d(a.flatten(0, 1), first.weight[:, :c], None, first.stride,
                          first.padding)
        half_b = F.conv2d(b, first.weight[:, c:], first.bias, first.stride, first.padding)
        hidden = half_a.view(p, n_img, *half_a.shape[1:])[pair_of_row] + half_b[:, None]
        return self.body[1:](hidden.flatten(0, 1)).squeeze(1).view(b.shape[0], n_img)


def pair_logits(disc: nn.Module, target: torch.Tensor, sources: torch.Tensor,
                pair_of_row: torch.Tensor,
                params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Logits ``[R, B]`` of D on (``sources[pair_of_row[r], j]``, ``target[r]``) for every row
    and image (``sources`` per distinct pair, :func:`~methods.contrastive.map_with_negatives`)."""
    args = (sources, target, pair_of_row)
    return functional_call(disc, params, args) if params is not None else disc(*args)


def pair_bce(logits: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """Per row: BCE of the positive (image n: label 1) + mean BCE of the negatives (label 0)."""
    r, b = logits.shape
    labels = torch.zeros_like(logits).scatter_(1, n[:, None], 1.0)
    bce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    pos = bce.gather(1, n[:, None]).squeeze(1)
    if b < 2:
        return pos
    neg = (bce.sum(1) - pos) / (b - 1)
    return pos + neg


SEARCH_SPACE = {**FILM_SPACE, "optim.discriminator.optimizer.lr": {
    "type": "float", "low": 1e-5, "high": 1e-3, "log": True}}


@register_method("discriminator", MethodInfo(
    summary="", display="Discriminator-Loss", short="Discrim.", paper_name="Discriminator-Loss",
    family="discriminator", colour="#8c564b", order=60, sets=("power",),
    search_space=SEARCH_SPACE))
class DiscriminatorLoss(JointMappingMethod):
    """Discriminator-Loss: a same-image pair discriminator and the network updated alternately.

    Rows and pairs as in ``contrastive``: positive = (:math:`m^{s\\to st}(\\hat y^s_n)`,
    :math:`m^{t\\to st}(y^t_n)`), negatives = (:math:`m^{s\\to st}(\\hat y^s_j)`,
    :math:`m^{t\\to st}(y^t_n)`), :math:`j \\ne n`. Per row,
    :math:`b_r(D) = \\mathrm{BCE}(D(\\text{pos}), 1)
    + \\frac{1}{B-1}\\sum_j \\mathrm{BCE}(D(\\text{neg}_j), 0)`.
    Each training step alternates:

    1. discriminator step: minimise :math:`\\frac1R\\sum_r b_r(D)` over D's parameters only, on
       detached mapped outputs;
    2. generator step: minimise :math:`\\mathcal L_{\\text{Eq.1}} + \\lambda \\frac1B \\sum_r b_r(D)`
       over the network and the mappings (FiLM included), with D frozen (its parameters enter
       as constants, so this step neither computes nor applies gradients to them).

    The run's weighting applies to step 2 (the network's supervised task losses); D's step is
    its own objective, never weighted.

    Choices the paper leaves open: the objective is cooperative (the network is rewarded when D
    can tell its image's pair from other images', the learned-critic counterpart of
    ``contrastive``; an adversarial sign would reward inconsistent predictions), one D step per
    network step, D = :class:`PairDiscriminator` with Adam (lr 1e-4, β = (0.5, 0.999)),
    :math:`\\lambda = 2`, the conditional mapping and second view of ``xtc``.
    """

    def __init__(self, tasks: Sequence[Task], **kwargs: Any) -> None:
        super().__init__(tasks, **kwargs)
        self.discriminator = PairDiscriminator(self.mapping.out_channels)
        #: set during :meth:`train_step`: the generator loss is then computed once, after D's step
        self._in_train_step = False
        #: the collapse probe of the step's pairs (:func:`bench.method.probe.negatives_probe`)
        self._probe: dict[str, torch.Tensor] = {}

    @classmethod
    def optim_group_defaults(cls, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
        groups = dict(super().optim_group_defaults(options))
        groups["discriminator"] = {"optimizer": {"type": "Adam", "lr": 1e-4, "betas": [0.5, 0.999]},
                                   "scheduler": None}
        return groups

    def optim_groups(self) -> dict[str, list[nn.Parameter]]:
        disc = {id(p) for p in self.discriminator.parameters()}
        groups = super().optim_groups()
        groups["net"] = [p for p in groups["net"] if id(p) not in disc]
        groups["discriminator"] = list(self.discriminator.parameters())
        return groups

    # the generator loss of step 2 (also what ``loss`` returns, e.g. for evaluation of the loss)
    def extra_losses(self, views: TrainingViews) -> dict[str, torch.Tensor]:
        n, s, t, m = self.consistency_rows(views.mask)
        if n.numel() == 0:
            self._pairs = None
            return {}
        b = views.batch_size
        v = views.second
        labels = self.target_labels(v, views.mask).labels
        target, sources, pair_of_row = map_with_negatives(self.mapping, self.tasks, v.preds,
                                                          labels, n, s, t, b, m)
        self._probe = negatives_probe(target, sources, pair_of_row, n)
        # kept for the discriminator step of this iteration
        self._pairs = (target, sources, pair_of_row, n, s)
        if self._in_train_step:
            return {}  # train_step scores the pairs against the updated D (step 2)
        frozen = {k: v.detach() for k, v in self.discriminator.named_parameters()}
        rows = pair_bce(pair_logits(self.discriminator, target, sources, pair_of_row, frozen), n)
        return {"loss_disc_gen": self.con_weight * self.reduce_rows(rows, n, s, b), **self._probe}

    def discriminator_loss(self, target: torch.Tensor, sources: torch.Tensor,
                           pair_of_row: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        """Step 1 objective, on detached mapped outputs."""
        logits = pair_logits(self.discriminator, target.detach(), sources.detach(), pair_of_row)
        return pair_bce(logits, n).mean()

    def train_step(self, data: Any, optim_wrapper: Any) -> dict[str, torch.Tensor]:
        """Alternating step: D on this batch's pairs, then the network and mappings against D."""
        if not isinstance(optim_wrapper, OptimWrapperDict):
            raise TypeError("the discriminator method needs an OptimWrapperDict with its "
                            "net and discriminator groups")
        data = self.data_preprocessor(data, True)
        self._pairs = None
        self._probe = {}
        self.weighting.begin_step(runner_epoch())
        autocast = optim_wrapper["net"].optim_context  # autocast under train.amp
        self._in_train_step = True
        try:
            with autocast(self):
                losses = self._run_forward(data, mode="loss")
        finally:
            self._in_train_step = False
        log: dict[str, torch.Tensor] = {}
        if self._pairs is not None:
            # step 1: D, on detached pairs (D's gradients come from this loss alone)
            target, sources, pair_of_row, n, s = self._pairs
            with autocast(self):
                d_loss = self.discriminator_loss(target, sources, pair_of_row, n)
            optim_wrapper["discriminator"].update_params(d_loss)
            log["disc_loss"] = d_loss.detach()
            log.update(self._probe)
            # step 2 is taken against the updated D, whose parameters enter as constants
            frozen = {k: v.detach() for k, v in self.discriminator.named_parameters()}
            with autocast(self):
                rows = pair_bce(pair_logits(self.discriminator, target, sources, pair_of_row,
                                            frozen), n)
            losses["loss_disc_gen"] = self.con_weight * self.reduce_rows(
                rows, n, s, data["label_mask"].shape[0])
        # step 2: network + mappings (+ FiLM) through the weighting; D gets no gradient here
        log_vars = self.update(losses, [w for name, w in optim_wrapper.items()
                                        if name != "discriminator"])
        self._pairs = None
        return {**log_vars, **log}


register_method_variant("discriminator-shuffled", DiscriminatorLoss, MethodInfo(
    summary="Negative control of Discriminator-Loss: each anchor label comes from another image",
    display="Discriminator-Loss (shuffled pairs)", short="Discrim. shuffled",
    family="discriminator", colour="#C4A49C", order=61, in_all=False, sets=("controls",),
    control_of="discriminator", search_space=SEARCH_SPACE), shuffle_targets=True)
