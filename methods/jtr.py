"""JTR: Joint-Task Regularization in one joint-task latent space (Nishi et al., CVPR 2024).

Where the pair methods (XTC, Direct-Map, …) map every task pair into its own space, JTR encodes
*all* tasks of an image at once: one encoder-decoder :math:`(E, D)` takes the channel-wise
concatenation of every task's map, so its cost is linear in the number of tasks. The prediction
stack :math:`\\hat Y_n` and the stack :math:`Y_n` in which each labelled task's prediction is
replaced by its label are pulled together in the latent space of :math:`E`, and a
reconstruction term keeps :math:`E` from collapsing onto a constant.

Facts of the public code (github.com/KentoNishi/JTR-CVPR-2024, read for facts, file:line of
``code/``) that the paper leaves open, all followed here:

* the network (``models/nyuv2_segnet_jtr.py:19-142``): SegNet encoder-decoder, filters
  64-128-256-512-512, input and output channels the sum of the tasks' channels, output head
  3×3 conv + 1×1 conv (``:61-71``); Xavier-normal init (``:79-89``); the latent is the last
  *pooled* encoder map (``:122``, :math:`H/32`); here the stages follow ``model.stages``;
* every JTR call sees one image (the loss is computed per image, ``train_nyuv2.py:133-175``), so
  its batch norms normalise each image with its own statistics: here
  :class:`~bench.nets.norm.PerImageBatchNorm2d` on the batched call (the same maths);
* encodings (``utils/process.py:5-81``): segmentation prediction a hard Gumbel-softmax sample
  (τ = 1, straight-through) times the mask, except in :math:`\\hat Y` of the second view, a
  softmax (``nyuv2_segnet_jtr.py:212``); segmentation label one-hot; depth
  :math:`\\Phi(d\\cdot m)` with :math:`\\Phi` the CDF of :math:`\\mathcal N(2.3618, 1.5876^2)`
  (``process.py:5-12, 23-24, 75-77``, for Cityscapes too); normals :math:`(n\\cdot m+1)/2`,
  label :math:`(n+1)/2`. Other tasks (PASCAL-Context's saliency, edges: not in the public code)
  use the harness's :meth:`~bench.tasks.Task.encode_prediction` times the mask and
  :meth:`~bench.tasks.Task.encode_label`;
* the mask :math:`m` is the intersection of the valid pixels of the image's labelled tasks
  (``process.py:47-55``);
* stop-gradients (``nyuv2_segnet_jtr.py:160-173, 239-244``; ``process.py:84-86``): labelled
  tasks' predictions are detached; the first view's distance goes through a *copy* of the JTR
  network whose parameters are not optimised (gradient only to the unlabelled predictions,
  here a call with detached parameters and cloned buffers); the second view's inputs are
  detached (its distance and reconstruction train the JTR network only); targets detached;
* three views per image (``datasets/nyuv2.py:121-123``): view 0 supervised, view 1 the
  distance through the copy, view 2 the JTR network's training. The harness has two: view 1 is
  the second random scale-crop (``views.second``), view 2 the main view (its inputs are detached,
  so it only trains the JTR network);
* weights (``utils/cli.py:16-18``): :math:`\\lambda_d = 4` (``--dist-mtl-weight``),
  :math:`\\lambda_r = 2` (``--recon-weight``), which is also the weight of the second view's
  distance (``train_nyuv2.py:174``); both terms are averaged over the batch
  (``train_nyuv2.py:177-181``); one Adam (lr 1e-4) over the MTL and JTR networks,
  StepLR(200, 0.5), 400 epochs (``train_nyuv2.py:41-45``, ``cli.py:19-20``): here the JTR
  network has its own group ``jtr`` with that Adam and StepLR (Adam is per-parameter, so a group
  of its own is the same update), the MTL network follows the run's profile.

The loss, for images :math:`n = 1..B` with labelled tasks :math:`\\mathcal T_n`:

.. math::
    \\mathcal L = \\mathcal L_{\\text{Eq.1}} + \\frac1B\\sum_n \\lambda_d\\big[
        D(\\bar E(Y^1_n), \\bar E(\\hat Y^1_n)) + \\lambda_r D(E(Y^2_n), E(\\hat Y^2_n))\\big]
        + \\lambda_r \\sum_{t} \\big[\\rho_t(D_t(Y^2_n), y^{2,t}_n)
                                     + \\rho_t(D_t(\\hat Y^2_n), \\hat\\eta^{2,t}_n)\\big]

with :math:`D(a, b) = 1 - \\mathrm{mean}_p \\cos(a_p, b_p)` (cosine over channels),
:math:`\\bar E` the encoder with parameters detached, :math:`D_t` the output channels of task
:math:`t`, and the reconstruction losses of ``process.py:89-111`` (all normalised by the number of
non-zero target entries :math:`|y|_0`, not pixels):

* segmentation :math:`\\rho = \\sum_p m_p\\,\\mathrm{BCE}(r_p, y_p) / |y|_0` (logits);
* depth :math:`\\rho = \\sum_p m_p|\\sigma'(r_p) - \\Phi(y_p)| / |y|_0`,
  :math:`\\sigma' = (\\sigma - ½)(1 - 10^{-5}) + ½`;
* normals :math:`\\rho = 1 - \\sum_p m_p (r_p/\\lVert r_p\\rVert)\\cdot y_p / |y|_0`;
* other tasks (the harness's): the segmentation form on the encoded target.

The targets :math:`y^{2,t}` are the label (segmentation one-hot; depth and normals *raw*) or, for
an unlabelled task, the prediction (a fresh Gumbel sample; raw depth, raw normals); the targets
:math:`\\hat\\eta^{2,t}` are the encoded prediction (a fresh Gumbel sample, :math:`\\Phi(d\\cdot m)`,
:math:`(n\\cdot m + 1)/2`), so depth is transformed twice there (``nyuv2_segnet_jtr.py:282-290``):
the public code's choices, kept. The negative control ``jtr-shuffled`` substitutes each
labelled task's label of another image labelled for it (its mask too), everything else equal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.func import functional_call

from bench.metadata import MethodInfo
from bench.method.base import TrainingViews, View
from bench.method.crosstask import CONSISTENCY_SPACE, CrossTaskMethod
from bench.method.probe import joint_probe
from bench.nets.norm import PerImageBatchNorm2d
from bench.nets.segnet import SegNet
from bench.registry import register_method, register_method_variant
from bench.tasks import Task
from bench.tasks.depth import DepthTask
from bench.tasks.normal import NormalTask
from bench.tasks.semantic import SemanticTask

#: mean and standard deviation of the normal CDF that encodes depth (``utils/process.py:5-6``)
DEPTH_MEAN, DEPTH_STD = 2.3618, 1.5876


def depth_cdf(x: torch.Tensor) -> torch.Tensor:
    """:math:`\\Phi((x - 2.3618) / 1.5876)`, the public code's depth encoding."""
    return 0.5 * (1.0 + torch.erf((x - DEPTH_MEAN) / (DEPTH_STD * math.sqrt(2.0))))


class _JointSpace:
    """The one 'task' of the JTR network's head: every task's channels stacked, no activation."""

    name = "joint"

    def __init__(self, channels: int) -> None:
        self.channels = channels

    @staticmethod
    def activate(raw: torch.Tensor) -> torch.Tensor:
        return raw


class JointTaskNetwork(SegNet):
    """The JTR encoder-decoder: a SegNet from the stacked task maps to themselves.

    ``forward(y) → (latent, reconstruction)``: the last pooled encoder map and the output head's
    maps (logits, same channels as ``y``); ``decode=False`` stops after the encoder.
    """

    def __init__(self, channels: int, width: float = 1.0, stages: int = 5) -> None:
        super().__init__([_JointSpace(channels)], width=width,  # type: ignore[list-item]
                         in_channels=channels, norm=PerImageBatchNorm2d, stages=stages)
        del self.logsigma  # SegNet's uncertainty weights: no task weighting here

    def forward(self, y: torch.Tensor, decode: bool = True  # type: ignore[override]
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        feature, indices = self.encode(y)
        if not decode:
            return feature, None
        z = feature
        for i in range(len(indices)):
            z = self.up_sampling(z, indices[-i - 1])
            z = self.conv_block_dec[-i - 1](self.decoder_block[-i - 1](z))
        return feature, self.head(0)(z)


def encode_prediction(task: Task, pred: torch.Tensor, mask: torch.Tensor,
                      hard: bool = True) -> torch.Tensor:
    """A prediction as JTR input, masked by ``mask`` ``[B, H, W]`` (``process.py:19-28``)."""
    m = mask[:, None].to(pred.dtype)
    if isinstance(task, SemanticTask):
        return (task.encode_prediction(pred) if hard else F.softmax(pred, dim=1)) * m
    if isinstance(task, DepthTask):
        return depth_cdf(pred * m)
    if isinstance(task, NormalTask):
        return (pred * m + 1.0) / 2.0
    return task.encode_prediction(pred) * m


def encode_label(task: Task, label: torch.Tensor) -> torch.Tensor:
    """A label as JTR input (``process.py:65-81``): one-hot, :math:`\\Phi(d)`, :math:`(n+1)/2`."""
    if isinstance(task, SemanticTask):
        return task.encode_label(label)
    if isinstance(task, DepthTask):
        return depth_cdf(label * task.valid_mask(label)[:, None])
    if isinstance(task, NormalTask):
        return (label + 1.0) / 2.0
    return task.encode_label(label).to(torch.float32)


def reconstruction_target(task: Task, value: torch.Tensor, is_label: bool,
                          mask: torch.Tensor) -> torch.Tensor:
    """What :math:`D_t(Y)` reconstructs (``nyuv2_segnet_jtr.py:258-276``): raw depth and normals
    (label or prediction), otherwise the encoded label or prediction (a fresh sample)."""
    if isinstance(task, DepthTask | NormalTask):
        return value
    return encode_label(task, value) if is_label else encode_prediction(task, value, mask)


def reconstruction_loss(task: Task, recon: torch.Tensor, target: torch.Tensor,
                        mask: torch.Tensor) -> torch.Tensor:
    """Per image ``[B]``: task ``task``'s reconstruction loss (``process.py:84-111``)."""
    target = target.detach()
    m = mask[:, None].to(recon.dtype)
    size = (target != 0).flatten(1).sum(1).clamp_min(1).to(recon.dtype)
    if isinstance(task, DepthTask):
        r = (torch.sigmoid(recon) - 0.5) * (1 - 1e-5) + 0.5
        return ((r - depth_cdf(target)).abs() * m).flatten(1).sum(1) / size
    if isinstance(task, NormalTask):
        unit = recon / recon.norm(p=2, dim=1, keepdim=True)
        return 1.0 - (unit * target * m).flatten(1).sum(1) / size
    bce = F.binary_cross_entropy_with_logits(recon, target.to(recon.dtype), reduction="none")
    return (bce * m).flatten(1).sum(1) / size


def latent_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per image: :math:`1 - \\mathrm{mean}_p \\cos(a_p, b_p)` (``nyuv2_segnet_jtr.py:252-256``)."""
    return 1.0 - F.cosine_similarity(a, b, dim=1, eps=1e-12).flatten(1).mean(1)


JTR_SPACE = {**CONSISTENCY_SPACE,
             "con_weight": {"type": "float", "low": 0.25, "high": 16.0, "log": True},
             "recon_weight": {"type": "float", "low": 0.1, "high": 8.0, "log": True}}
JTR_INFO = MethodInfo(
    summary="Joint-Task Regularization (Nishi et al., CVPR 2024): predictions and "
            "label-substituted predictions of all tasks pulled together in one joint latent "
            "space, with a reconstruction term",
    display="Joint-Task Regularization (JTR)", short="JTR", paper_name="JTR", family="jtr",
    colour="#117733", order=80, sets=("power",), search_space=JTR_SPACE)


@dataclass
class _Stacks:
    """The stacked JTR inputs of one view and what the reconstruction compares them with."""

    y: torch.Tensor  # label-substituted stack [B, ΣC, H, W]
    y_hat: torch.Tensor  # prediction stack
    mask: torch.Tensor  # [B, H, W]
    y_targets: list[torch.Tensor]  # per task: the target of D_t(Y)
    y_hat_targets: list[torch.Tensor]  # per task: the target of D_t(Ŷ)


@register_method("jtr", JTR_INFO)
class JointTaskRegularization(CrossTaskMethod):
    """JTR: one joint-task encoder-decoder for all tasks (equations in the module docstring).

    ``con_weight`` is :math:`\\lambda_d` (4), ``recon_weight`` :math:`\\lambda_r` (2, also the
    weight of the second view's distance), as in the public code; both are scaled by the
    ramp-up (``rampup_epochs``, none by default as in the public code).
    """

    jtr_defaults: dict[str, Any] = {
        "optimizer": {"type": "Adam", "lr": 1e-4},
        "scheduler": {"type": "StepLR", "step_size": 200, "gamma": 0.5},
    }

    @dataclass(frozen=True)
    class Options(CrossTaskMethod.Options):
        #: λ_d of the latent distance (``--dist-mtl-weight``)
        con_weight: float = 4.0
        #: λ_r of the reconstruction and of the second view's distance (``--recon-weight``)
        recon_weight: float = 2.0

    def __init__(self, tasks: Sequence[Task], **kwargs: Any) -> None:
        super().__init__(tasks, **kwargs)
        self.channel_dims = [t.channels for t in self.tasks]
        self.jtr = JointTaskNetwork(sum(self.channel_dims), self.width,
                                    self.architecture.segnet_stages)

    @classmethod
    def optim_group_defaults(cls, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {"jtr": cls.jtr_defaults}

    def optim_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        own = {id(p) for p in self.jtr.parameters()}
        return {"net": [p for p in self.parameters() if p.requires_grad and id(p) not in own],
                "jtr": [p for p in self.jtr.parameters() if p.requires_grad]}

    @property
    def recon_weight(self) -> float:
        """:math:`\\lambda_r`, times the ramp-up factor."""
        return float(self.options.recon_weight) * self.consistency_scale

    # -- the term ---------------------------------------------------------------------------------
    def substitutes(self, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(use [B], source [B, K])``: per image and task, the image whose label is substituted
        (the image itself; for the negative control another image labelled for the task, or a
        banked label, :meth:`target_images`); ``use`` is False for an image of the control's
        first step with a labelled task that finds neither."""
        b, k = mask.shape
        n, t = mask.nonzero(as_tuple=True)
        keep, m = self.target_images(n, t, mask)
        source = torch.arange(b, device=mask.device)[:, None].expand(b, k).clone()
        source[n, t] = m
        use = torch.ones(b, dtype=torch.bool, device=mask.device)
        use[n[~keep]] = False
        return use, source

    def stacks(self, view: View, mask: torch.Tensor, source: torch.Tensor, hard_hat: bool
               ) -> _Stacks:
        """:math:`Y`, :math:`\\hat Y` of one view, its mask and reconstruction targets."""
        labels = self.target_labels(view, mask).labels
        own = [labels[t.name][source[:, k]] for k, t in enumerate(self.tasks)]
        b = mask.shape[0]
        first = view.preds[self.tasks[0].name]
        valid = torch.ones((b, *first.shape[-2:]), dtype=torch.bool, device=first.device)
        for k, task in enumerate(self.tasks):
            valid = valid & (task.valid_mask(own[k]) | ~mask[:, k, None, None])
        y, y_hat, y_targets, y_hat_targets = [], [], [], []
        for k, task in enumerate(self.tasks):
            lab = mask[:, k].view(-1, 1, 1, 1)
            pred = torch.where(lab, view.preds[task.name].detach(), view.preds[task.name])
            y_hat.append(encode_prediction(task, pred, valid, hard=hard_hat))
            y.append(torch.where(lab, encode_label(task, own[k]).to(pred.dtype),
                                 encode_prediction(task, pred, valid)))
            y_targets.append(torch.where(
                lab, reconstruction_target(task, own[k], True, valid).to(pred.dtype),
                reconstruction_target(task, pred, False, valid)))
            y_hat_targets.append(encode_prediction(task, pred, valid))
        return _Stacks(torch.cat(y, 1), torch.cat(y_hat, 1), valid, y_targets, y_hat_targets)

    def frozen_encoder(self, x: torch.Tensor) -> torch.Tensor:
        """The latent of the JTR encoder with its parameters detached and its buffers copied
        (the public code's ``copy.deepcopy(self)``: gradient to the inputs only)."""
        state = {name: p.detach() for name, p in self.jtr.named_parameters()}
        state.update({name: b.clone() for name, b in self.jtr.named_buffers()})
        return functional_call(self.jtr, state, (x,), {"decode": False})[0]

    def jtr_terms(self, views: TrainingViews) -> dict[str, torch.Tensor]:
        """Per image ``[B]``: the latent distance ``dist`` and reconstruction ``recon`` (unweighted
        by λ_d, λ_r; the second view's distance weighted by λ_r inside ``dist``), the probe's
        latents, and which images enter (``use``)."""
        mask = views.mask
        b = mask.shape[0]
        use, source = self.substitutes(mask)
        first = self.stacks(views.second, mask, source, hard_hat=True)
        latent = self.frozen_encoder(torch.cat([first.y, first.y_hat]))
        dist_1 = latent_distance(latent[:b], latent[b:])
        second = self.stacks(views.main, mask, source, hard_hat=False)
        feature, recon = self.jtr(torch.cat([second.y, second.y_hat]).detach())
        assert recon is not None
        dist_2 = latent_distance(feature[:b], feature[b:])
        parts_y = torch.split(recon[:b], self.channel_dims, dim=1)
        parts_hat = torch.split(recon[b:], self.channel_dims, dim=1)
        rec = dist_1.new_zeros(b)
        for k, task in enumerate(self.tasks):
            rec = rec + reconstruction_loss(task, parts_y[k], second.y_targets[k], second.mask)
            rec = rec + reconstruction_loss(task, parts_hat[k], second.y_hat_targets[k],
                                            second.mask)
        w = float(self.options.recon_weight)
        return {"dist": dist_1 + w * dist_2, "dist_1": dist_1, "dist_2": dist_2, "recon": rec,
                "use": use, "latent_y": latent[:b], "latent_y_hat": latent[b:]}

    def extra_losses(self, views: TrainingViews) -> dict[str, torch.Tensor]:
        terms = self.jtr_terms(views)
        use = terms["use"].to(terms["dist"].dtype)
        b = views.batch_size
        dist = (terms["dist"] * use).sum() / b
        recon = (terms["recon"] * use).sum() / b
        rows = terms["use"].nonzero().squeeze(1)
        probe = joint_probe(terms["latent_y_hat"][rows], terms["latent_y"][rows],
                            torch.zeros_like(rows), rows) if rows.numel() > 1 else {}
        return {"loss_jtr": self.con_weight * dist + self.recon_weight * recon,
                "jtr_distance": terms["dist_1"].mean().detach(),
                "jtr_recon": terms["recon"].mean().detach(), **probe}


register_method_variant("jtr-shuffled", JointTaskRegularization, MethodInfo(
    summary="Negative control of JTR: each labelled task's substituted label comes from another "
            "image of the batch",
    display="JTR (shuffled labels)", short="JTR shuffled", family="jtr", colour="#B8DDC0",
    order=81, in_all=False, sets=("controls",), control_of="jtr", search_space=JTR_SPACE),
    shuffle_targets=True)
