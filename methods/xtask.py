"""X-task: cross-task consistency through pre-trained, frozen mappings (Zamir et al. 2020)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from bench.metadata import MethodInfo
from bench.method.base import PartialLabelMethod, TrainingViews, runner_epoch
from bench.method.crosstask import reduce_rows
from bench.nets.pairwise import PairwiseMaps
from bench.registry import register_method
from bench.tasks import Task


def runner_max_epochs() -> int | None:
    """The number of epochs of the running mmengine loop (None outside a runner)."""
    from mmengine.logging import MessageHub

    value = MessageHub.get_current_instance().get_info("max_epochs")
    return None if value is None else int(value)


@register_method("xtask", MethodInfo(
    summary="X-task: perceptual consistency through cross-task mappings pre-trained on label "
            "pairs, then frozen (Zamir et al. 2020; Table 5, full labels)",
    display="X-task", short="X-task", paper_name="X-task", family="xtask", colour="#AA4499",
    order=23, in_all=False, in_partial=False, in_full=True))
class CrossTaskPerceptual(PartialLabelMethod):
    """X-task (Zamir et al. 2020, "Robust learning through cross-task consistency"), as the paper
    runs it in Table 5 (full labels).

    One mapping :math:`m^{s\\to t}` per ordered task pair (a whole SegNet, as for Perceptual-Map).
    The paper says X-task "regularizes cross-task consistency by learning perceptual loss with
    pre-trained cross-task mapping functions"; its supplement (how the mappings were obtained) is
    not available here, so the harness follows Zamir et al.: the mappings are learned from
    ground truth alone, then frozen. One run has two phases (the network trains in both, so it
    gets as many epochs as every other row of the table):

    1. the first ``pretrain_fraction`` of the epochs (⌈0.25 E⌉): each mapping is trained on the
       label pairs, :math:`L^t(m^{s\\to t}(y^s), y^t)` on the images labelled for both s and t;
       the network trains on the supervised loss alone;
    2. the rest: the mappings are frozen (constants, no update) and the network minimises

    .. math::
        \\mathcal L = \\mathcal L_{\\text{Eq.1}} + \\lambda \\frac1B \\sum_{(s,t)}
        \\sum_{n:\\, s \\in \\mathcal T_n}
        D^t\\big(m^{s\\to t}(\\hat y^s_n),\\ m^{s\\to t}(y^s_n)\\big),

    Zamir et al.'s perceptual consistency, :math:`D^t` task t's distance between predictions
    (soft cross-entropy, L1, 1 − cos), :math:`\\lambda = 1` (their direct and perceptual terms
    weigh the same). The terms are computed on the second scale-crop view, like the other
    cross-task methods. Outside a training loop (``bench perf``) the step is phase 2's.
    With partial labels the mappings see only images with both labels of their pair (none in
    the one-label regime), which is why the default grid runs X-task with full labels only.
    """

    needs_second_view = True

    @dataclass(frozen=True)
    class Options(PartialLabelMethod.Options):
        #: λ of the perceptual term
        con_weight: float = 1.0
        #: share of the epochs in which the mappings learn from label pairs (phase 1)
        pretrain_fraction: float = 0.25

    def __init__(self, tasks: Sequence[Task], **kwargs: Any) -> None:
        super().__init__(tasks, **kwargs)
        pretrain_fraction = self.options.pretrain_fraction
        if not 0.0 <= pretrain_fraction < 1.0:
            raise ValueError(f"pretrain_fraction must be in [0, 1), got {pretrain_fraction}")
        self.pretrain_fraction = float(pretrain_fraction)
        self.con_weight = float(self.options.con_weight)
        self.maps = PairwiseMaps(self.tasks, self.width, self.architecture)

    def reduce_rows(self, values: torch.Tensor, n: torch.Tensor, s: torch.Tensor,
                    batch: int) -> torch.Tensor:
        """:func:`~bench.method.crosstask.reduce_rows` with this method's loss reduction."""
        return reduce_rows(values, n, s, batch, self.reduction)

    def pretraining(self) -> bool:
        """Whether the current epoch is in phase 1 (the mappings learn from label pairs)."""
        epoch, total = runner_epoch(), runner_max_epochs()
        if epoch is None or total is None:
            return False
        return epoch < math.ceil(self.pretrain_fraction * total)

    def extra_losses(self, views: TrainingViews) -> dict[str, torch.Tensor]:
        if self.pretraining():
            return {"loss_map_pretrain": self.mapping_fit(views)}
        return {"loss_xtask": self.con_weight * self.perceptual(views)}

    def mapping_fit(self, views: TrainingViews) -> torch.Tensor:
        """Phase 1: :math:`L^t(m^{s\\to t}(y^s), y^t)` on images labelled for s and t."""
        mask, labels = views.mask, views.second.labels
        values, images, sources = [], [], []
        for i, j, s, t in self.maps.pairs():
            rows = (mask[:, i] & mask[:, j]).nonzero().squeeze(1)
            if rows.numel():
                mapped = self.maps.forward_pair(s, t, s.encode_label(labels[s.name][rows]))
                values.append(t.per_image_loss(mapped, labels[t.name][rows]))
                images.append(rows)
                sources.append(torch.full_like(rows, i))
        if not values:
            return mask.new_zeros((), dtype=torch.float32)
        return self.reduce_rows(torch.cat(values), torch.cat(images), torch.cat(sources),
                                views.batch_size)

    def perceptual(self, views: TrainingViews) -> torch.Tensor:
        """Phase 2: the perceptual term through the frozen mappings (the network's gradient)."""
        mask, preds, labels = views.mask, views.second.preds, views.second.labels
        values, images, sources = [], [], []
        for i, _, s, t in self.maps.pairs():
            rows = mask[:, i].nonzero().squeeze(1)
            if not rows.numel():
                continue
            r = rows.numel()
            both = torch.cat([s.encode_prediction(preds[s.name][rows]),
                              s.encode_label(labels[s.name][rows])])
            out = self.maps.forward_pair(s, t, both, self.maps.frozen(s, t))
            values.append(t.prediction_distance(out[:r], out[r:].detach()).flatten(1).mean(1))
            images.append(rows)
            sources.append(torch.full_like(rows, i))
        if not values:
            return preds[self.tasks[0].name].new_zeros(())
        return self.reduce_rows(torch.cat(values), torch.cat(images), torch.cat(sources),
                                views.batch_size)
